package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/osirisgo/osiris/internal/bridge"
)

// validArguments are minimal valid arguments for each tool.
var validArguments = map[string]map[string]any{
	"connections_list":   {},
	"connections_doctor": {"connection": "@mysql.main"},
	"components_list":    {},
	"discovery_request":  {"connection": "@mysql.main", "component": "mysql.extractor"},
	"usecases_list":      {},
	"oml_schema_get":     {},
	"oml_validate":       {"oml_content": "oml_version: \"0.1.0\"\n"},
	"oml_save":           {"oml_content": "name: x\n", "session_id": "s1"},
	"guide_start":        {"intent": "copy mysql to csv"},
	"memory_capture":     {"consent": true, "session_id": "s1", "intent": "remember"},
	"aiop_list":          {},
	"aiop_show":          {"run_id": "run_1"},
}

func TestToolsListShowsExactlyTheTwelveCanonicalNames(t *testing.T) {
	h := newHarness(t, "echo", nil)
	list, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		var schema map[string]any
		raw, _ := json.Marshal(tool.InputSchema)
		if len(tool.RawInputSchema) > 0 {
			raw = tool.RawInputSchema
		}
		if err := json.Unmarshal(raw, &schema); err != nil || schema["type"] != "object" {
			t.Errorf("%s: input schema %s", tool.Name, raw)
		}
		if tool.Description == "" {
			t.Errorf("%s has no description", tool.Name)
		}
	}
	sort.Strings(names)
	want := []string{"aiop_list", "aiop_show", "components_list", "connections_doctor",
		"connections_list", "discovery_request", "guide_start", "memory_capture",
		"oml_save", "oml_schema_get", "oml_validate", "usecases_list"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("tools/list = %v", names)
	}
}

func TestFortyAcceptedNames(t *testing.T) {
	names := AcceptedNames()
	if len(names) != 40 {
		t.Fatalf("%d accepted names, want 40: %v", len(names), names)
	}
	for _, legacy := range []string{"osiris.introspect_sources", "osiris.validate_oml",
		"osiris.save_oml", "osiris.guide_start", "oml.schema.get", "osiris.oml.schema.get",
		"aiop.show", "osiris.discovery.request"} {
		if _, ok := Lookup(legacy); !ok {
			t.Errorf("%s is not accepted", legacy)
		}
	}
}

func TestEveryAcceptedNameRunsItsTool(t *testing.T) {
	h := newHarness(t, "echo", nil)
	for _, name := range AcceptedNames() {
		tool, _ := Lookup(name)
		r := h.call(name, validArguments[tool.Name])
		if r.isError {
			t.Errorf("%s: error %v", name, r.errObj())
			continue
		}
		meta := r.meta()
		if meta["tool"] != tool.Name {
			t.Errorf("%s: _meta.tool = %v, want %s", name, meta["tool"], tool.Name)
		}
		rec := h.record(r)
		wantPrefix := strings.Fields(strings.TrimPrefix(tool.CLI, "osiris "))[:3]
		if strings.Join(rec.Args[:3], " ") != strings.Join(wantPrefix, " ") {
			t.Errorf("%s ran %v, want %v…", name, rec.Args, wantPrefix)
		}
		if meta["cli_command"] != strings.Join(rec.Args[:len(rec.Args)-1], " ") {
			t.Errorf("%s: cli_command %q vs argv %v", name, meta["cli_command"], rec.Args)
		}
		audited := h.auditFor(r.correlationID())
		if len(audited) != 2 || audited[0]["requested_name"] != name ||
			audited[0]["tool_name"] != tool.Name || audited[1]["event"] != "tool_result" {
			t.Errorf("%s: audit %v", name, audited)
		}
	}
	if got := h.telemetry.Snapshot().ToolCalls; got != 40 {
		t.Errorf("telemetry tool_calls = %d, want 40", got)
	}
}

