package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/osirisgo/osiris/internal/fsutil"
)

// DefaultTTL is how long a discovery stays fresh unless OSIRIS_MCP_CACHE_TTL_HOURS says
// otherwise.
const DefaultTTL = 24 * time.Hour

// TTLEnv names the variable holding the cache lifetime in hours (fractions allowed).
const TTLEnv = "OSIRIS_MCP_CACHE_TTL_HOURS"

// artifactNames are the files every cached discovery keeps beside its entry.
var artifactNames = []string{"overview", "tables", "samples"}

// lockRetry is how often a process waiting for another one's discovery re-tries the lock.
const lockRetry = 25 * time.Millisecond

// strayTempAge is how old a leftover temp file must be before clear removes it: younger
// ones may belong to a write in progress.
const strayTempAge = 10 * time.Minute

// TTLFromEnv reads OSIRIS_MCP_CACHE_TTL_HOURS. Fractional hours are accepted (0.001 is
// 3.6 seconds); an invalid or negative value logs a warning and gives the default.
func TTLFromEnv(logger *slog.Logger) time.Duration {
	raw := strings.TrimSpace(os.Getenv(TTLEnv))
	if raw == "" {
		return DefaultTTL
	}
	hours, err := strconv.ParseFloat(raw, 64)
	if err != nil || hours < 0 || math.IsInf(hours, 0) || math.IsNaN(hours) ||
		hours > 24*365*100 {
		if logger != nil {
			logger.Warn("ignoring invalid cache lifetime, using 24 hours",
				"variable", TTLEnv, "value", raw)
		}
		return DefaultTTL
	}
	return time.Duration(hours * float64(time.Hour))
}

// Entry is one cached discovery: <cache dir>/<discovery_id>.json. Data is the whole
// discovery document as it was first printed.
type Entry struct {
	DiscoveryID    string          `json:"discovery_id"`
	CacheKey       string          `json:"cache_key"`
	ConnectionID   string          `json:"connection_id"`
	ComponentID    string          `json:"component_id"`
	Samples        int             `json:"samples"`
	IdempotencyKey string          `json:"idempotency_key"`
	Data           json.RawMessage `json:"data"`
	CreatedAt      time.Time       `json:"created_at"`
	ExpiresAt      time.Time       `json:"expires_at"`
	TTLSeconds     float64         `json:"ttl_seconds"`
}

// Cache is the disk layer of the discovery cache. Entries and artifacts are written to a
// temp file and renamed, so a reader sees a whole old file or a whole new one; writers of
// one discovery_id (goroutines or processes) take that id's file lock, so they neither
// overwrite each other's artifacts nor delete an entry another just wrote.
type Cache struct {
	// Dir holds <discovery_id>.json entries and <discovery_id>/ artifact directories.
	Dir string
	// TTL is the lifetime of new entries; it also caps the age of old ones, so lowering
	// it takes effect at once.
	TTL time.Duration
	// Now is the clock; tests replace it to expire entries without waiting.
	Now func() time.Time
	// Logger receives warnings about dropped entries; nil discards them.
	Logger *slog.Logger
}

// NewCache returns a cache in dir with the given lifetime and the real clock.
func NewCache(dir string, ttl time.Duration, logger *slog.Logger) *Cache {
	return &Cache{Dir: dir, TTL: ttl, Now: time.Now, Logger: logger}
}

func (c *Cache) now() time.Time {
	if c.Now == nil {
		return time.Now().UTC()
	}
	return c.Now().UTC()
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Cache) entryPath(discoveryID string) string {
	return filepath.Join(c.Dir, discoveryID+".json")
}

// ArtifactDir is where a discovery's overview, tables and samples files live.
func (c *Cache) ArtifactDir(discoveryID string) string {
	return filepath.Join(c.Dir, discoveryID)
}

// entryState says why an entry can or cannot be served.
type entryState int

const (
	stateFresh entryState = iota
	stateMissing
	stateExpired
	stateCorrupt
	stateIncomplete // entry fine, artifacts gone
)

func (s entryState) String() string {
	return [...]string{"fresh", "missing", "expired", "corrupt", "incomplete"}[s]
}

