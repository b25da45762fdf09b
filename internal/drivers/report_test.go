package drivers

import (
	"log/slog"
	"reflect"
	"testing"
	"time"
)

// recordingEnv keeps what a driver reports, in order.
type recordingEnv struct{ reports []string }

func (e *recordingEnv) OutputDir() string    { return "" }
func (e *recordingEnv) BasePath() string     { return "" }
func (e *recordingEnv) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (e *recordingEnv) Metric(name string, value any, unit string) {
	e.reports = append(e.reports, "metric "+name+" "+unit)
	if _, ok := value.(int64); !ok {
		e.reports = append(e.reports, "metric "+name+" is not int64")
	}
}

func (e *recordingEnv) Event(name string, fields map[string]any) {
	e.reports = append(e.reports, "event "+name)
	if fields["step_id"] != "extract_orders" || fields["rows"] != int64(42) {
		e.reports = append(e.reports, "wrong fields")
	}
	if ms, ok := fields["duration_ms"].(int64); !ok || ms < 0 {
		e.reports = append(e.reports, "wrong duration")
	}
}

func TestReportExtracted(t *testing.T) {
	env := &recordingEnv{}

	ReportExtracted(env, "extract_orders", 42, time.Now().Add(-time.Second))

	want := []string{"metric rows_read rows", "metric duration_ms ms",
		"event extraction.complete"}
	if !reflect.DeepEqual(env.reports, want) {
		t.Fatalf("reports = %q, want %q", env.reports, want)
	}
}
