package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/osirisgo/osiris/internal/telemetry"
)

func TestTwentyMegabyteOMLIsRefusedByTheSizeGuard(t *testing.T) {
	h := newHarness(t, "echo", nil)
	oml := "name: big\n# " + strings.Repeat("x", 20<<20) + "\n"
	r := h.call("oml_validate", map[string]any{"oml_content": oml})

	if r.code() != "POLICY/POL002" || r.errObj()["family"] != "POLICY" {
		t.Fatalf("%v", r.errObj())
	}
	if !strings.Contains(r.errObj()["message"].(string), "payload too large") {
		t.Errorf("message %q", r.errObj()["message"])
	}
	details := r.errObj()["details"].(map[string]any)
	actual := details["actual_bytes"].(float64)
	if details["reason"] != "payload_too_large" || details["limit_bytes"] != float64(16<<20) ||
		actual <= float64(20<<20) || r.meta()["bytes_in"] != actual {
		t.Errorf("details %v meta %v", details, r.meta())
	}
	if h.cliCalls() != 0 {
		t.Error("the CLI ran for an oversized request")
	}
	if len(r.text) > 4096 {
		t.Errorf("refusal envelope is %d bytes; it must not echo the payload", len(r.text))
	}

	audited := h.auditFor(r.correlationID())
	if len(audited) != 2 {
		t.Fatalf("audit %d records", len(audited))
	}
	args, ok := audited[0]["arguments"].(string)
	if !ok || !strings.HasSuffix(args, fmt.Sprintf("... [TRUNCATED: %d bytes total]", int(actual))) ||
		len(args) > previewKeep+64 {
		t.Errorf("audit arguments preview %.120q… (%d bytes)", args, len(args))
	}
	if audited[1]["error_code"] != "POLICY/POL002" {
		t.Errorf("audit %v", audited[1])
	}
	if snap := h.telemetry.Snapshot(); snap.ToolCalls != 1 || snap.Errors != 1 ||
		snap.TotalBytesIn != int64(actual) {
		t.Errorf("telemetry %+v", snap)
	}
}

func TestPayloadLimitIsConfigurable(t *testing.T) {
	h := newHarness(t, "echo", func(o *Options) {
		o.Settings = LoadSettings(func(name string) (string, bool) {
			if name == "OSIRIS_MCP_PAYLOAD_LIMIT_MB" {
				return "1", true
			}
			return "", false
		})
	})
	r := h.call("oml_validate", map[string]any{"oml_content": strings.Repeat("a", 1<<20)})
	if r.code() != "POLICY/POL002" {
		t.Fatalf("%v", r.errObj())
	}
	if r := h.call("oml_validate", map[string]any{"oml_content": "ok: 1"}); r.isError {
		t.Fatalf("small call refused: %v", r.errObj())
	}
}

func TestResultOverPayloadLimitIsRefused(t *testing.T) {
	h := newHarness(t, "big", func(o *Options) {
		o.Settings.PayloadLimitMB = 1
	})
	h.bridge.Env = append(h.bridge.Env, "FAKE_BIG_BYTES="+strconv.Itoa(3<<20/2))
	r := h.call("components_list", nil)
	if r.code() != "POLICY/POL002" || !strings.Contains(r.errObj()["message"].(string), "result") {
		t.Fatalf("%v", r.errObj())
	}

	// The bridge's own cap (the child is killed when it prints more) gives the same code.
	h.bridge.OutputLimit = 1 << 20
	r = h.call("components_list", nil)
	if r.code() != "POLICY/POL002" {
		t.Fatalf("%v", r.errObj())
	}
}

