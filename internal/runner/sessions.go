package runner

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/naming"
)

// Session is one logged directory under run_logs: a pipeline run or a logged command.
type Session struct {
	SessionID    string `json:"session_id"`
	StartedAt    string `json:"started_at"`
	FinishedAt   string `json:"finished_at"`
	DurationMS   int64  `json:"duration_ms"`
	Status       string `json:"status"`
	PipelineName string `json:"pipeline_name"`
	StepsTotal   int    `json:"steps_total"`
	StepsOK      int    `json:"steps_ok"`
	Dir          string `json:"session_dir"`
}

// ListSessions finds every directory under the run logs directory that holds
// events.jsonl or osiris.log, at any depth, newest first.
func ListSessions(p *config.Project) ([]Session, error) {
	root := p.RunLogsDir()
	var out []Session
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return filepath.SkipAll
			}
			return nil
		}
		if !d.IsDir() || !isSessionDir(path) {
			return nil
		}
		out = append(out, readSession(path))
		return filepath.SkipDir
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt > out[j].StartedAt })
	return out, err
}

func isSessionDir(dir string) bool {
	for _, name := range []string{"events.jsonl", "osiris.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// readSession summarises a session from status.json, falling back to its events.
func readSession(dir string) Session {
	s := Session{Dir: dir, SessionID: filepath.Base(dir), Status: "unknown"}
	events := ReadJSONL(filepath.Join(dir, "events.jsonl"), 0)
	if len(events) > 0 {
		if id, ok := events[0]["session"].(string); ok && id != "" {
			s.SessionID = id
		}
		s.StartedAt, _ = events[0]["ts"].(string)
		s.FinishedAt, _ = events[len(events)-1]["ts"].(string)
		for _, ev := range events {
			if ev["event"] == "run_start" {
				s.PipelineName, _ = ev["pipeline"].(string)
			}
		}
	}
	var st Status
	if raw, err := os.ReadFile(filepath.Join(dir, "status.json")); err == nil &&
		json.Unmarshal(raw, &st) == nil {
		s.SessionID = firstNonEmpty(st.RunID, s.SessionID)
		s.StartedAt = firstNonEmpty(st.StartedAt, s.StartedAt)
		s.FinishedAt = firstNonEmpty(st.FinishedAt, s.FinishedAt)
		s.PipelineName = firstNonEmpty(st.Pipeline, s.PipelineName)
		s.StepsTotal, s.StepsOK = st.StepsTotal, st.StepsCompleted
		s.Status = "failed"
		if st.OK {
			s.Status = "success"
		}
	} else if len(events) > 0 {
		s.Status = "completed"
	}
	if a, err := time.Parse(time.RFC3339, s.StartedAt); err == nil {
		if b, err := time.Parse(time.RFC3339, s.FinishedAt); err == nil {
			s.DurationMS = b.Sub(a).Milliseconds()
		}
	}
	return s
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// FindSession returns the newest session with the id (run id or directory name). Like
// FindRun it takes "<pipeline>/<run_id>", and refuses with *AmbiguousRunError an id that
// sessions of several pipelines share.
func FindSession(p *config.Project, id string) (*Session, error) {
	sessions, err := ListSessions(p)
	if err != nil {
		return nil, err
	}
	slug, bare, qualified := strings.Cut(id, "/")
	if !qualified {
		slug, bare = "", id
	}
	var found *Session
	var candidates []string
	for i := range sessions {
		s := &sessions[i]
		base := filepath.Base(s.Dir)
		if s.SessionID != bare && base != bare && !strings.HasSuffix(base, "_"+bare) {
			continue
		}
		pipeline := naming.Slugify(s.PipelineName)
		if slug != "" && pipeline != slug {
			continue
		}
		if found == nil {
			found = s
		}
		if candidate := pipeline + "/" + bare; !slices.Contains(candidates, candidate) {
			candidates = append(candidates, candidate)
		}
	}
	if len(candidates) > 1 {
		return nil, &AmbiguousRunError{RunID: bare, Candidates: candidates}
	}
	return found, nil
}

// ReadJSONL reads up to limit JSON objects (0 = all) from a file; bad lines are skipped.
func ReadJSONL(path string, limit int) []map[string]any {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 8*1024*1024)
	for scanner.Scan() {
		var m map[string]any
		if json.Unmarshal(scanner.Bytes(), &m) == nil {
			out = append(out, m)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// ReadStatus reads a run directory's status.json.
func ReadStatus(dir string) (*Status, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "status.json"))
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