func TestArgvAndStdinPerTool(t *testing.T) {
	cases := []struct {
		tool  string
		args  map[string]any
		argv  string
		stdin string
	}{
		{"connections_list", nil, "mcp connections list --json", ""},
		{"connections_doctor", map[string]any{"connection": "postgres.main"},
			"mcp connections doctor --connection-id @postgres.main --json", ""},
		{"discovery_request", map[string]any{"connection": "mysql.main",
			"component": "mysql.extractor", "samples": 5, "idempotency_key": "k-1",
			"unknown_thing": "dropped"},
			"mcp discovery run @mysql.main --component mysql.extractor --samples 5 " +
				"--idempotency-key=k-1 --json", ""},
		{"discovery_request", map[string]any{"connection": "@mysql.main",
			"component": "mysql.extractor", "refresh": true},
			"mcp discovery run @mysql.main --component mysql.extractor --samples 0 " +
				"--refresh --json", ""},
		{"usecases_list", map[string]any{"category": "etl"}, "mcp usecases list --category=etl --json", ""},
		{"oml_schema_get", nil, "mcp oml schema --json", ""},
		{"oml_validate", map[string]any{"oml_content": "name: a b\n"},
			"mcp oml validate --content - --strict=true --json", "name: a b\n"},
		{"oml_validate", map[string]any{"oml_content": "x: 1", "strict": false},
			"mcp oml validate --content - --strict=false --json", "x: 1"},
		{"oml_save", map[string]any{"oml_content": "y: 2", "session_id": "s-1", "filename": "p.yaml"},
			"mcp oml save --session-id=s-1 --filename=p.yaml --content - --json", "y: 2"},
		{"guide_start", map[string]any{"intent": "move --rows now", "known_connections": []any{
			"mysql.a", "@pg.b"}, "has_discovery": true, "has_error_report": true},
			"mcp guide start --intent - --known-connection @mysql.a --known-connection @pg.b " +
				"--has-discovery --has-error-report --json", "move --rows now"},
		{"aiop_list", map[string]any{"pipeline": "p", "profile": "dev"},
			"mcp aiop list --pipeline=p --profile=dev --json", ""},
		{"aiop_show", map[string]any{"run_id": "r1"}, "mcp aiop show --run=r1 --json", ""},
	}
	h := newHarness(t, "echo", nil)
	for _, c := range cases {
		r := h.call(c.tool, c.args)
		if r.isError {
			t.Errorf("%s: %v", c.tool, r.errObj())
			continue
		}
		rec := h.record(r)
		if got := strings.Join(rec.Args, " "); got != c.argv {
			t.Errorf("%s argv:\n got %s\nwant %s", c.tool, got, c.argv)
		}
		if rec.Stdin != c.stdin {
			t.Errorf("%s stdin = %q, want %q", c.tool, rec.Stdin, c.stdin)
		}
		if rec.Home != h.project || rec.Cwd != h.project || rec.CorrelationID != r.correlationID() {
			t.Errorf("%s: home %s cwd %s correlation %s", c.tool, rec.Home, rec.Cwd, rec.CorrelationID)
		}
	}
}

func TestMemoryCaptureSendsEventsOnStdin(t *testing.T) {
	h := newHarness(t, "echo", nil)
	r := h.call("memory_capture", map[string]any{
		"consent": true, "session_id": "s1", "intent": "sync users", "retention_days": 9000,
		"decisions": []any{map[string]any{"why": "fast"}}, "notes": "n",
	})
	if r.isError {
		t.Fatal(r.errObj())
	}
	rec := h.record(r)
	want := "mcp memory capture --session-id=s1 --consent --retention-days 730 --events - --json"
	if got := strings.Join(rec.Args, " "); got != want {
		t.Errorf("argv %s", got)
	}
	var events []map[string]any
	if err := json.Unmarshal([]byte(rec.Stdin), &events); err != nil || len(events) != 1 {
		t.Fatalf("stdin %q: %v", rec.Stdin, err)
	}
	e := events[0]
	if e["intent"] != "sync users" || e["notes"] != "n" || e["oml_uri"] != nil ||
		e["error_report"] != nil || fmt.Sprint(e["actor_trace"]) != "[]" ||
		fmt.Sprint(e["decisions"]) != "[map[why:fast]]" || fmt.Sprint(e["artifacts"]) != "[]" {
		t.Errorf("event %v", e)
	}
}

func TestEnvelopeShape(t *testing.T) {
	h := newHarness(t, "echo", nil)
	args := map[string]any{"oml_content": "a: 1"}
	r := h.call("osiris.validate_oml", args)
	if r.env["status"] != "success" || r.isError {
		t.Fatal(r.env)
	}
	if _, has := r.res()["_meta"]; has {
		t.Error("the CLI's _meta leaked into result")
	}
	meta := r.meta()
	id, _ := meta["correlation_id"].(string)
	if len(id) != 16 || !strings.HasPrefix(id, "mcp_") || strings.ToLower(id) != id {
		t.Errorf("correlation_id %q", id)
	}
	compactArgs, _ := json.Marshal(args)
	if meta["bytes_in"] != float64(len(compactArgs)) {
		t.Errorf("bytes_in %v, want %d", meta["bytes_in"], len(compactArgs))
	}
	compactResult, _ := json.Marshal(r.env["result"])
	if meta["bytes_out"] != float64(len(compactResult)) {
		t.Errorf("bytes_out %v, want %d", meta["bytes_out"], len(compactResult))
	}
	if meta["tool"] != "oml_validate" || meta["duration_ms"] == nil {
		t.Errorf("meta %v", meta)
	}
	keys := strings.Split(strings.Trim(r.text, "{}"), ",")
	if !strings.HasPrefix(keys[0], `"status"`) {
		t.Errorf("envelope does not start with status: %s", r.text[:40])
	}
}

