package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/osirisgo/osiris/internal/secrets"
)

// Event is one entry of a run's events.jsonl, as kept for the AIOP summary and reports.
type Event struct {
	TS     time.Time      `json:"ts"`
	Name   string         `json:"event"`
	Fields map[string]any `json:"fields,omitempty"`
}

// Metric is one entry of a run's metrics.jsonl.
type Metric struct {
	TS     time.Time `json:"ts"`
	Name   string    `json:"metric"`
	Value  any       `json:"value"`
	Unit   string    `json:"unit,omitempty"`
	StepID string    `json:"step_id,omitempty"`
}

// timelineCap bounds what the recorder keeps in memory for the AIOP summary; the files
// on disk hold everything.
const timelineCap = 5000

// recorder writes events, metrics and log lines of one run. Every record passes the
// run's redactor first. Records raised before the run directory exists are buffered and
// written when it is opened.
type recorder struct {
	mu       sync.Mutex
	session  string
	redactor *secrets.Redactor
	filter   []string
	sink     io.Writer

	events, metrics, log *os.File
	pendingEvents        [][]byte
	pendingMetrics       [][]byte

	timeline      []Event
	metricList    []Metric
	droppedEvents int
	writeErr      error
}

func newRecorder(session string, redactor *secrets.Redactor, filter []string,
	sink io.Writer) *recorder {
	return &recorder{session: session, redactor: redactor, filter: filter, sink: sink}
}

// open creates the record files in dir and flushes what was buffered.
func (r *recorder) open(dir string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	open := func(name string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY,
			0o644)
		return f
	}
	r.events, r.metrics, r.log = open("events.jsonl"), open("metrics.jsonl"), open("osiris.log")
	if err != nil {
		r.closeLocked()
		return fmt.Errorf("open run records: %w", err)
	}
	for _, line := range r.pendingEvents {
		r.writeLine(r.events, line)
	}
	for _, line := range r.pendingMetrics {
		r.writeLine(r.metrics, line)
	}
	r.pendingEvents, r.pendingMetrics = nil, nil
	return nil
}

// close closes the record files. It returns the first write or close that failed, so
// the caller can tell the user that the run's records are incomplete.
func (r *recorder) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked()
	return r.writeErr
}

func (r *recorder) closeLocked() {
	for _, f := range []*os.File{r.events, r.metrics, r.log} {
		if f != nil {
			r.noteWriteErr(f, f.Close())
		}
	}
	r.events, r.metrics, r.log = nil, nil, nil
}

func (r *recorder) writeLine(f *os.File, line []byte) {
	_, err := f.Write(append(line, '\n'))
	r.noteWriteErr(f, err)
}

// noteWriteErr keeps the first failure to write a record file, naming the file.
func (r *recorder) noteWriteErr(f *os.File, err error) {
	if err != nil && r.writeErr == nil {
		r.writeErr = fmt.Errorf("write %s: %w", filepath.Base(f.Name()), err)
	}
}

// wanted applies logging.events: "*" or a list of names, each may end with "*".
func (r *recorder) wanted(name string) bool {
	if len(r.filter) == 0 {
		return true
	}
	for _, f := range r.filter {
		if f == "*" || f == name || strings.HasSuffix(f, "*") &&
			strings.HasPrefix(name, strings.TrimSuffix(f, "*")) {
			return true
		}
	}
	return false
}

// exemptKeys name event fields that look like secrets by name but are structure.
var exemptKeys = map[string]bool{"key": true, "session": true, "event": true}

// redactFields masks secret-named fields and literal secret values.
func (r *recorder) redactFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		if exemptKeys[k] {
			out[k] = r.redactor.RedactValue(v)
			continue
		}
		masked := r.redactor.RedactValue(map[string]any{k: v}).(map[string]any)
		out[k] = masked[k]
	}
	return out
}

// event records one event at ts.
func (r *recorder) event(ts time.Time, name string, fields map[string]any) {
	if !r.wanted(name) {
		return
	}
	fields = r.redactFields(fields)
	line := encodeRecord([]kv{{"ts", isoTime(ts)}, {"session", r.session}, {"event", name}},
		fields)

	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.timeline) < timelineCap {
		r.timeline = append(r.timeline, Event{TS: ts, Name: name, Fields: fields})
	} else {
		r.droppedEvents++
	}
	if r.events != nil {
		r.writeLine(r.events, line)
	} else {
		r.pendingEvents = append(r.pendingEvents, line)
	}
	if r.sink != nil {
		r.toSink(map[string]any{"type": "event", "name": name, "ts": isoTime(ts),
			"data": fields})
	}
}

// metric records one metric value.
func (r *recorder) metric(ts time.Time, name string, value any, unit, stepID string) {
	head := []kv{{"ts", isoTime(ts)}, {"session", r.session}, {"metric", name},
		{"value", value}}
	if unit != "" {
		head = append(head, kv{"unit", unit})
	}
	if stepID != "" {
		head = append(head, kv{"step_id", stepID})
	}
	line := encodeRecord(head, nil)

	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.metricList) < timelineCap {
		r.metricList = append(r.metricList, Metric{TS: ts, Name: name, Value: value,
			Unit: unit, StepID: stepID})
	}
	if r.metrics != nil {
		r.writeLine(r.metrics, line)
	} else {
		r.pendingMetrics = append(r.pendingMetrics, line)
	}
	if r.sink != nil {
		r.toSink(map[string]any{"type": "metric", "name": name, "value": value,
			"ts": isoTime(ts), "unit": unit, "step_id": stepID})
	}
}

// toSink writes one JSON line to the event sink (the sandbox side of a remote run).
// Called with r.mu held, so lines never interleave.
func (r *recorder) toSink(v map[string]any) {
	raw, err := json.Marshal(v)
	if err != nil {
		return
	}
	_, _ = r.sink.Write(append(raw, '\n'))
}

// Write makes the recorder the destination of the run's slog handler: osiris.log.
func (r *recorder) Write(p []byte) (int, error) {
	text := r.redactor.Redact(string(p))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log != nil {
		if _, err := io.WriteString(r.log, text); err != nil {
			r.noteWriteErr(r.log, err)
			return 0, err
		}
	}
	return len(p), nil
}

// snapshot returns copies of what was kept for the summary.
func (r *recorder) snapshot() ([]Event, []Metric, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.timeline...), append([]Metric(nil), r.metricList...),
		r.droppedEvents
}

type kv struct {
	key   string
	value any
}

// encodeRecord writes the head fields in order, then the rest sorted by key, as one
// compact JSON line: stable enough to diff two runs.
func encodeRecord(head []kv, rest map[string]any) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	put := func(k string, v any) {
		raw, err := marshal(v)
		if err != nil {
			raw, _ = json.Marshal(fmt.Sprint(v))
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(k)
		buf.Write(key)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	seen := map[string]bool{}
	for _, f := range head {
		put(f.key, f.value)
		seen[f.key] = true
	}
	keys := make([]string, 0, len(rest))
	for k := range rest {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		put(k, rest[k])
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// marshal encodes without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// isoTime is the timestamp format of every record: UTC, milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newRunLogger logs to osiris.log through the recorder (redacted).
func newRunLogger(r *recorder, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(r, &slog.HandlerOptions{Level: level}))
}
