package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/osirisgo/osiris/internal/mcpserver/fakecli"
)

// The test binary doubles as a fake osiris CLI (see fakecli) for the built shim.
func TestMain(m *testing.M) {
	if fakecli.Active() {
		os.Exit(fakecli.Main(os.Args[1:]))
	}
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// builtBinaries builds osiris-mcp (and, when withCLI, osiris) once per test run.
func builtBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "osiris-mcp-e2e-")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	out := filepath.Join(buildDir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot(t)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, output)
	}
	return out
}

// TestImportGraphHoldsNoPrivilegedPackage proves the architectural rule: the shim
// cannot open a database, read connections or write memory because it does not even
// link the code that would.
func TestImportGraphHoldsNoPrivilegedPackage(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/osiris-mcp")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/osirisgo/osiris/internal/drivers",
		"github.com/osirisgo/osiris/internal/connections",
		"github.com/osirisgo/osiris/internal/memory",
		"github.com/osirisgo/osiris/internal/discovery",
		"github.com/osirisgo/osiris/internal/cli",
		"database/sql",
		"github.com/go-sql-driver/mysql",
		"github.com/lib/pq",
		"github.com/duckdb/",
	}
	// database/sql/driver holds only interfaces; github.com/google/uuid (through mcp-go)
	// imports it to implement Scanner. database/sql itself, which opens connections, and
	// every driver module are forbidden.
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("suspiciously short dependency list: %v", deps)
	}
	for _, dep := range deps {
		if dep == "database/sql/driver" {
			continue
		}
		for _, bad := range forbidden {
			if dep == bad || strings.HasPrefix(dep, bad+"/") ||
				strings.HasSuffix(bad, "/") && strings.HasPrefix(dep, bad) {
				t.Errorf("osiris-mcp depends on %s", dep)
			}
		}
	}
}

// fakeEnv makes the built shim run this test binary as its CLI.
func fakeEnv(t *testing.T) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "OSIRIS_CLI="+exe, fakecli.ModeEnv+"=echo",
		"GORACE=atexit_sleep_ms=0", "OSIRIS_MCP_LOGS_DIR=", "OSIRIS_HOME=")
}

func readLines(t *testing.T, pattern string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(pattern)
	var out []map[string]any
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(bytes.TrimRight(raw, "\n"), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatalf("%s line %d is not whole JSON: %v", file, i+1, err)
			}
			out = append(out, rec)
		}
	}
	return out
}

func countEvents(recs []map[string]any, event string) int {
	n := 0
	for _, r := range recs {
		if r["event"] == event {
			n++
		}
	}
	return n
}

