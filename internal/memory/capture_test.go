package memory

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCaptureWritesOneRedactedLine(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	events, err := ParseEvents([]byte(`[{"intent":"sync","notes":"mail me at a@b.com",` +
		`"password":"hunter22"}]`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Capture(dir, Request{SessionID: "chat-1", Consent: true, RetentionDays: 30,
		Events: events, Now: now})
	if err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "sessions", "chat-1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(string(raw), "\n")
	if strings.Contains(line, "\n") || strings.Contains(line, "hunter22") ||
		strings.Contains(line, "a@b.com") {
		t.Fatalf("session file = %q, want one redacted line", raw)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(line), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["timestamp"] != "2026-03-01T12:00:00.000Z" || entry["session_id"] != "chat-1" ||
		entry["retention_days"] != float64(30) {
		t.Errorf("entry = %v", entry)
	}
	if res.EntrySizeBytes != len(line) || res.RedactionsApplied != 2 ||
		res.MemoryURI != "osiris://mcp/memory/sessions/chat-1.jsonl" ||
		!strings.HasPrefix(res.MemoryID, "mem_") || len(res.MemoryID) != 10 {
		t.Errorf("result = %+v", res)
	}
	info, err := os.Stat(res.FilePath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", info, err)
	}
}

func TestCaptureIDIsStableForSameEntry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	req := Request{SessionID: "s", Consent: true, Events: []any{"x"}, Now: now}
	a, err := Capture(t.TempDir(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Capture(t.TempDir(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Events = []any{"y"}
	c, err := Capture(t.TempDir(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.MemoryID != b.MemoryID || a.MemoryID == c.MemoryID {
		t.Errorf("ids %s %s %s: want equal for equal entries, different otherwise",
			a.MemoryID, b.MemoryID, c.MemoryID)
	}
}

func TestCaptureRejectsWithoutWriting(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		consent bool
	}{
		{"no consent", Request{SessionID: "ok"}, true},
		{"traversal", Request{SessionID: "../x", Consent: true}, false},
		{"empty", Request{SessionID: "", Consent: true}, false},
		{"too long", Request{SessionID: strings.Repeat("a", 200), Consent: true}, false},
		{"dot dot", Request{SessionID: "..", Consent: true}, false},
		{"slash", Request{SessionID: "a/b", Consent: true}, false},
		{"space", Request{SessionID: "a b", Consent: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Capture(dir, tt.req)
			var inputErr *InputError
			switch {
			case tt.consent && !errors.Is(err, ErrConsentRequired):
				t.Errorf("err = %v, want ErrConsentRequired", err)
			case !tt.consent && !errors.As(err, &inputErr):
				t.Errorf("err = %v, want InputError", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("memory dir holds %d entries, want none", len(entries))
			}
		})
	}
}

func TestValidateSessionIDAcceptsLimits(t *testing.T) {
	for _, id := range []string{"a", strings.Repeat("b", 128), "chat_2026-03-01.v1"} {
		if err := ValidateSessionID(id); err != nil {
			t.Errorf("ValidateSessionID(%q) = %v", id, err)
		}
	}
	if ValidateSessionID(strings.Repeat("b", 129)) == nil {
		t.Error("129 characters accepted")
	}
}

func TestParseEvents(t *testing.T) {
	if ev, err := ParseEvents([]byte(`{"note":"x"}`)); err != nil || len(ev) != 1 {
		t.Errorf("object: %v %v", ev, err)
	}
	for _, bad := range []string{``, `{`, `"text"`, `[1] [2]`, `42`} {
		_, err := ParseEvents([]byte(bad))
		if err == nil || !strings.HasPrefix(err.Error(), "Invalid JSON for events: ") {
			t.Errorf("ParseEvents(%q) = %v", bad, err)
		}
	}
}

func TestClampRetention(t *testing.T) {
	for in, want := range map[int]int{-5: 0, 0: 0, 365: 365, 730: 730, 9999: 730} {
		if got := ClampRetention(in); got != want {
			t.Errorf("ClampRetention(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	capture := func(session string, age time.Duration, days int) {
		t.Helper()
		_, err := Capture(dir, Request{SessionID: session, Consent: true, RetentionDays: days,
			Events: []any{session}, Now: now.Add(-age)})
		if err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	capture("mixed", 40*day, 30) // expired
	capture("mixed", 10*day, 30) // kept
	capture("old", 2*day, 1)     // expired
	capture("fresh", time.Hour, 0)
	capture("fresh", 0, 0) // exactly at its end: kept
	appendRaw(t, SessionPath(dir, "mixed"), "not json")

	dry, err := Prune(dir, now, true)
	if err != nil {
		t.Fatal(err)
	}
	want := PruneResult{ScannedEntries: 6, RemovedEntries: 3, InvalidEntries: 1, DryRun: true}
	if *dry != want {
		t.Errorf("dry run = %+v, want %+v", *dry, want)
	}
	if _, err := os.Stat(SessionPath(dir, "old")); err != nil {
		t.Errorf("dry run changed files: %v", err)
	}

	res, err := Prune(dir, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want = PruneResult{ScannedEntries: 6, RemovedEntries: 3, InvalidEntries: 1,
		FilesRewritten: 2, FilesDeleted: 1}
	if *res != want {
		t.Errorf("prune = %+v, want %+v", *res, want)
	}
	if _, err := os.Stat(SessionPath(dir, "old")); !os.IsNotExist(err) {
		t.Errorf("emptied session file still there: %v", err)
	}
	if n := countLines(t, SessionPath(dir, "mixed")); n != 2 {
		t.Errorf("mixed keeps %d lines, want 2 (one entry, one unreadable line)", n)
	}
	if n := countLines(t, SessionPath(dir, "fresh")); n != 1 {
		t.Errorf("fresh keeps %d lines, want 1", n)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "sessions", ".*tmp*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	again, err := Prune(dir, now, false)
	if err != nil || again.RemovedEntries != 0 || again.FilesRewritten != 0 {
		t.Errorf("second prune = %+v, %v; want nothing removed", again, err)
	}
}

func appendRaw(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		n++
	}
	return n
}
