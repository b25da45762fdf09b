package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/secrets"
)

// commandSession is the log directory of one non-run command (connections, discovery,
// validate): <run_logs_dir>/<command>_<epoch_ms>/ with events.jsonl, metrics.jsonl and
// osiris.log. Logging is best effort: a command never fails because its log could not
// be written, but the failure is reported on stderr.
type commandSession struct {
	ID  string
	dir string
	f   *Factory
	mu  sync.Mutex
	bad bool
}

func newCommandSession(f *Factory, p *config.Project, command string) *commandSession {
	id := fmt.Sprintf("%s_%d", command, time.Now().UnixMilli())
	s := &commandSession{ID: id, dir: filepath.Join(p.RunLogsDir(), id), f: f}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.warn(err)
	}
	return s
}

// Event appends one redacted event line.
func (s *commandSession) Event(name string, fields map[string]any) {
	record := map[string]any{}
	for k, v := range secrets.NewRedactor().RedactValue(fields).(map[string]any) {
		record[k] = v
	}
	record["ts"] = time.Now().UTC().Format(time.RFC3339Nano)
	record["session"] = s.ID
	record["event"] = name
	s.append("events.jsonl", record)
}

// Metric appends one metric line.
func (s *commandSession) Metric(name string, value any, unit string) {
	record := map[string]any{
		"ts": time.Now().UTC().Format(time.RFC3339Nano), "session": s.ID,
		"metric": name, "value": value,
	}
	if unit != "" {
		record["unit"] = unit
	}
	s.append("metrics.jsonl", record)
}

func (s *commandSession) append(file string, record map[string]any) {
	line, err := json.Marshal(record)
	if err != nil {
		s.warn(err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := os.OpenFile(filepath.Join(s.dir, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.warnLocked(err)
		return
	}
	defer out.Close()
	if _, err := out.Write(append(line, '\n')); err != nil {
		s.warnLocked(err)
	}
}

func (s *commandSession) warn(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warnLocked(err)
}

func (s *commandSession) warnLocked(err error) {
	if s.bad {
		return
	}
	s.bad = true
	s.f.Logger().Warn("command log not written", "session", s.ID, "error", err.Error())
}
