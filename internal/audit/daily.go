package audit

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// DailyLog is a JSONL file per UTC day, <Dir>/<Prefix>_YYYYMMDD.jsonl. The date is taken
// at every write, so a server running past midnight starts the next day's file.
type DailyLog struct {
	Dir    string
	Prefix string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// PathFor is the file a record written at t goes to.
func (d DailyLog) PathFor(t time.Time) string {
	return filepath.Join(d.Dir, fmt.Sprintf("%s_%s.jsonl", d.Prefix, t.UTC().Format("20060102")))
}

func (d DailyLog) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Append writes v as one whole line to today's file.
func (d DailyLog) Append(v any) error {
	_, err := AppendJSON(d.PathFor(d.now()), v)
	return err
}

// EventLogger writes the MCP audit log: one record per tool call, result, error and
// resource access, each with the fields every audit record shares. A failed write is
// reported on stderr and never fails the call being audited.
type EventLogger struct {
	log       DailyLog
	sessionID string
	logger    *slog.Logger
}

// NewEventLogger writes mcp_audit_YYYYMMDD.jsonl files under dir. sessionID names the
// shim instance ("mcp_<12 hex>"). logger receives write errors; nil means stderr.
func NewEventLogger(dir, sessionID string, logger *slog.Logger) *EventLogger {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return &EventLogger{
		log: DailyLog{Dir: dir, Prefix: "mcp_audit"}, sessionID: sessionID, logger: logger,
	}
}

// SetClock replaces the clock, for tests that cross midnight.
func (l *EventLogger) SetClock(now func() time.Time) { l.log.Now = now }

// SessionID is the shim instance id the records carry.
func (l *EventLogger) SessionID() string { return l.sessionID }

// Log appends one record: event and eventType name it ("tool_call", "tool_call_started"),
// fields are its own data. Common fields win over same-named entries in fields.
func (l *EventLogger) Log(event, eventType, correlationID string, fields map[string]any) {
	if l == nil {
		return
	}
	now := l.log.now().UTC()
	record := make(map[string]any, len(fields)+6)
	for k, v := range fields {
		record[k] = v
	}
	record["event"] = event
	record["event_type"] = eventType
	record["timestamp"] = now.Format("2006-01-02T15:04:05.000Z")
	record["timestamp_ms"] = now.UnixMilli()
	record["session_id"] = l.sessionID
	record["correlation_id"] = correlationID

	if _, err := AppendJSON(l.log.PathFor(now), record); err != nil {
		l.logger.Error("audit write failed", "event", event, "error", err)
	}
}