// TestTypeScriptSDKEndToEnd drives the built osiris-mcp with the official TypeScript
// SDK: initialize, tools/list and 100 concurrent tools/call.
func TestTypeScriptSDKEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and runs node")
	}
	clientDir := filepath.Join(repoRoot(t), "test", "js", "mcp-client")
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(clientDir, "node_modules", "@modelcontextprotocol",
		"sdk")); err != nil || statErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or the MCP SDK is missing (run scripts/test-deps.sh): %v %v", err, statErr)
		}
		t.Skip("node or test/js/mcp-client/node_modules missing; run scripts/test-deps.sh")
	}
	shim := builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "osiris.yaml"), []byte("version: \"2.0\"\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	args, _ := json.Marshal([]string{"--base-path", project})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(clientDir, "e2e.mjs"))
	cmd.Dir = clientDir
	cmd.Env = append(fakeEnv(t), "OSIRIS_MCP_BIN="+shim, "OSIRIS_MCP_ARGS="+string(args),
		"CALLS=100")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node e2e: %v\n%s", err, stderr.String())
	}

	var summary struct {
		Tools          []string       `json:"tools"`
		Envelopes      int            `json:"envelopes"`
		Statuses       map[string]int `json:"statuses"`
		IsError        int            `json:"is_error"`
		CorrelationIDs int            `json:"correlation_ids"`
		ToolsCalled    []string       `json:"tools_called"`
		Errors         []any          `json:"errors"`
		Server         map[string]any `json:"server"`
	}
	if err := json.Unmarshal(out, &summary); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if len(summary.Tools) != 12 || summary.Envelopes != 100 || summary.Statuses["success"] != 100 ||
		summary.IsError != 0 || summary.CorrelationIDs != 100 {
		t.Fatalf("summary %+v\nstderr: %s", summary, stderr.String())
	}
	if summary.Server["name"] != "osiris-mcp-server" {
		t.Errorf("server %v", summary.Server)
	}
	wantCalled := "connections_list,discovery_request,guide_start,oml_schema_get,oml_validate"
	if strings.Join(summary.ToolsCalled, ",") != wantCalled {
		t.Errorf("tools called %v", summary.ToolsCalled)
	}

	logs := filepath.Join(project, ".osiris", "mcp", "logs")
	auditRecs := readLines(t, filepath.Join(logs, "audit", "mcp_audit_*.jsonl"))
	if len(auditRecs) != 200 || countEvents(auditRecs, "tool_call") != 100 ||
		countEvents(auditRecs, "tool_result") != 100 {
		t.Errorf("audit: %d lines, %d tool_call, %d tool_result; want 200, 100, 100",
			len(auditRecs), countEvents(auditRecs, "tool_call"), countEvents(auditRecs, "tool_result"))
	}

	// The shim writes server_stop after the client closed it; give it a moment.
	telemetryGlob := filepath.Join(logs, "telemetry", "mcp_telemetry_*.jsonl")
	var telemetryRecs []map[string]any
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		telemetryRecs = readLines(t, telemetryGlob)
		if countEvents(telemetryRecs, "server_stop") == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := countEvents(telemetryRecs, "tool_call"); n != 100 {
		t.Errorf("telemetry has %d tool_call lines, want 100", n)
	}
	for _, rec := range telemetryRecs {
		if rec["event"] == "server_stop" {
			metrics := rec["metrics"].(map[string]any)
			if metrics["tool_calls"] != float64(100) || metrics["errors"] != float64(0) {
				t.Errorf("server_stop metrics %v", metrics)
			}
			if rec["reason"] != "shutdown" {
				t.Errorf("server_stop reason %v", rec["reason"])
			}
		}
	}
	if countEvents(telemetryRecs, "server_stop") != 1 || countEvents(telemetryRecs, "server_start") != 1 {
		t.Errorf("telemetry events: %d start, %d stop", countEvents(telemetryRecs, "server_start"),
			countEvents(telemetryRecs, "server_stop"))
	}
	for _, dir := range []string{"audit", "telemetry"} {
		files, _ := filepath.Glob(filepath.Join(logs, dir, "*.jsonl"))
		for _, f := range files {
			if info, _ := os.Stat(f); info.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v", f, info.Mode().Perm())
			}
		}
	}
}