func TestUnknownToolIsAnEnvelope(t *testing.T) {
	h := newHarness(t, "echo", nil)
	for _, name := range []string{"drop_database", "osiris.unknown", unknownToolName} {
		r := h.call(name, map[string]any{"x": 1})
		if r.code() != "SEMANTIC/SEM001" || r.errObj()["message"] != "Unknown tool: "+name ||
			!strings.Contains(r.errObj()["suggest"].(string), "guide_start") {
			t.Errorf("%s: %v", name, r.env)
		}
		audited := h.auditFor(r.correlationID())
		if len(audited) != 2 || audited[1]["event"] != "tool_error" ||
			audited[1]["error_code"] != "SEMANTIC/SEM001" {
			t.Errorf("%s audit: %v", name, audited)
		}
	}
	if h.cliCalls() != 0 {
		t.Errorf("an unknown tool ran the CLI")
	}
	if snap := h.telemetry.Snapshot(); snap.ToolCalls != 3 || snap.Errors != 3 {
		t.Errorf("telemetry %+v", snap)
	}
}

func TestConsentGuardComesBeforeSchemaCheck(t *testing.T) {
	h := newHarness(t, "echo", nil)
	for _, args := range []map[string]any{
		{}, {"consent": false}, {"consent": "true"}, {"consent": 1},
		{"consent": false, "session_id": "s1", "intent": "x"},
	} {
		r := h.call("memory_capture", args)
		if r.code() != "POLICY/POL001" {
			t.Errorf("%v: %v", args, r.env)
			continue
		}
		details := r.errObj()["details"].(map[string]any)
		if details["reason"] != "consent_required" || details["tool"] != "memory_capture" {
			t.Errorf("details %v", details)
		}
	}
	if h.cliCalls() != 0 {
		t.Error("memory_capture without consent ran the CLI")
	}
	r := h.call("memory_capture", map[string]any{"consent": true})
	if r.code() != "SCHEMA/OML004" {
		t.Errorf("with consent, the schema check must run next: %v", r.env)
	}
}

func TestArgumentChecks(t *testing.T) {
	cases := []struct {
		tool  string
		args  any
		code  string
		field string
	}{
		{"connections_doctor", map[string]any{}, "SCHEMA/OML004", "connection"},
		{"connections_doctor", map[string]any{"connection": 5}, "SCHEMA/OML005", "connection"},
		{"connections_doctor", map[string]any{"connection": "@mysql"}, "SCHEMA/OML006", "connection"},
		{"discovery_request", map[string]any{"connection": "@a.b"}, "SCHEMA/OML004", "component"},
		{"discovery_request", map[string]any{"connection": "@a.b", "component": "a.extractor",
			"samples": 101}, "SCHEMA/OML006", "samples"},
		{"discovery_request", map[string]any{"connection": "@a.b", "component": "a.extractor",
			"samples": 2.5}, "SCHEMA/OML005", "samples"},
		{"discovery_request", map[string]any{"connection": "@a.b", "component": "a.extractor",
			"idempotency_key": strings.Repeat("k", 257)}, "SCHEMA/OML006", "idempotency_key"},
		{"oml_validate", map[string]any{"oml_content": ""}, "SCHEMA/OML004", "oml_content"},
		{"oml_validate", map[string]any{"oml_content": "x", "strict": "yes"}, "SCHEMA/OML005", "strict"},
		{"oml_save", map[string]any{"oml_content": "x", "session_id": "../etc"}, "SCHEMA/OML006",
			"session_id"},
		{"oml_save", map[string]any{"oml_content": "x", "session_id": "s", "filename": "a/b"},
			"SCHEMA/OML006", "filename"},
		{"guide_start", map[string]any{}, "SCHEMA/OML004", "intent"},
		{"guide_start", map[string]any{"intent": "x", "known_connections": []any{3}},
			"SCHEMA/OML005", "known_connections"},
		{"memory_capture", map[string]any{"consent": true, "session_id": "s", "intent": "i",
			"decisions": []any{"not an object"}}, "SCHEMA/OML005", "decisions"},
		{"aiop_show", map[string]any{"run_id": "a b"}, "SCHEMA/OML006", "run_id"},
		{"aiop_show", []any{1, 2}, "SCHEMA/OML005", ""},
	}
	h := newHarness(t, "echo", nil)
	for _, c := range cases {
		r := h.call(c.tool, c.args)
		if r.code() != c.code {
			t.Errorf("%s %v: code %s (%v), want %s", c.tool, c.args, r.code(),
				r.errObj()["message"], c.code)
			continue
		}
		if c.field != "" && fmt.Sprint(r.errObj()["path"]) != "["+c.field+"]" {
			t.Errorf("%s: path %v, want [%s]", c.tool, r.errObj()["path"], c.field)
		}
	}
	if h.cliCalls() != 0 {
		t.Errorf("%d invalid calls reached the CLI", h.cliCalls())
	}
}

