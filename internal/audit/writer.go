// Package audit appends whole JSON lines to files shared by goroutines and processes.
// The MCP audit log, telemetry and memory sessions all write through it, so concurrent
// writers never interleave or lose a line.
package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gofrs/flock"
)

// pathLocks serialises writers of one file inside this process; flock serialises
// processes. Both are needed: flock is per file description, not per goroutine.
var pathLocks sync.Map // path -> *sync.Mutex

func lockFor(path string) *sync.Mutex {
	mu, _ := pathLocks.LoadOrStore(path, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// AppendJSON marshals v and appends it as one line to path with a single write, holding
// the process mutex and an exclusive file lock. Directories are created 0700, files 0600.
// It returns the length of the line written, without its newline.
func AppendJSON(path string, v any) (int, error) {
	line, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode record: %w", err)
	}
	return len(line), AppendLine(path, line)
}

// AppendLine appends line plus a newline to path in one write under both locks.
func AppendLine(path string, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	mu := lockFor(path)
	mu.Lock()
	defer mu.Unlock()

	fileLock := flock.New(path + ".lock")
	if err := fileLock.Lock(); err != nil {
		return fmt.Errorf("lock %s: %w", filepath.Base(path), err)
	}
	defer fileLock.Unlock()

	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// WithLock runs fn while holding both locks of path, for read-modify-write of a whole
// file (retention pruning). fn must write through a temp file and rename.
func WithLock(path string, fn func() error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	mu := lockFor(path)
	mu.Lock()
	defer mu.Unlock()
	fileLock := flock.New(path + ".lock")
	if err := fileLock.Lock(); err != nil {
		return err
	}
	defer fileLock.Unlock()
	return fn()
}