// read loads an entry and judges it without changing anything on disk.
func (c *Cache) read(discoveryID string) (*Entry, entryState) {
	raw, err := os.ReadFile(c.entryPath(discoveryID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stateMissing
	}
	if err != nil {
		return nil, stateCorrupt
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, stateCorrupt
	}
	if e.DiscoveryID != discoveryID || e.CreatedAt.IsZero() || e.ExpiresAt.IsZero() ||
		!json.Valid(e.Data) || !bytes.HasPrefix(bytes.TrimSpace(e.Data), []byte("{")) {
		return &e, stateCorrupt
	}
	if c.expired(&e) {
		return &e, stateExpired
	}
	for _, name := range artifactNames {
		if _, err := os.Stat(filepath.Join(c.ArtifactDir(discoveryID), name+".json")); err != nil {
			return &e, stateIncomplete
		}
	}
	return &e, stateFresh
}

func (c *Cache) expired(e *Entry) bool {
	now := c.now()
	return !now.Before(e.ExpiresAt) || !now.Before(e.CreatedAt.Add(c.TTL))
}

// Lookup returns the fresh entry for a discovery_id, or nil. It never changes the disk,
// so it needs no lock; callers that will rebuild a stale entry use Lock and LookupLocked.
func (c *Cache) Lookup(discoveryID string) *Entry {
	e, state := c.read(discoveryID)
	if state != stateFresh {
		return nil
	}
	return e
}

// LookupLocked is Lookup for a caller holding the id's lock: an expired, corrupt or
// incomplete entry is deleted with its artifacts, so the caller rebuilds it.
func (c *Cache) LookupLocked(discoveryID string) *Entry {
	e, state := c.read(discoveryID)
	switch state {
	case stateFresh:
		return e
	case stateMissing:
		return nil
	}
	c.logger().Warn("dropping discovery cache entry", "discovery_id", discoveryID,
		"reason", state.String())
	if err := c.remove(discoveryID); err != nil {
		c.logger().Warn("could not remove discovery cache entry",
			"discovery_id", discoveryID, "error", err.Error())
	}
	return nil
}

// Unlock releases a discovery_id's lock.
type Unlock func()

// Lock takes the cross-process lock of one discovery_id, waiting until ctx is done.
// Limitation: lock files are never removed; deleting one while a process holds it would
// let a second process lock a new file of the same name.
func (c *Cache) Lock(ctx context.Context, discoveryID string) (Unlock, error) {
	dir := filepath.Join(c.Dir, ".locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create cache lock directory: %w", err)
	}
	lock := flock.New(filepath.Join(dir, discoveryID+".lock"), flock.SetPermissions(0o600))
	ok, err := lock.TryLockContext(ctx, lockRetry)
	if err != nil {
		return nil, fmt.Errorf("lock discovery %s: %w", discoveryID, err)
	}
	if !ok {
		return nil, fmt.Errorf("lock discovery %s: %w", discoveryID, ctx.Err())
	}
	return func() { _ = lock.Unlock() }, nil
}

// NewEntry stamps an entry with the current time and lifetime.
func (c *Cache) NewEntry(e Entry) *Entry {
	now := c.now().Truncate(time.Millisecond)
	e.CreatedAt = now
	e.ExpiresAt = now.Add(c.TTL)
	e.TTLSeconds = c.TTL.Seconds()
	return &e
}

// Put writes an entry (temp file, then rename). The caller holds the id's lock and has
// written the artifacts first, so an entry on disk always has its artifacts.
func (c *Cache) Put(e *Entry) error {
	raw, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode discovery cache entry: %w", err)
	}
	return writeFileAtomic(c.entryPath(e.DiscoveryID), append(raw, '\n'))
}

// WriteArtifact writes <discovery_id>/<name>.json atomically.
func (c *Cache) WriteArtifact(discoveryID, name string, doc any) error {
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s artifact: %w", name, err)
	}
	return writeFileAtomic(filepath.Join(c.ArtifactDir(discoveryID), name+".json"),
		append(raw, '\n'))
}

// remove deletes an entry and its artifacts; the caller holds the id's lock.
func (c *Cache) remove(discoveryID string) error {
	err := os.Remove(c.entryPath(discoveryID))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return errors.Join(err, os.RemoveAll(c.ArtifactDir(discoveryID)))
}

// Stats describes what the cache directory holds.
type Stats struct {
	MemoryEntries  int    `json:"memory_entries"`
	ValidEntries   int    `json:"valid_entries"`
	ExpiredEntries int    `json:"expired_entries"`
	CorruptEntries int    `json:"corrupt_entries"`
	DiskFiles      int    `json:"disk_files"`
	DiskSizeBytes  int64  `json:"disk_size_bytes"`
	CacheDirectory string `json:"cache_directory"`
}