func TestLargeResultIsCutForTheWireAndReadableAsParts(t *testing.T) {
	h := newHarness(t, "big", nil)
	h.bridge.Env = append(h.bridge.Env, "FAKE_BIG_BYTES="+strconv.Itoa(7<<20))
	req := mcp.CallToolRequest{}
	req.Params.Name = "discovery_request"
	req.Params.Arguments = map[string]any{"connection": "@mysql.main", "component": "mysql.extractor"}
	res, err := h.client.CallTool(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	if size := wireSize([]byte(text.Text)); size > WireLimit {
		t.Fatalf("tool reply takes %d bytes on the wire, limit %d", size, WireLimit)
	}
	env, _ := envelopeOf(res)
	marker := env["result"].(map[string]any)
	if marker["truncated"] != true || env["status"] != "success" {
		t.Fatalf("no cut marker: %.300s", text.Text)
	}
	meta := env["_meta"].(map[string]any)
	total := int(marker["total_bytes"].(float64))
	if meta["bytes_out"] != float64(total) || total < 7<<20 {
		t.Errorf("bytes_out %v total %d", meta["bytes_out"], total)
	}

	var joined strings.Builder
	for _, uri := range marker["resource_uris"].([]any) {
		rr := mcp.ReadResourceRequest{}
		rr.Params.URI = uri.(string)
		part, err := h.client.ReadResource(context.Background(), rr)
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		tc := part.Contents[0].(mcp.TextResourceContents)
		if wireSize([]byte(tc.Text)) > WireLimit {
			t.Errorf("part %s too large for the wire", uri)
		}
		joined.WriteString(tc.Text)
	}
	var full map[string]any
	if err := json.Unmarshal([]byte(joined.String()), &full); err != nil {
		t.Fatalf("joined parts are not the JSON result: %v", err)
	}
	if joined.Len() != total || full["status"] != "success" {
		t.Errorf("joined %d bytes, want %d", joined.Len(), total)
	}
	if !strings.HasPrefix(joined.String(), marker["preview"].(string)) {
		t.Error("preview is not the start of the result")
	}
}

func TestSplitForWireKeepsRunesWhole(t *testing.T) {
	text := []byte(strings.Repeat("é\"<", 3<<20))
	parts := splitForWire(text)
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	var joined strings.Builder
	for _, p := range parts {
		if wireSize([]byte(p)) > partBudget+2 {
			t.Errorf("part of %d escaped bytes", wireSize([]byte(p)))
		}
		if !json.Valid([]byte(strconvQuote(p))) {
			t.Error("part is not valid UTF-8 text")
		}
		joined.WriteString(p)
	}
	if joined.String() != string(text) {
		t.Error("parts do not join to the text")
	}
}

func strconvQuote(s string) string { raw, _ := json.Marshal(s); return string(raw) }

func TestHangingCLIIsKilledAtTheTimeout(t *testing.T) {
	h := newHarness(t, "hang", func(o *Options) { o.Settings.ToolTimeout = time.Second })
	r := h.call("discovery_request", map[string]any{"connection": "@mysql.main",
		"component": "mysql.extractor"})
	if r.code() != "DISCOVERY/E_CONN_TIMEOUT" ||
		r.errObj()["message"] != "CLI command timed out after 1s" {
		t.Fatalf("%v", r.errObj())
	}
	raw, err := os.ReadFile(filepath.Join(h.recordDir, "pids-"+r.correlationID()))
	if err != nil {
		t.Fatal(err)
	}
	var leader, grandchild int
	fmt.Sscanf(string(raw), "%d %d", &leader, &grandchild)
	for _, pid := range []int{leader, grandchild} {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !os.IsNotExist(err) {
			t.Errorf("process %d outlived the timeout", pid)
		}
	}
}

func TestAuditMasksSecretsAndPersonalData(t *testing.T) {
	h := newHarness(t, "echo", nil)
	const sentinel = "Sentinel-Pa55word-42"
	r := h.call("memory_capture", map[string]any{
		"consent": true, "session_id": "s1",
		"intent": "load users from postgresql://admin:" + sentinel + "@db.internal/app",
		"decisions": []any{map[string]any{"password": sentinel, "api_key": "${API_KEY}",
			"contact": "jane.doe@example.com", "primary_key": "id"}},
		"notes": "call 555-123-4567 from 10.1.2.3",
	})
	if r.isError {
		t.Fatal(r.errObj())
	}
	recs := h.auditFor(r.correlationID())
	raw, _ := json.Marshal(recs[0])
	text := string(raw)
	for _, leaked := range []string{sentinel, "jane.doe@example.com", "555-123-4567", "10.1.2.3",
		"admin:"} {
		if strings.Contains(text, leaked) {
			t.Errorf("audit holds %q: %s", leaked, text)
		}
	}
	// Free text of memory_capture is omitted; secret-named keys are still masked.
	for _, kept := range []string{`"password":"***MASKED***"`, `"primary_key":"***OMITTED*** (2 bytes)"`,
		`"session_id":"s1"`} {
		if !strings.Contains(text, kept) {
			t.Errorf("audit lacks %s: %s", kept, text)
		}
	}

	// Other tools mask secret keys but keep ordinary text.
	r = h.call("oml_validate", map[string]any{"oml_content": "contact: jane@example.com\n" +
		"password: " + sentinel})
	raw, _ = json.Marshal(h.auditFor(r.correlationID())[0])
	if strings.Contains(string(raw), sentinel) || !strings.Contains(string(raw), "jane@example.com") {
		t.Errorf("oml_validate audit: %s", raw)
	}
}

func TestAuditRecordFields(t *testing.T) {
	h := newHarness(t, "echo", nil)
	r := h.call("connections.doctor", map[string]any{"connection": "mysql.main"})
	recs := h.auditFor(r.correlationID())
	start, done := recs[0], recs[1]
	for _, rec := range recs {
		if rec["session_id"] != "mcp_000000000000" || rec["timestamp"] == nil ||
			rec["timestamp_ms"] == nil {
			t.Errorf("common fields: %v", rec)
		}
	}
	if start["event"] != "tool_call" || start["event_type"] != "tool_call_started" ||
		start["tool"] != "connections_doctor" || start["requested_name"] != "connections.doctor" ||
		start["bytes_in"] != r.meta()["bytes_in"] {
		t.Errorf("start %v", start)
	}
	if done["event"] != "tool_result" || done["event_type"] != "tool_call_completed" ||
		done["status"] != "success" || done["bytes_out"] != r.meta()["bytes_out"] ||
		done["duration_ms"] == nil {
		t.Errorf("done %v", done)
	}
	if _, has := done["result"]; has {
		t.Error("audit holds the result body")
	}
}

func TestResourcesDelegateToTheCLI(t *testing.T) {
	h := newHarness(t, "echo", nil)
	ctx := context.Background()
	list, err := h.client.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Resources) != 1 || list.Resources[0].URI != "osiris://mcp/schemas/oml/v0.1.0.json" ||
		list.Resources[0].MIMEType != "application/json" {
		t.Fatalf("resources %+v", list.Resources)
	}
	templates, err := h.client.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(templates.ResourceTemplates) != 1 ||
		templates.ResourceTemplates[0].URITemplate.Raw() != "osiris://mcp/drafts/oml/{filename}" {
		t.Fatalf("templates %+v", templates.ResourceTemplates)
	}

	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "osiris://mcp/schemas/oml/v0.1.0.json"
	read, err := h.client.ReadResource(ctx, rr)
	if err != nil {
		t.Fatal(err)
	}
	tc := read.Contents[0].(mcp.TextResourceContents)
	if tc.URI != rr.Params.URI || tc.MIMEType != "application/json" || !strings.Contains(tc.Text, "0.1.0") {
		t.Errorf("contents %+v", tc)
	}

	rr.Params.URI = "osiris://mcp/drafts/oml/missing.yaml"
	if _, err := h.client.ReadResource(ctx, rr); err == nil ||
		!strings.Contains(err.Error(), "Resource not found") {
		t.Errorf("missing resource: %v", err)
	}

	var accesses []map[string]any
	for _, rec := range h.auditRecords() {
		if rec["event"] == "resource_access" {
			accesses = append(accesses, rec)
		}
	}
	if len(accesses) != 4 {
		t.Fatalf("%d resource_access records, want 4", len(accesses))
	}
	last := accesses[3]
	if last["operation"] != "read" || last["status"] != "error" ||
		last["resource_uri"] != "osiris://mcp/drafts/oml/missing.yaml" {
		t.Errorf("last access %v", last)
	}
	if accesses[0]["operation"] != "list" || accesses[0]["status"] != "ok" {
		t.Errorf("first access %v", accesses[0])
	}
}

