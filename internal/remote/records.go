package remote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Recorder appends events and metrics to a run directory in the same line format as a
// local run: {"ts","session","event",…payload} and {"ts","session","metric","value",
// "unit"?,"step_id"?}. Every value passes the redactor first. Safe for concurrent use.
type Recorder struct {
	runID    string
	events   string
	metrics  string
	redactor *secrets.Redactor

	mu     sync.Mutex
	counts map[string]int
	err    error
}

// NewRecorder writes to runDir/events.jsonl and runDir/metrics.jsonl.
func NewRecorder(runDir, runID string, redactor *secrets.Redactor) *Recorder {
	return &Recorder{runID: runID, redactor: redactor, counts: map[string]int{},
		events:  filepath.Join(runDir, "events.jsonl"),
		metrics: filepath.Join(runDir, "metrics.jsonl")}
}

// EventsPath is the events file.
func (r *Recorder) EventsPath() string { return r.events }

// MetricsPath is the metrics file.
func (r *Recorder) MetricsPath() string { return r.metrics }

// Event records an event raised now.
func (r *Recorder) Event(name string, fields map[string]any) {
	r.EventAt(time.Now(), name, fields)
}

// EventAt records an event with the time it was raised (remote events keep theirs).
func (r *Recorder) EventAt(ts time.Time, name string, fields map[string]any) {
	head := []kv{{"ts", formatTS(ts)}, {"session", r.runID}, {"event", name}}
	r.append(r.events, head, fields, "event:"+name)
}

// Metric records a metric observed now.
func (r *Recorder) Metric(name string, value any, unit, stepID string) {
	r.MetricAt(time.Now(), name, value, unit, stepID)
}

// MetricAt records a metric with the time it was observed.
func (r *Recorder) MetricAt(ts time.Time, name string, value any, unit, stepID string) {
	head := []kv{{"ts", formatTS(ts)}, {"session", r.runID}, {"metric", name}, {"value", value}}
	if unit != "" {
		head = append(head, kv{"unit", unit})
	}
	if stepID != "" {
		head = append(head, kv{"step_id", stepID})
	}
	r.append(r.metrics, head, nil, "metric:"+name)
}

// Count says how many events (kind "event") or metrics ("metric") of a name were written.
func (r *Recorder) Count(kind, name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[kind+":"+name]
}

// Err is the first write failure, if any; records after a failure are still attempted.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

type kv struct {
	key   string
	value any
}

func (r *Recorder) append(path string, head []kv, fields map[string]any, countKey string) {
	taken := map[string]bool{}
	for _, f := range head {
		taken[f.key] = true
	}
	payload := r.redactFields(fields)
	keys := make([]string, 0, len(payload))
	for k := range payload {
		if !taken[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		head = append(head, kv{k, payload[k]})
	}

	line, err := encodeOrdered(head)
	if err == nil {
		err = audit.AppendLine(path, line)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err == nil {
		r.counts[countKey]++
	}
}

// structuralKeys look secret by name but are record structure ("key" names an input).
var structuralKeys = map[string]bool{"key": true, "session": true, "event": true}

// redactFields masks secret-named fields and literal secret values, keeping the
// structural keys a local run keeps.
func (r *Recorder) redactFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if structuralKeys[k] {
			out[k] = r.redactor.RedactValue(v)
			continue
		}
		out[k] = r.redactor.RedactValue(map[string]any{k: v}).(map[string]any)[k]
	}
	return out
}

func encodeOrdered(fields []kv) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, _ := json.Marshal(f.key)
		buf.Write(key)
		buf.WriteByte(':')
		var val bytes.Buffer
		enc := json.NewEncoder(&val)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.value); err != nil {
			return nil, err
		}
		buf.Write(bytes.TrimRight(val.Bytes(), "\n"))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// formatTS is the record timestamp of a local run: UTC with milliseconds.
func formatTS(ts time.Time) string {
	return ts.UTC().Format("2006-01-02T15:04:05.000Z")
}
