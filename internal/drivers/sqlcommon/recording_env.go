package sqlcommon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// RecordingEnv is a StepEnv that keeps every event, metric and log line in memory. The
// drivers' tests and the database benchmark use it to run a driver without the runner
// and to read back everything the driver reported.
type RecordingEnv struct {
	Dir string

	mu      sync.Mutex
	events  []RecordedEvent
	metrics map[string]any
	logs    bytes.Buffer
	logger  *slog.Logger
}

// RecordedEvent is one event as a driver emitted it.
type RecordedEvent struct {
	Name   string
	Fields map[string]any
}

// NewRecordingEnv returns an env whose artifacts go to dir (created if missing).
func NewRecordingEnv(dir string) *RecordingEnv {
	_ = os.MkdirAll(dir, 0o755)
	e := &RecordingEnv{Dir: dir, metrics: map[string]any{}}
	e.logger = slog.New(slog.NewTextHandler(lockedWriter{e}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
	}))
	return e
}

type lockedWriter struct{ e *RecordingEnv }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

// OutputDir is the step's artifact folder.
func (e *RecordingEnv) OutputDir() string { return e.Dir }

// BasePath is the artifact folder's parent.
func (e *RecordingEnv) BasePath() string { return filepath.Dir(e.Dir) }

// Metric records a metric (the last value of a name wins).
func (e *RecordingEnv) Metric(name string, value any, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics[name] = value
}

// Event records an event.
func (e *RecordingEnv) Event(name string, fields map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	copied := make(map[string]any, len(fields))
	for k, v := range fields {
		copied[k] = v
	}
	e.events = append(e.events, RecordedEvent{Name: name, Fields: copied})
}

// Logger logs at debug level into memory.
func (e *RecordingEnv) Logger() *slog.Logger { return e.logger }

// Events returns the events recorded so far.
func (e *RecordingEnv) Events() []RecordedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]RecordedEvent(nil), e.events...)
}

// EventsNamed returns the recorded events of one name.
func (e *RecordingEnv) EventsNamed(name string) []RecordedEvent {
	var out []RecordedEvent
	for _, ev := range e.Events() {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// MetricValue returns a metric's last value.
func (e *RecordingEnv) MetricValue(name string) (any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.metrics[name]
	return v, ok
}

// Transcript returns everything recorded (logs, events as JSON, metrics) as one text, for
// tests that search all of a driver's output for a secret.
func (e *RecordingEnv) Transcript() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b bytes.Buffer
	b.Write(e.logs.Bytes())
	for _, ev := range e.events {
		line, err := json.Marshal(ev.Fields)
		if err != nil {
			line = []byte(fmt.Sprint(ev.Fields))
		}
		fmt.Fprintf(&b, "event %s %s\n", ev.Name, line)
	}
	for name, v := range e.metrics {
		fmt.Fprintf(&b, "metric %s %v\n", name, v)
	}
	return b.String()
}
