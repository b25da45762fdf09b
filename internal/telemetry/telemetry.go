// Package telemetry counts what the MCP shim does (calls, bytes, time, errors) and writes
// one JSONL record per event. There is one emitter per process, and all its counters
// move together under one lock, so concurrent calls are counted exactly.
package telemetry

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/osirisgo/osiris/internal/audit"
)

// Config says where and whether to record. The zero value records nothing.
type Config struct {
	// Enabled turns recording on; off means no directory, no file and no counting.
	Enabled bool
	// Dir holds mcp_telemetry_YYYYMMDD.jsonl files.
	Dir string
	// SessionID names the shim instance ("tel_<12 hex>").
	SessionID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives write errors; nil means stderr.
	Logger *slog.Logger
}

// EnabledFromEnv reads OSIRIS_MCP_TELEMETRY_ENABLED: unset means on; set, only true, 1,
// yes and on (any case) keep it on.
func EnabledFromEnv(value string, set bool) bool {
	if !set {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// Metrics are the running totals of one process.
type Metrics struct {
	ToolCalls       int64 `json:"tool_calls"`
	TotalBytesIn    int64 `json:"total_bytes_in"`
	TotalBytesOut   int64 `json:"total_bytes_out"`
	TotalDurationMS int64 `json:"total_duration_ms"`
	Errors          int64 `json:"errors"`
}

// ToolCall is one finished tool call.
type ToolCall struct {
	// CorrelationID is the call's id ("mcp_<12 hex>"), the same as in its envelope and
	// audit records, so the three can be joined.
	CorrelationID string
	Tool          string
	OK            bool
	DurationMS    int64
	BytesIn       int64
	BytesOut      int64
	// Error is the error code of a failed call, already redacted.
	Error    string
	Metadata map[string]any
}

// Emitter records events and keeps the totals.
type Emitter struct {
	cfg     Config
	log     audit.DailyLog
	logger  *slog.Logger
	mu      sync.Mutex
	metrics Metrics
}

var (
	processOnce    sync.Once
	processEmitter *Emitter
)

// Init returns the process's emitter, creating it from cfg on the first call. Later
// calls return the same emitter whatever they pass, so two parts of a program can never
// split the counts between two emitters.
func Init(cfg Config) *Emitter {
	processOnce.Do(func() { processEmitter = New(cfg) })
	return processEmitter
}

// New creates an emitter that is not the process's one, for tests and tools that need
// their own totals.
func New(cfg Config) *Emitter {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &Emitter{
		cfg:    cfg,
		log:    audit.DailyLog{Dir: cfg.Dir, Prefix: "mcp_telemetry", Now: cfg.Now},
		logger: logger,
	}
}

// Enabled reports whether this emitter records anything.
func (e *Emitter) Enabled() bool { return e != nil && e.cfg.Enabled }

// Snapshot copies the totals; the copy is always consistent (no half-updated call).
func (e *Emitter) Snapshot() Metrics {
	if e == nil {
		return Metrics{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.metrics
}

// ServerStart records the start of a server.
func (e *Emitter) ServerStart(version, protocolVersion string) {
	e.write("server_start", map[string]any{"version": version, "protocol_version": protocolVersion})
}

// Handshake records a client's initialize.
func (e *Emitter) Handshake(duration time.Duration, success bool, clientInfo map[string]any) {
	e.write("handshake", map[string]any{
		"duration_ms": duration.Milliseconds(), "success": success, "client_info": clientInfo,
	})
}

// RecordToolCall counts one call and writes its record.
func (e *Emitter) RecordToolCall(c ToolCall) {
	if !e.Enabled() {
		return
	}
	e.mu.Lock()
	e.metrics.ToolCalls++
	e.metrics.TotalBytesIn += c.BytesIn
	e.metrics.TotalBytesOut += c.BytesOut
	e.metrics.TotalDurationMS += c.DurationMS
	if !c.OK {
		e.metrics.Errors++
	}
	e.mu.Unlock()

	status := "ok"
	if !c.OK {
		status = "error"
	}
	fields := map[string]any{
		"correlation_id": c.CorrelationID, "tool": c.Tool, "status": status,
		"duration_ms": c.DurationMS,
		"bytes_in":    c.BytesIn, "bytes_out": c.BytesOut,
	}
	if c.Error != "" {
		fields["error"] = c.Error
	}
	if len(c.Metadata) > 0 {
		fields["metadata"] = c.Metadata
	}
	e.write("tool_call", fields)
}

// ServerStop records the end of a server with the final totals. reason is "shutdown"
// for end of input or a signal, "error" otherwise.
func (e *Emitter) ServerStop(reason string) {
	e.write("server_stop", map[string]any{"reason": reason, "metrics": e.Snapshot()})
}

func (e *Emitter) write(event string, fields map[string]any) {
	if !e.Enabled() {
		return
	}
	now := time.Now
	if e.cfg.Now != nil {
		now = e.cfg.Now
	}
	t := now().UTC()
	fields["event"] = event
	fields["session_id"] = e.cfg.SessionID
	fields["timestamp"] = t.Format("2006-01-02T15:04:05.000Z")
	fields["timestamp_ms"] = t.UnixMilli()
	if _, err := audit.AppendJSON(e.log.PathFor(t), fields); err != nil {
		e.logger.Error("telemetry write failed", "event", event, "error", err)
	}
}
