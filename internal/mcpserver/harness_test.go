package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/mcpserver/fakecli"
	"github.com/osirisgo/osiris/internal/telemetry"
)

func TestMain(m *testing.M) {
	if fakecli.Active() {
		os.Exit(fakecli.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// harness is a shim wired to the fake CLI and an in-process mcp-go client.
type harness struct {
	t         *testing.T
	client    *client.Client
	server    *Server
	bridge    *bridge.Bridge
	telemetry *telemetry.Emitter
	auditDir  string
	recordDir string
	project   string
}

func newHarness(t *testing.T, mode string, tweak func(*Options)) *harness {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, auditDir: t.TempDir(), recordDir: t.TempDir(), project: t.TempDir()}
	h.bridge = &bridge.Bridge{
		CLIPath: exe, ProjectDir: h.project, OutputLimit: 16 << 20,
		KillGrace: 200 * time.Millisecond,
		// A race-enabled fake would sleep a second at exit without atexit_sleep_ms=0.
		Env: append(os.Environ(), fakecli.ModeEnv+"="+mode, "FAKE_RECORD_DIR="+h.recordDir,
			"GORACE=atexit_sleep_ms=0"),
	}
	h.telemetry = telemetry.New(telemetry.Config{
		Enabled: true, Dir: filepath.Join(h.auditDir, "..", filepath.Base(h.auditDir)+"-tel"),
		SessionID: "tel_000000000000",
	})
	settings := LoadSettings(func(string) (string, bool) { return "", false })
	opts := Options{
		Version: "v-test", Runner: h.bridge, Settings: settings,
		Audit:     audit.NewEventLogger(h.auditDir, "mcp_000000000000", nil),
		Telemetry: h.telemetry, CorrelationID: HashedCorrelationID,
	}
	if tweak != nil {
		tweak(&opts)
	}
	h.server = New(opts)

	c, err := client.NewInProcessClient(h.server.MCP())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h.client = c
	return h
}

// result is one decoded tool reply.
type result struct {
	env     map[string]any
	isError bool
	text    string
}

func (r result) meta() map[string]any   { m, _ := r.env["_meta"].(map[string]any); return m }
func (r result) errObj() map[string]any { m, _ := r.env["error"].(map[string]any); return m }
func (r result) res() map[string]any    { m, _ := r.env["result"].(map[string]any); return m }
func (r result) code() string           { c, _ := r.errObj()["code"].(string); return c }
func (r result) correlationID() string  { c, _ := r.meta()["correlation_id"].(string); return c }

// call runs one tools/call and fails the test on a JSON-RPC error: tool problems must
// always come back as envelopes.
func (h *harness) call(name string, args any) result {
	h.t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := h.client.CallTool(context.Background(), req)
	if err != nil {
		h.t.Fatalf("tools/call %s gave a JSON-RPC error: %v", name, err)
	}
	env, err := envelopeOf(res)
	if err != nil {
		h.t.Fatalf("tools/call %s: %v", name, err)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	if (env["status"] == "error") != res.IsError {
		h.t.Fatalf("isError %v but status %v", res.IsError, env["status"])
	}
	return result{env: env, isError: res.IsError, text: text.Text}
}

func (h *harness) record(r result) *fakecli.Record {
	h.t.Helper()
	rec, err := fakecli.ReadRecord(h.recordDir, r.correlationID())
	if err != nil {
		h.t.Fatalf("no CLI call recorded for %s: %v", r.correlationID(), err)
	}
	return rec
}

func (h *harness) cliCalls() int {
	entries, _ := filepath.Glob(filepath.Join(h.recordDir, "*.json"))
	return len(entries)
}

// auditRecords reads every audit line; each must be whole JSON.
func (h *harness) auditRecords() []map[string]any {
	h.t.Helper()
	return readJSONL(h.t, h.auditDir, "mcp_audit_*.jsonl")
}

func readJSONL(t *testing.T, dir, pattern string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, pattern))
	var out []map[string]any
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		scanner := bufio.NewScanner(f)
		scanner.Buffer(make([]byte, 1<<20), 32<<20)
		for scanner.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
				t.Fatalf("%s: broken line: %v", file, err)
			}
			out = append(out, rec)
		}
		f.Close()
	}
	return out
}

func (h *harness) auditFor(correlationID string) []map[string]any {
	var out []map[string]any
	for _, rec := range h.auditRecords() {
		if rec["correlation_id"] == correlationID {
			out = append(out, rec)
		}
	}
	return out
}
