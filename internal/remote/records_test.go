package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/secrets"
)

func TestRecorderWritesLocalFormatRedacted(t *testing.T) {
	dir := t.TempDir()
	redactor := secrets.NewRedactor()
	redactor.Add("hunter2-secret-value")
	rec := NewRecorder(dir, "run-7", redactor)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	rec.EventAt(ts, "inputs_resolved", map[string]any{"key": "df_a", "step_id": "b",
		"password": "x", "note": "uses hunter2-secret-value", "session": "spoofed"})
	rec.MetricAt(ts, "rows_read", 10, "rows", "a")
	rec.MetricAt(ts, "steps_total", 2, "", "")

	events, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	want := `{"ts":"2025-01-02T03:04:05.678Z","session":"run-7","event":"inputs_resolved",` +
		`"key":"df_a","note":"uses ***","password":"***","step_id":"b"}` + "\n"
	if string(events) != want {
		t.Errorf("events.jsonl:\n got %s\nwant %s", events, want)
	}
	metrics, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(metrics)), "\n")
	if len(lines) != 2 || lines[0] != `{"ts":"2025-01-02T03:04:05.678Z","session":"run-7",`+
		`"metric":"rows_read","value":10,"unit":"rows","step_id":"a"}` ||
		lines[1] != `{"ts":"2025-01-02T03:04:05.678Z","session":"run-7","metric":"steps_total","value":2}` {
		t.Errorf("metrics.jsonl:\n%s", metrics)
	}
	if rec.Count("event", "inputs_resolved") != 1 || rec.Err() != nil {
		t.Errorf("count %d err %v", rec.Count("event", "inputs_resolved"), rec.Err())
	}
}