func TestHandshakeIsRecorded(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, "echo", func(o *Options) {
		o.Telemetry = telemetry.New(telemetry.Config{Enabled: true, Dir: dir, SessionID: "tel_x"})
	})
	_ = h
	recs := readJSONL(t, dir, "mcp_telemetry_*.jsonl")
	if len(recs) != 1 || recs[0]["event"] != "handshake" || recs[0]["success"] != true {
		t.Fatalf("telemetry %v", recs)
	}
	info := recs[0]["client_info"].(map[string]any)
	if info["name"] != "test" {
		t.Errorf("client_info %v", info)
	}
}

// A resource URI over the URI limit is refused before any CLI runs: on the child's
// command line a 17 MB URI would fail with "argument list too long".
func TestHugeResourceURIIsRefusedBeforeTheCLI(t *testing.T) {
	h := newHarness(t, "echo", nil)
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "osiris://mcp/drafts/oml/" + strings.Repeat("a", maxResourceURIBytes)
	_, err := h.client.ReadResource(context.Background(), rr)
	if err == nil || !strings.Contains(err.Error(), "POLICY/POL002") ||
		!strings.Contains(err.Error(), "URI") {
		t.Errorf("huge URI: %v", err)
	}
	if h.cliCalls() != 0 {
		t.Errorf("%d CLI calls for a refused URI", h.cliCalls())
	}
	var audited bool
	for _, rec := range h.auditRecords() {
		uri, _ := rec["resource_uri"].(string)
		if rec["event"] == "resource_access" && rec["status"] == "error" && len(uri) < 1024 {
			audited = true
		}
	}
	if !audited {
		t.Error("the refused read is not audited with a short URI preview")
	}

	// A URI at the limit still reaches the CLI.
	rr.Params.URI = "osiris://mcp/drafts/oml/" + strings.Repeat("a",
		maxResourceURIBytes-len("osiris://mcp/drafts/oml/"))
	if _, err := h.client.ReadResource(context.Background(), rr); err == nil ||
		!strings.Contains(err.Error(), "Resource not found") {
		t.Errorf("URI at the limit: %v", err)
	}
	if h.cliCalls() != 1 {
		t.Errorf("%d CLI calls, want 1", h.cliCalls())
	}
}

