// Package memory stores what an assistant session wants to remember: one JSON line per
// capture in <memory dir>/sessions/<session id>.jsonl, with personal data and secrets
// redacted before anything reaches the disk, and a retention window per entry.
//
// Only the osiris CLI writes here; the MCP shim hands the events over on stdin.
package memory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/jsonvalue"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Retention bounds in days. Values outside are clamped, the same way in the shim and the
// CLI, so a capture never fails over its retention.
const (
	DefaultRetentionDays = 365
	MaxRetentionDays     = 730
)

// maxSessionIDLen keeps a session id usable as a file name on every platform.
const maxSessionIDLen = 128

var sessionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ErrConsentRequired is returned when a capture is attempted without explicit consent.
var ErrConsentRequired = errors.New("memory capture requires explicit consent")

// ConsentMessage is what a person or an assistant is told when consent is missing.
const ConsentMessage = "Memory capture requires explicit --consent flag"

// InputError is a capture request that cannot be stored as given: a bad session id or
// events that are not JSON. Nothing is written.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Msg }

// ValidateSessionID checks that id is safe as a file name: 1 to 128 characters of
// letters, digits, '.', '_' and '-', and not "." or "..".
func ValidateSessionID(id string) error {
	if len(id) == 0 || len(id) > maxSessionIDLen || !sessionIDPattern.MatchString(id) ||
		id == "." || id == ".." {
		return &InputError{Field: "session_id", Msg: fmt.Sprintf(
			"invalid format for session_id: must be 1-%d characters of letters, digits, "+
				"'.', '_' and '-'", maxSessionIDLen)}
	}
	return nil
}

// ClampRetention keeps a retention in days within 0..MaxRetentionDays.
func ClampRetention(days int) int {
	return min(max(days, 0), MaxRetentionDays)
}

// ParseEvents decodes the events of a capture: a JSON array of events, or one event
// object, which becomes a list of one. Numbers keep their exact text.
func ParseEvents(raw []byte) ([]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &InputError{Field: "events", Msg: "Invalid JSON for events: " + err.Error()}
	}
	if dec.More() {
		return nil, &InputError{Field: "events",
			Msg: "Invalid JSON for events: unexpected data after the first JSON value"}
	}
	switch t := v.(type) {
	case []any:
		return t, nil
	case map[string]any:
		return []any{t}, nil
	}
	return nil, &InputError{Field: "events",
		Msg: "Invalid JSON for events: expected an array of event objects"}
}

// NoteEvent is the event a free-text note becomes.
func NoteEvent(note string) map[string]any {
	return map[string]any{"note": note, "type": "manual_entry"}
}

// Request is one capture.
type Request struct {
	SessionID     string
	Consent       bool
	RetentionDays int // clamped to 0..MaxRetentionDays
	Events        []any
	Now           time.Time // zero = time.Now
	// KnownSecrets are literal secret values (the project's resolved connection
	// passwords and tokens) to hide wherever they appear, even in prose.
	KnownSecrets []string
}

// Result describes the stored entry.
type Result struct {
	MemoryID          string
	SessionID         string
	MemoryURI         string
	RetentionDays     int
	Timestamp         string
	EntrySizeBytes    int
	RedactionsApplied int
	FilePath          string
}

// SessionPath is the file holding one session's entries.
func SessionPath(memoryDir, sessionID string) string {
	return filepath.Join(memoryDir, "sessions", sessionID+".jsonl")
}

// SessionURI is the resource URI that reads a session file back.
func SessionURI(sessionID string) string {
	return "osiris://mcp/memory/sessions/" + sessionID + ".jsonl"
}

// timestampLayout is RFC 3339 in UTC with milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Capture redacts the events and appends one entry to the session's file. It checks
// consent and the session id before touching the disk.
func Capture(memoryDir string, req Request) (*Result, error) {
	if !req.Consent {
		return nil, ErrConsentRequired
	}
	if err := ValidateSessionID(req.SessionID); err != nil {
		return nil, err
	}

	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	events := req.Events
	if events == nil {
		events = []any{}
	}
	redacted, redactions := Redact(events)
	redacted = hideLiterals(redacted, req.KnownSecrets, &redactions)
	retention := ClampRetention(req.RetentionDays)
	timestamp := now.UTC().Format(timestampLayout)
	entry := map[string]any{
		"timestamp":      timestamp,
		"session_id":     req.SessionID,
		"retention_days": retention,
		"events":         redacted,
	}

	// encoding/json sorts map keys, so the line is also the canonical form the id hashes.
	line, err := json.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("encode memory entry: %w", err)
	}
	sum := sha256.Sum256(line)
	path := SessionPath(memoryDir, req.SessionID)
	if err := audit.AppendLine(path, line); err != nil {
		return nil, err
	}

	return &Result{
		MemoryID:          "mem_" + hex.EncodeToString(sum[:])[:6],
		SessionID:         req.SessionID,
		MemoryURI:         SessionURI(req.SessionID),
		RetentionDays:     retention,
		Timestamp:         timestamp,
		EntrySizeBytes:    len(line),
		RedactionsApplied: redactions,
		FilePath:          path,
	}, nil
}

// minSecretLen keeps short values ("root", "1") from blanking ordinary words.
const minSecretLen = 6

// hideLiterals replaces every occurrence of a known secret value in any string of v.
func hideLiterals(v any, values []string, count *int) any {
	var useful []string
	for _, s := range values {
		if len(s) >= minSecretLen {
			useful = append(useful, s)
		}
	}
	if len(useful) == 0 {
		return v
	}
	// Longer values first, so a secret that contains another is hidden whole.
	sort.Slice(useful, func(i, j int) bool { return len(useful[i]) > len(useful[j]) })
	return jsonvalue.MapStrings(v, func(t string) string {
		for _, secret := range useful {
			if n := strings.Count(t, secret); n > 0 {
				*count += n
				t = strings.ReplaceAll(t, secret, secrets.Redacted)
			}
		}
		return t
	})
}