// TestSelftestAgainstFakeCLI runs `osiris-mcp --selftest --json` as a user would.
func TestSelftestAgainstFakeCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shim")
	}
	shim := builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	cmd := exec.Command(shim, "--selftest", "--json", "--base-path", t.TempDir())
	cmd.Env = fakeEnv(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("selftest failed: %v\n%s", err, out)
	}
	var doc struct {
		Status string `json:"status"`
		Checks []struct {
			Name   string `json:"name"`
			Passed bool   `json:"passed"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if doc.Status != "success" || len(doc.Checks) != 4 {
		t.Fatalf("%s", out)
	}

	// With a CLI that fails, the self-test fails and says which check.
	cmd = exec.Command(shim, "--selftest", "--base-path", t.TempDir())
	cmd.Env = append(fakeEnv(t), fakecli.ModeEnv+"=fail")
	out, err = cmd.Output()
	if err == nil {
		t.Fatalf("selftest passed against a failing CLI:\n%s", out)
	}
	if !strings.Contains(string(out), "FAIL connections.list") ||
		!strings.Contains(string(out), "PASS handshake") {
		t.Errorf("selftest output:\n%s", out)
	}
}

// TestShimStdoutIsProtocolOnly starts the shim over stdio with mcp-go's client and
// checks that a missing project is refused with exit 2 and nothing on stdout.
func TestMissingProjectIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shim")
	}
	shim := builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	cmd := exec.Command(shim, "--base-path", filepath.Join(t.TempDir(), "nope"))
	cmd.Env = fakeEnv(t)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "does not exist") {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

// TestAgainstTheRealCLI runs tools through the real osiris binary for the commands that
// other parts of the product have built; a command still reporting not_implemented is
// skipped by name.
func TestAgainstTheRealCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	shim := builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	cli := builtBinary(t, "./cmd/osiris", "osiris")
	project := t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "osiris.yaml"), []byte("version: \"2.0\"\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call := startShim(t, ctx, shim, []string{"OSIRIS_CLI=" + cli, "OSIRIS_HOME=",
		"OSIRIS_MCP_LOGS_DIR="}, project)

	env := call("oml.schema.get", nil)
	result, _ := env["result"].(map[string]any)
	if env["status"] != "success" || result["version"] != "0.1.0" || result["schema"] == nil {
		t.Errorf("oml_schema_get: %v", env)
	}
	env = call("connections_list", nil)
	result, _ = env["result"].(map[string]any)
	if env["status"] != "success" || result["count"] != float64(0) {
		t.Errorf("connections_list in an empty project: %v", env)
	}

	// memory_capture: the CLI child writes the session file under the project's memory
	// directory; the stored text is redacted.
	env = call("memory_capture", map[string]any{"consent": true, "session_id": "real-cli",
		"intent": "reach me at jane.doe@example.com"})
	if env["status"] != "success" {
		t.Fatalf("memory_capture: %v", env)
	}
	session := filepath.Join(project, ".osiris", "mcp", "logs", "memory", "sessions",
		"real-cli.jsonl")
	raw, err := os.ReadFile(session)
	if err != nil || strings.Contains(string(raw), "jane.doe@example.com") ||
		!strings.Contains(string(raw), "***EMAIL***") {
		t.Fatalf("session file %s: %v\n%s", session, err, raw)
	}
}

// TestShimNeverWritesMemory proves that the session file comes from the CLI child: with a
// CLI that answers memory_capture without writing anything, no memory directory appears,
// although the shim reports success.
func TestShimNeverWritesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the shim")
	}
	shim := builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	project := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	call := startShim(t, ctx, shim, fakeEnv(t), project)

	env := call("memory_capture", map[string]any{"consent": true, "session_id": "fake-cli",
		"intent": "note"})
	if env["status"] != "success" {
		t.Fatalf("memory_capture through the fake CLI: %v", env)
	}
	if _, err := os.Stat(filepath.Join(project, ".osiris", "mcp", "logs", "memory")); err == nil {
		t.Fatal("a memory directory appeared although the CLI wrote none: the shim wrote it")
	}
}

// startShim runs the built shim over stdio and returns a function that calls a tool and
// decodes its envelope.
func startShim(t *testing.T, ctx context.Context, shim string, env []string,
	project string) func(string, map[string]any) map[string]any {
	t.Helper()
	c, err := client.NewStdioMCPClient(shim, env, "--base-path", project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "shim-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return func(name string, args map[string]any) map[string]any {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("%s: JSON-RPC error %v", name, err)
		}
		text, _ := mcp.AsTextContent(res.Content[0])
		var envelope map[string]any
		if err := json.Unmarshal([]byte(text.Text), &envelope); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return envelope
	}
}

// TestOsirisMCPRunSelftest goes through `osiris mcp run --selftest`, which execs the
// osiris-mcp built next to it with the same flags.
func TestOsirisMCPRunSelftest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	builtBinary(t, "./cmd/osiris-mcp", "osiris-mcp")
	cli := builtBinary(t, "./cmd/osiris", "osiris")
	cmd := exec.Command(cli, "mcp", "run", "--selftest", "--json", "--base-path", t.TempDir())
	cmd.Env = fakeEnv(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("osiris mcp run --selftest: %v\n%s", err, out)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil || doc["status"] != "success" {
		t.Fatalf("%s (%v)", out, err)
	}
}