// Arguments whose compact JSON passes 4096 bytes are audited as a string: the first 2048
// bytes of the masked JSON, never cut inside a character, then the marker with the real
// size. A long value without spaces keeps its text, and redaction still runs on it.
func TestAuditPreviewOfLargeArguments(t *testing.T) {
	h := newHarness(t, "echo", nil)
	const sentinel = "Sentinel-Pa55word-77"
	content := "source: postgres://admin:" + sentinel + "@db.internal/app\n" +
		strings.Repeat("é", 5000)
	r := h.call("oml_validate", map[string]any{"oml_content": content, "strict": false})
	start := h.auditFor(r.correlationID())[0]
	got, ok := start["arguments"].(string)
	if !ok {
		t.Fatalf("arguments %T, want a preview string", start["arguments"])
	}
	total := int(r.meta()["bytes_in"].(float64))
	marker := fmt.Sprintf("... [TRUNCATED: %d bytes total]", total)
	kept, found := strings.CutSuffix(got, marker)
	if !found {
		t.Fatalf("preview does not end with %q: %.200q", marker, got)
	}
	if len(kept) > 2048 || len(kept) < 2040 || !utf8.ValidString(kept) {
		t.Errorf("kept %d bytes (valid UTF-8: %v), want up to 2048 whole characters",
			len(kept), utf8.ValidString(kept))
	}
	if !strings.HasPrefix(kept, `{"oml_content":"source: postgres://***@db.internal/app\n`) ||
		!strings.HasSuffix(kept, "éé") {
		t.Errorf("kept text %.120q ... %q", kept, kept[max(0, len(kept)-20):])
	}
	if strings.Contains(got, sentinel) || strings.Contains(got, "[cut]") {
		t.Errorf("preview leaks or is cut: %.200q", got)
	}

	// One long value without spaces.
	r = h.call("oml_save", map[string]any{"session_id": "s1",
		"oml_content": strings.Repeat("x", 10000)})
	got, _ = h.auditFor(r.correlationID())[0]["arguments"].(string)
	if !strings.HasPrefix(got, `{"oml_content":"xxxxxxxx`) || strings.Count(got, "x") < 2000 {
		t.Errorf("preview of a value without spaces: %.200q", got)
	}
}

