package memory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/fsutil"
)

// PruneResult counts what a retention pass found and did.
type PruneResult struct {
	ScannedEntries int
	RemovedEntries int
	// InvalidEntries are lines that are not a memory entry with a timestamp; they are
	// kept, since deleting what cannot be read would destroy data silently.
	InvalidEntries int
	FilesRewritten int
	FilesDeleted   int
	DryRun         bool
}

// Prune drops every entry whose timestamp plus its retention_days lies before now. Each
// session file is rewritten under its lock through a temporary file and a rename; a file
// left without entries is deleted. With dryRun nothing changes on disk.
//
// Limitation: each session file is read whole into memory while it is pruned.
func Prune(memoryDir string, now time.Time, dryRun bool) (*PruneResult, error) {
	res := &PruneResult{DryRun: dryRun}
	files, err := filepath.Glob(filepath.Join(memoryDir, "sessions", "*.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		err := audit.WithLock(path, func() error { return pruneFile(path, now, dryRun, res) })
		if err != nil {
			return res, fmt.Errorf("prune %s: %w", filepath.Base(path), err)
		}
	}
	return res, nil
}

func pruneFile(path string, now time.Time, dryRun bool, res *PruneResult) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}

	var kept [][]byte
	removed := 0
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		res.ScannedEntries++
		expired, ok := entryExpired(line, now)
		if !ok {
			res.InvalidEntries++
		}
		if expired {
			removed++
			continue
		}
		kept = append(kept, line)
	}
	res.RemovedEntries += removed
	if removed == 0 || dryRun {
		return nil
	}

	// Limitation: the <session>.jsonl.lock file stays; removing it while another process
	// waits on it would let two writers hold different locks for one file.
	if len(kept) == 0 {
		if err := os.Remove(path); err != nil {
			return err
		}
		res.FilesDeleted++
		return nil
	}
	// The rename keeps a reader seeing the old file or the new one, never half of it.
	if err := fsutil.WriteFileAtomic(path, joinLines(kept), 0o600); err != nil {
		return err
	}
	res.FilesRewritten++
	return nil
}

// entryExpired reports whether a line's retention has run out; ok is false when the line
// is not a readable entry (then it never counts as expired).
func entryExpired(line []byte, now time.Time) (expired, ok bool) {
	var entry struct {
		Timestamp     string `json:"timestamp"`
		RetentionDays *int   `json:"retention_days"`
	}
	if err := json.Unmarshal(line, &entry); err != nil || entry.RetentionDays == nil {
		return false, false
	}
	ts, err := time.Parse(time.RFC3339Nano, entry.Timestamp)
	if err != nil {
		return false, false
	}
	keepUntil := ts.Add(time.Duration(*entry.RetentionDays) * 24 * time.Hour)
	return keepUntil.Before(now), true
}

// joinLines puts each line back with its newline, the JSONL file's framing.
func joinLines(lines [][]byte) []byte {
	var buf bytes.Buffer
	for _, line := range lines {
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}