// Stats counts entries by state and sums the bytes of entries and artifacts. The CLI
// holds no memory layer, so MemoryEntries is always 0 here.
func (c *Cache) Stats() (Stats, error) {
	st := Stats{CacheDirectory: c.Dir}
	ids, err := c.discoveryIDs()
	if err != nil {
		return st, err
	}
	for _, id := range ids {
		_, state := c.read(id)
		switch state {
		case stateFresh:
			st.ValidEntries++
		case stateExpired:
			st.ExpiredEntries++
		case stateCorrupt, stateIncomplete:
			st.CorruptEntries++
		}
		if state != stateMissing {
			st.DiskFiles++
		}
		st.DiskSizeBytes += sizeOf(c.entryPath(id)) + sizeOf(c.ArtifactDir(id))
	}
	return st, nil
}

// Clear removes entries and their artifacts: all of them, or with expiredOnly only those
// that can no longer be served (expired, corrupt or incomplete). It returns how many
// discovery ids it removed. Drafts and other files sharing the directory are untouched.
func (c *Cache) Clear(ctx context.Context, expiredOnly bool) (int, error) {
	ids, err := c.discoveryIDs()
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range ids {
		done, err := c.removeIf(ctx, id, func(_ *Entry, state entryState) bool {
			return !expiredOnly || state != stateFresh
		})
		if err != nil {
			return removed, err
		}
		if done {
			removed++
		}
	}
	c.removeStrayTemps()
	return removed, nil
}

// Invalidate removes every entry discovered from one connection ("@family.alias"), fresh
// or not, and returns how many discovery ids it removed.
func (c *Cache) Invalidate(ctx context.Context, connectionID string) (int, error) {
	ids, err := c.discoveryIDs()
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range ids {
		done, err := c.removeIf(ctx, id, func(e *Entry, state entryState) bool {
			return e != nil && state != stateCorrupt && e.ConnectionID == connectionID
		})
		if err != nil {
			return removed, err
		}
		if done {
			removed++
		}
	}
	return removed, nil
}

// removeIf removes one id under its lock when keep says so, judging the entry as it is
// once the lock is held.
func (c *Cache) removeIf(ctx context.Context, id string,
	match func(*Entry, entryState) bool) (bool, error) {
	unlock, err := c.Lock(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()

	e, state := c.read(id)
	if state == stateMissing {
		// An artifact directory without an entry is debris of an interrupted write.
		if _, err := os.Stat(c.ArtifactDir(id)); err != nil || !match(nil, stateCorrupt) {
			return false, nil
		}
	} else if !match(e, state) {
		return false, nil
	}
	if err := c.remove(id); err != nil {
		return false, fmt.Errorf("remove discovery %s: %w", id, err)
	}
	return true, nil
}

// discoveryIDs lists every discovery_id with an entry or an artifact directory, sorted.
func (c *Cache) discoveryIDs() ([]string, error) {
	items, err := os.ReadDir(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read discovery cache: %w", err)
	}
	seen := map[string]bool{}
	for _, item := range items {
		name := item.Name()
		if !strings.HasPrefix(name, "disc_") {
			continue
		}
		id := strings.TrimSuffix(name, ".json")
		if item.IsDir() == (id != name) || !validID(id) {
			continue
		}
		seen[id] = true
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// validID accepts exactly the shape keys.DiscoveryID produces.
func validID(id string) bool {
	hex := strings.TrimPrefix(id, "disc_")
	if len(hex) != 16 || hex == id {
		return false
	}
	for _, r := range hex {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

func (c *Cache) removeStrayTemps() {
	var stray []string
	_ = filepath.WalkDir(c.Dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), tempMarker) {
			return nil
		}
		if info, err := d.Info(); err == nil && c.now().Sub(info.ModTime()) > strayTempAge {
			stray = append(stray, path)
		}
		return nil
	})
	for _, path := range stray {
		if err := os.Remove(path); err != nil {
			c.logger().Warn("could not remove leftover temp file", "file", path,
				"error", err.Error())
		}
	}
}

func sizeOf(path string) int64 {
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			total += info.Size()
		}
		return nil
	})
	return total
}

// tempMarker is part of every temp file name, so clear can find leftovers of a crash.
const tempMarker = fsutil.TempMarker

// writeFileAtomic replaces path atomically. Directories are created 0700 and files 0600:
// discoveries hold sample rows.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