// memory_capture arguments are audited with their structure and short identifiers, but
// every free-text string is replaced by a marker with its size: only the CLI knows the
// connection secrets a user may paste into notes, and it stores the redacted text anyway.
func TestMemoryCaptureAuditOmitsFreeText(t *testing.T) {
	h := newHarness(t, "echo", nil)
	const sentinel = "hunter2-Sentinel-Pa55"
	notes := "the warehouse password is " + sentinel
	r := h.call("memory_capture", map[string]any{
		"consent": true, "session_id": "s1", "retention_days": 30,
		"intent":      "copy orders, login " + sentinel,
		"oml_uri":     "osiris://mcp/drafts/oml/jane.doe@example.com.yaml",
		"notes":       notes,
		"decisions":   []any{map[string]any{"step": "extract", "reason": sentinel, "rows": 3}},
		"actor_trace": []any{map[string]any{"tool": "oml_validate", "ok": true}},
		"artifacts":   []any{"osiris://mcp/drafts/oml/" + sentinel + ".yaml"},
		"error_report": map[string]any{"message": "auth failed for " + sentinel,
			"details": []any{sentinel}},
		"extra": sentinel,
	})
	if r.isError {
		t.Fatal(r.errObj())
	}
	recs := h.auditFor(r.correlationID())
	raw, _ := json.Marshal(recs)
	if strings.Contains(string(raw), sentinel) {
		t.Fatalf("audit holds the pasted secret: %s", raw)
	}
	args, ok := recs[0]["arguments"].(map[string]any)
	if !ok {
		t.Fatalf("arguments %v", recs[0]["arguments"])
	}
	omitted := func(s string) string { return fmt.Sprintf("***OMITTED*** (%d bytes)", len(s)) }
	want := map[string]any{
		"consent": true, "session_id": "s1", "retention_days": float64(30),
		"oml_uri": "osiris://mcp/drafts/oml/***EMAIL***",
		"intent":  omitted("copy orders, login " + sentinel),
		"notes":   omitted(notes),
		"decisions": []any{map[string]any{"step": omitted("extract"), "reason": omitted(sentinel),
			"rows": float64(3)}},
		"actor_trace": []any{map[string]any{"tool": omitted("oml_validate"), "ok": true}},
		"artifacts":   []any{omitted("osiris://mcp/drafts/oml/" + sentinel + ".yaml")},
		"error_report": map[string]any{"message": omitted("auth failed for " + sentinel),
			"details": []any{omitted(sentinel)}},
		"extra": omitted(sentinel),
	}
	if diff := cmp.Diff(want, args); diff != "" {
		t.Errorf("audited arguments (-want +got):\n%s", diff)
	}

	// The CLI still receives the text: it redacts and stores it.
	if !strings.Contains(h.record(r).Stdin, notes) {
		t.Errorf("CLI stdin lacks the notes: %s", h.record(r).Stdin)
	}
}
