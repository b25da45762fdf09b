package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// With AUDIT_WRITER_DIR set the test binary is a writer process: it logs
// AUDIT_WRITER_LINES records from each of AUDIT_WRITER_GOROUTINES goroutines.
func TestMain(m *testing.M) {
	if dir := os.Getenv("AUDIT_WRITER_DIR"); dir != "" {
		goroutines, _ := strconv.Atoi(os.Getenv("AUDIT_WRITER_GOROUTINES"))
		lines, _ := strconv.Atoi(os.Getenv("AUDIT_WRITER_LINES"))
		writeConcurrently(NewEventLogger(dir, "mcp_"+os.Getenv("AUDIT_WRITER_ID"), nil),
			goroutines, lines)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeConcurrently logs from many goroutines; each record carries a large argument so
// that an interleaved write would show as a broken line.
func writeConcurrently(l *EventLogger, goroutines, lines int) {
	padding := strings.Repeat("p", 8<<10)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				l.Log("tool_call", "tool_call_started", fmt.Sprintf("c%d_%d", g, i),
					map[string]any{"tool": "oml_validate", "arguments": padding})
			}
		}(g)
	}
	wg.Wait()
}

func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; scanner.Scan(); n++ {
		var rec map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
			t.Fatalf("line %d is not whole JSON: %v", n, err)
		}
		out = append(out, rec)
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGoroutinesTimesProcessesGiveExactlyThatManyLines(t *testing.T) {
	const processes, goroutines, lines = 4, 8, 25
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	var cmds []*exec.Cmd
	for p := 0; p < processes; p++ {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "AUDIT_WRITER_DIR="+dir,
			"AUDIT_WRITER_GOROUTINES="+strconv.Itoa(goroutines),
			"AUDIT_WRITER_LINES="+strconv.Itoa(lines), fmt.Sprintf("AUDIT_WRITER_ID=%012d", p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	// This process writes too, through its own logger, at the same time.
	writeConcurrently(NewEventLogger(dir, "mcp_parent", nil), goroutines, lines)
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	files, _ := filepath.Glob(filepath.Join(dir, "mcp_audit_*.jsonl"))
	total := 0
	seen := map[string]bool{}
	for _, file := range files {
		for _, rec := range readRecords(t, file) {
			key := rec["session_id"].(string) + "/" + rec["correlation_id"].(string)
			if seen[key] {
				t.Fatalf("record %s written twice", key)
			}
			seen[key] = true
			total++
		}
	}
	if want := (processes + 1) * goroutines * lines; total != want {
		t.Fatalf("got %d lines, want exactly %d", total, want)
	}
}

func TestEventRecordFieldsAndPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs", "audit")
	l := NewEventLogger(dir, "mcp_0123456789ab", nil)
	at := time.Date(2025, 3, 4, 23, 59, 59, 123_000_000, time.UTC)
	l.SetClock(func() time.Time { return at })
	l.Log("tool_result", "tool_call_completed", "mcp_aaaaaaaaaaaa",
		map[string]any{"tool": "oml_validate", "event": "overridden?"})

	path := filepath.Join(dir, "mcp_audit_20250304.jsonl")
	recs := readRecords(t, path)
	if len(recs) != 1 {
		t.Fatalf("got %d records", len(recs))
	}
	rec := recs[0]
	want := map[string]any{
		"event": "tool_result", "event_type": "tool_call_completed",
		"timestamp": "2025-03-04T23:59:59.123Z", "timestamp_ms": float64(at.UnixMilli()),
		"session_id": "mcp_0123456789ab", "correlation_id": "mcp_aaaaaaaaaaaa",
		"tool": "oml_validate",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", info.Mode().Perm())
	}
	dirInfo, _ := os.Stat(dir)
	if dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", dirInfo.Mode().Perm())
	}
}

func TestDateIsTakenPerWrite(t *testing.T) {
	dir := t.TempDir()
	l := NewEventLogger(dir, "mcp_x", nil)
	now := time.Date(2025, 1, 31, 23, 59, 59, 0, time.UTC)
	l.SetClock(func() time.Time { return now })
	l.Log("tool_call", "tool_call_started", "a", nil)
	now = now.Add(2 * time.Second)
	l.Log("tool_call", "tool_call_started", "b", nil)

	for _, name := range []string{"mcp_audit_20250131.jsonl", "mcp_audit_20250201.jsonl"} {
		if n := len(readRecords(t, filepath.Join(dir, name))); n != 1 {
			t.Errorf("%s has %d records, want 1", name, n)
		}
	}
}

func TestWriteErrorDoesNotPanic(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l := NewEventLogger(filepath.Join(file, "audit"), "mcp_x", nil)
	l.Log("tool_call", "tool_call_started", "a", nil) // logged on stderr, no panic
	var nilLogger *EventLogger
	nilLogger.Log("tool_call", "tool_call_started", "a", nil)
}