func TestGuideStartEmptyIntent(t *testing.T) {
	h := newHarness(t, "echo", nil)
	r := h.call("guide_start", map[string]any{"intent": "   "})
	if r.code() != "SCHEMA/OML020" || r.errObj()["message"] != "intent is required" {
		t.Fatalf("%v", r.env)
	}
	steps := r.errObj()["details"].(map[string]any)["next_steps"].([]any)
	if steps[0].(map[string]any)["tool"] != "connections_list" {
		t.Errorf("next_steps %v", steps)
	}
}

func TestCLIFailureIsRedactedEnvelope(t *testing.T) {
	h := newHarness(t, "fail", nil)
	r := h.call("connections_doctor", map[string]any{"connection": "@pg.main"})
	if r.code() != "SEMANTIC/E_CONN_REFUSED" {
		t.Fatalf("%v", r.env)
	}
	if strings.Contains(r.text, "Sentinel-Pa55word") || strings.Contains(r.text, "app:") {
		t.Fatalf("secret in envelope: %s", r.text)
	}
	if r.meta()["cli_command"] != "mcp connections doctor --connection-id @pg.main" {
		t.Errorf("cli_command %v", r.meta()["cli_command"])
	}
	for _, rec := range h.auditRecords() {
		raw, _ := json.Marshal(rec)
		if strings.Contains(string(raw), "Sentinel-Pa55word") {
			t.Fatalf("secret in audit: %s", raw)
		}
	}
}

func TestCLIErrorDocument(t *testing.T) {
	h := newHarness(t, "error-doc", nil)
	r := h.call("aiop_show", map[string]any{"run_id": "r1"})
	if r.errObj()["message"] != "Run not found: r1" || r.errObj()["family"] != "SCHEMA" ||
		r.code() != "SCHEMA/NOT_FOUND" {
		t.Fatalf("%v", r.env)
	}
}

type panickingRunner struct{ next Runner }

func (p panickingRunner) Run(ctx context.Context, req bridge.Request) (*bridge.Reply, error) {
	if req.Args[1] == "components" {
		panic("boom")
	}
	return p.next.Run(ctx, req)
}

func TestPanicInHandlerKeepsServerUp(t *testing.T) {
	var h *harness
	h = newHarness(t, "echo", func(o *Options) {
		o.Runner = panickingRunner{next: o.Runner}
	})
	r := h.call("components_list", nil)
	if r.code() != "INTERNAL/UNEXPECTED" || r.errObj()["family"] != "INTERNAL" {
		t.Fatalf("%v", r.env)
	}
	if strings.Contains(r.text, "boom") {
		t.Error("panic value leaked to the client")
	}
	if again := h.call("connections_list", nil); again.isError {
		t.Fatalf("server did not survive: %v", again.env)
	}
	audited := h.auditFor(r.correlationID())
	if len(audited) != 2 || audited[1]["error_code"] != "INTERNAL/UNEXPECTED" {
		t.Errorf("audit %v", audited)
	}
}

func TestRunnerErrorThatIsNotAFailure(t *testing.T) {
	h := newHarness(t, "echo", func(o *Options) {
		o.Runner = runnerFunc(func(context.Context, bridge.Request) (*bridge.Reply, error) {
			return nil, errors.New("odd: password=hunter2")
		})
	})
	r := h.call("connections_list", nil)
	if r.errObj()["family"] != "SEMANTIC" || strings.Contains(r.text, "hunter2") {
		t.Fatalf("%v", r.env)
	}
}

