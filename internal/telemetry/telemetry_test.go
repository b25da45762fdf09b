package telemetry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func records(t *testing.T, dir string) []map[string]any {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "mcp_telemetry_*.jsonl"))
	var out []map[string]any
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
				t.Fatalf("broken line in %s: %v", file, err)
			}
			out = append(out, rec)
		}
		f.Close()
	}
	return out
}

func TestConcurrentCallsAreCountedExactly(t *testing.T) {
	dir := t.TempDir()
	e := New(Config{Enabled: true, Dir: dir, SessionID: "tel_0123456789ab"})
	e.ServerStart("v1", "2025-06-18")

	const calls = 100
	var wg sync.WaitGroup
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e.RecordToolCall(ToolCall{CorrelationID: fmt.Sprintf("mcp_%012d", i),
				Tool: "connections_list", OK: i%10 != 0,
				DurationMS: 3, BytesIn: 2, BytesOut: 100, Error: map[bool]string{true: "SEMANTIC/SEM001"}[i%10 == 0]})
		}(i)
		// Snapshots taken meanwhile must always be consistent.
		snap := e.Snapshot()
		if snap.TotalBytesIn != 2*snap.ToolCalls || snap.TotalBytesOut != 100*snap.ToolCalls {
			t.Fatalf("inconsistent snapshot %+v", snap)
		}
	}
	wg.Wait()
	e.ServerStop("shutdown")

	want := Metrics{ToolCalls: calls, TotalBytesIn: 2 * calls, TotalBytesOut: 100 * calls,
		TotalDurationMS: 3 * calls, Errors: 10}
	if got := e.Snapshot(); got != want {
		t.Fatalf("metrics %+v, want %+v", got, want)
	}

	recs := records(t, dir)
	counts := map[string]int{}
	ids := map[any]bool{}
	var stop map[string]any
	for _, rec := range recs {
		counts[rec["event"].(string)]++
		if rec["event"] == "tool_call" {
			ids[rec["correlation_id"]] = true
		}
		if rec["session_id"] != "tel_0123456789ab" || rec["timestamp"] == nil || rec["timestamp_ms"] == nil {
			t.Fatalf("record misses common fields: %v", rec)
		}
		if rec["event"] == "server_stop" {
			stop = rec
		}
	}
	if counts["tool_call"] != calls || counts["server_start"] != 1 || counts["server_stop"] != 1 {
		t.Fatalf("event counts %v", counts)
	}
	if len(ids) != calls || !ids["mcp_000000000042"] {
		t.Errorf("tool_call records carry %d distinct correlation ids, want %d", len(ids), calls)
	}
	metrics := stop["metrics"].(map[string]any)
	if metrics["tool_calls"] != float64(calls) || metrics["errors"] != float64(10) ||
		stop["reason"] != "shutdown" {
		t.Errorf("server_stop = %v", stop)
	}
}

func TestDisabledWritesAndCountsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "telemetry")
	e := New(Config{Enabled: false, Dir: dir})
	e.ServerStart("v", "p")
	e.RecordToolCall(ToolCall{Tool: "x", OK: true, BytesIn: 5})
	e.ServerStop("shutdown")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory created while disabled: %v", err)
	}
	if e.Snapshot() != (Metrics{}) {
		t.Errorf("counted while disabled: %+v", e.Snapshot())
	}
}

func TestInitReturnsOneEmitterPerProcess(t *testing.T) {
	first := Init(Config{Enabled: true, Dir: t.TempDir(), SessionID: "tel_a"})
	second := Init(Config{Enabled: false, SessionID: "tel_b"})
	if first != second {
		t.Fatal("Init created a second emitter")
	}
	if !second.Enabled() || second.cfg.SessionID != "tel_a" {
		t.Errorf("first configuration did not win: %+v", second.cfg)
	}
}

func TestEnabledFromEnv(t *testing.T) {
	cases := []struct {
		value string
		set   bool
		want  bool
	}{
		{"", false, true}, {"true", true, true}, {"ON", true, true}, {"Yes", true, true},
		{"1", true, true}, {"false", true, false}, {"0", true, false}, {"", true, false},
		{"enabled", true, false},
	}
	for _, c := range cases {
		if got := EnabledFromEnv(c.value, c.set); got != c.want {
			t.Errorf("EnabledFromEnv(%q, %v) = %v", c.value, c.set, got)
		}
	}
}

func TestHandshakeRecord(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	e := New(Config{Enabled: true, Dir: dir, SessionID: "tel_x", Now: func() time.Time { return at }})
	e.Handshake(15*time.Millisecond, true, map[string]any{"name": "claude", "version": "1"})
	recs := records(t, dir)
	if len(recs) != 1 || recs[0]["duration_ms"] != float64(15) || recs[0]["success"] != true {
		t.Fatalf("records %v", recs)
	}
	if _, err := os.Stat(filepath.Join(dir, "mcp_telemetry_20250506.jsonl")); err != nil {
		t.Error(err)
	}
}
