package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMCPWithoutSubcommandPrintsHelp(t *testing.T) {
	r := runCLI(t, t.TempDir(), "", "mcp")
	if r.Code != 0 || !strings.Contains(r.Stdout, "run") || !strings.Contains(r.Stdout, "clients") {
		t.Fatalf("exit %d stdout %q", r.Code, r.Stdout)
	}
}

func TestMCPToolsDocument(t *testing.T) {
	doc := jsonDoc(t, runCLI(t, t.TempDir(), "", "mcp", "tools", "--json"))
	tools := doc["tools"].([]any)
	if doc["count"] != float64(12) || len(tools) != 12 || doc["status"] != "success" {
		t.Fatalf("%v", doc)
	}
	names := 0
	for _, item := range tools {
		tool := item.(map[string]any)
		names += 1 + len(tool["aliases"].([]any))
		if !strings.HasPrefix(tool["cli"].(string), "osiris mcp ") || tool["description"] == "" {
			t.Errorf("tool %v", tool)
		}
	}
	if names != 40 {
		t.Errorf("%d names, want 40", names)
	}
	human := runCLI(t, t.TempDir(), "", "mcp", "tools")
	if !strings.Contains(human.Stdout, "osiris.validate_oml") {
		t.Errorf("human output lacks legacy alias:\n%s", human.Stdout)
	}
}

func TestMCPClientsPrintsOnlyTheSnippet(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "", "mcp", "clients")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var snippet struct {
		MCPServers map[string]struct {
			Command   string            `json:"command"`
			Args      []string          `json:"args"`
			Transport map[string]string `json:"transport"`
		} `json:"mcpServers"`
	}
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snippet); err != nil {
		t.Fatalf("stdout is not the snippet: %v\n%s", err, r.Stdout)
	}
	entry := snippet.MCPServers["osiris"]
	if !filepath.IsAbs(entry.Command) || filepath.Base(entry.Command) != "osiris-mcp" {
		t.Errorf("command %q", entry.Command)
	}
	if len(entry.Args) != 2 || entry.Args[0] != "--base-path" || entry.Args[1] != dir ||
		entry.Transport["type"] != "stdio" {
		t.Errorf("entry %+v", entry)
	}
	if !strings.Contains(r.Stderr, "claude_desktop_config.json") ||
		!strings.Contains(r.Stderr, "no osiris.yaml") {
		t.Errorf("stderr hints: %s", r.Stderr)
	}
	if strings.Contains(r.Stdout, "env") {
		t.Error("snippet must not carry an env block")
	}
}

func TestMCPConfigResolvesTunablesAndDirectories(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OSIRIS_MCP_PAYLOAD_LIMIT_MB", "500")
	t.Setenv("OSIRIS_MCP_TOOL_TIMEOUT", "soon")
	t.Setenv("OSIRIS_MCP_TELEMETRY_ENABLED", "off")
	t.Setenv("OSIRIS_MCP_LOGS_DIR", "var/mcp")
	doc := jsonDoc(t, runCLI(t, dir, "", "mcp", "config", "--json"))
	if doc["payload_limit_mb"] != float64(100) || doc["tool_timeout"] != float64(30) ||
		doc["telemetry_enabled"] != false || doc["server_name"] != "osiris-mcp-server" {
		t.Errorf("tunables %v", doc)
	}
	dirs := doc["directories"].(map[string]any)
	logs := filepath.Join(dir, "var", "mcp")
	if dirs["mcp_logs_dir"] != logs || dirs["audit"] != filepath.Join(logs, "audit") ||
		dirs["telemetry"] != filepath.Join(logs, "telemetry") ||
		dirs["memory"] != filepath.Join(logs, "memory") || dirs["base_path"] != dir {
		t.Errorf("directories %v", dirs)
	}
	sources := doc["sources"].(map[string]any)
	if sources["project_root"] != "flag" || sources["mcp_logs_dir"] != "env" ||
		sources["OSIRIS_MCP_PAYLOAD_LIMIT_MB"] != "env" || sources["OSIRIS_MCP_TOOL_TIMEOUT"] != "default" {
		t.Errorf("sources %v", sources)
	}
	// A clamped value and an unreadable one each say so.
	warnings := fmt.Sprint(doc["warnings"])
	if len(doc["warnings"].([]any)) != 2 || !strings.Contains(warnings, "OSIRIS_MCP_TOOL_TIMEOUT") ||
		!strings.Contains(warnings, "OSIRIS_MCP_PAYLOAD_LIMIT_MB=500 is above the maximum 100") {
		t.Errorf("warnings %v", warnings)
	}
}

func TestMCPRunExecsTheShimWithTheSameFlags(t *testing.T) {
	bin := t.TempDir()
	shim := filepath.Join(bin, "osiris-mcp")
	if err := os.WriteFile(shim, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)

	var gotPath string
	var gotArgv []string
	record := func(path string, argv []string, _ []string) error {
		gotPath, gotArgv = path, argv
		return nil
	}
	var out, errOut bytes.Buffer
	f := &Factory{IO: &IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, JSON: true}
	cmd := newCmdMCPRun(f, record)
	cmd.SetArgs([]string{"--debug", "--selftest", "--base-path", "/srv/project"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := []string{shim, "--debug", "--selftest", "--json", "--base-path", "/srv/project"}
	if gotPath != shim || strings.Join(gotArgv, " ") != strings.Join(want, " ") {
		t.Errorf("exec %s %v, want %v", gotPath, gotArgv, want)
	}
	if out.Len() != 0 {
		t.Errorf("mcp run printed on stdout: %q", out.String())
	}

	// The global --project stands in for --base-path.
	f = &Factory{IO: f.IO, ProjectDir: "/other"}
	cmd = newCmdMCPRun(f, record)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(gotArgv[1:], " ") != "--base-path /other" {
		t.Errorf("argv %v", gotArgv)
	}
}

func TestMCPRunWithoutShim(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	r := runCLI(t, t.TempDir(), "", "mcp", "run", "--json")
	doc := jsonDoc(t, r)
	if r.Code != ExitFailure || doc["error_type"] != "mcp_server_not_found" {
		t.Errorf("exit %d %v", r.Code, doc)
	}
}