type runnerFunc func(context.Context, bridge.Request) (*bridge.Reply, error)

func (f runnerFunc) Run(ctx context.Context, req bridge.Request) (*bridge.Reply, error) {
	return f(ctx, req)
}

func TestConcurrentCallsAreAuditedAndCountedExactly(t *testing.T) {
	h := newHarness(t, "echo", nil)
	const calls = 100
	names := AcceptedNames()
	var wg sync.WaitGroup
	results := make([]result, calls)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := names[i%len(names)]
			tool, _ := Lookup(name)
			req := mcp.CallToolRequest{}
			req.Params.Name = name
			req.Params.Arguments = validArguments[tool.Name]
			res, err := h.client.CallTool(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			env, err := envelopeOf(res)
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = result{env: env, isError: res.IsError}
		}(i)
	}
	wg.Wait()

	ids := map[string]bool{}
	for i, r := range results {
		if r.env["status"] != "success" {
			t.Fatalf("call %d: %v", i, r.env)
		}
		ids[r.correlationID()] = true
	}
	if len(ids) != calls {
		t.Errorf("%d distinct correlation ids, want %d", len(ids), calls)
	}
	if n := len(h.auditRecords()); n != 2*calls {
		t.Errorf("%d audit lines, want %d", n, 2*calls)
	}
	if snap := h.telemetry.Snapshot(); snap.ToolCalls != calls || snap.Errors != 0 {
		t.Errorf("telemetry %+v", snap)
	}
}

// Telemetry tool_call records carry the call's correlation id, for successes and for
// rejected calls alike, so a record can be joined with its envelope and audit lines.
func TestTelemetryToolCallCarriesTheCorrelationID(t *testing.T) {
	h := newHarness(t, "echo", nil)
	ok := h.call("connections_list", map[string]any{})
	rejected := h.call("memory_capture", map[string]any{"consent": false})
	dir := filepath.Join(h.auditDir, "..", filepath.Base(h.auditDir)+"-tel")
	seen := map[string]string{}
	for _, rec := range readJSONL(t, dir, "mcp_telemetry_*.jsonl") {
		if rec["event"] == "tool_call" {
			id, _ := rec["correlation_id"].(string)
			seen[id], _ = rec["status"].(string)
		}
	}
	if seen[ok.correlationID()] != "ok" || seen[rejected.correlationID()] != "error" {
		t.Errorf("telemetry by correlation id %v, want %s ok and %s error", seen,
			ok.correlationID(), rejected.correlationID())
	}
}

// The strict flag of oml_validate is described as what the CLI's --strict does: it turns
// an unknown component from a warning into an error; other warnings stay warnings.
func TestOMLValidateStrictDescriptionSaysWhatItDoes(t *testing.T) {
	tool, _ := Lookup("oml_validate")
	var description string
	for _, p := range tool.Params {
		if p.Name == "strict" {
			description = p.Description
		}
	}
	if !strings.Contains(description, "unknown component") ||
		strings.Contains(strings.ToLower(description), "warnings as failures") {
		t.Errorf("strict is described as %q", description)
	}
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// With --debug every call is logged once on stderr: tool, correlation id, duration and
// status; without it, calls are not logged.
func TestDebugLogsOneLinePerCall(t *testing.T) {
	var logs lockedBuffer
	h := newHarness(t, "echo", func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ok := h.call("connections.list", map[string]any{})
	rejected := h.call("memory_capture", map[string]any{"consent": false})

	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "msg=\"tool call\"") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("want 2 call lines, got %q", logs.String())
	}
	for i, want := range []struct{ id, tool, status string }{
		{ok.correlationID(), "connections_list", "success"},
		{rejected.correlationID(), "memory_capture", "error"},
	} {
		for _, field := range []string{"tool=" + want.tool, "correlation_id=" + want.id,
			"status=" + want.status, "duration_ms="} {
			if !strings.Contains(lines[i], field) {
				t.Errorf("line %q lacks %s", lines[i], field)
			}
		}
	}
	if !strings.Contains(lines[1], "code=POLICY/POL001") {
		t.Errorf("error line %q lacks the code", lines[1])
	}

	var quiet lockedBuffer
	h = newHarness(t, "echo", func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&quiet, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	h.call("connections_list", map[string]any{})
	if strings.Contains(quiet.String(), "tool call") {
		t.Errorf("a call was logged without --debug: %q", quiet.String())
	}
}
