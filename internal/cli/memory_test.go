package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// osirisBinary builds cmd/osiris once per test run, for tests that need real separate
// processes.
func osirisBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "osiris-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "osiris")
		out, err := exec.Command("go", "build", "-o", binaryPath,
			"github.com/osirisgo/osiris/cmd/osiris").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		_ = os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

var (
	timestampPattern = regexp.MustCompile(`"timestamp": "[^"]+"`)
	memoryIDPattern  = regexp.MustCompile(`"mem_[0-9a-f]{6}"`)
)

func normaliseMemory(s, dir string) string {
	s = timestampPattern.ReplaceAllString(normalise(s, dir), `"timestamp": "$$TIMESTAMP"`)
	return memoryIDPattern.ReplaceAllString(s, `"mem_$$HASH"`)
}

func sessionLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var entries []map[string]any
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for scanner.Scan() {
		var entry map[string]any
		if err := json.Unmarshal(scanner.Bytes(), &entry); err != nil {
			t.Fatalf("line %d of %s is not a whole JSON object: %v", len(entries)+1, path, err)
		}
		entries = append(entries, entry)
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestMemoryCaptureGolden(t *testing.T) {
	dir := t.TempDir()
	events := `[{"intent":"nightly orders sync",` +
		`"notes":"DSN postgres://etl:S3ntinel-pw@db.example.com/x",` +
		`"decisions":[{"password":"S3ntinel-pw","table_name":"orders"}]}]`
	r := runCLI(t, dir, events, "mcp", "memory", "capture", "--session-id", "chat-42",
		"--consent", "--retention-days", "30", "--events", "-", "--json")
	if r.Code != ExitOK {
		t.Fatalf("exit %d: %s %s", r.Code, r.Stdout, r.Stderr)
	}
	doc := jsonDoc(t, r)
	assertGolden(t, "memory_capture.json", normaliseMemory(r.Stdout, dir))

	path := filepath.Join(dir, ".osiris", "mcp", "logs", "memory", "sessions", "chat-42.jsonl")
	if doc["file_path"] != path {
		t.Errorf("file_path = %v, want %s", doc["file_path"], path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr,
		"session file": string(raw)} {
		if strings.Contains(text, "S3ntinel-pw") {
			t.Errorf("%s holds the sentinel secret", name)
		}
	}
	entries := sessionLines(t, path)
	if len(entries) != 1 || int(doc["entry_size_bytes"].(float64)) != len(raw)-1 {
		t.Errorf("entries = %d, entry_size_bytes = %v, line = %d bytes", len(entries),
			doc["entry_size_bytes"], len(raw)-1)
	}

	human := runCLI(t, dir, "", "memory", "capture", "--session-id", "chat-42", "--consent",
		"--text", "prefers CSV output")
	if human.Code != ExitOK || !strings.Contains(human.Stdout, "Captured mem_") {
		t.Errorf("human capture: exit %d %q %q", human.Code, human.Stdout, human.Stderr)
	}
	entries = sessionLines(t, path)
	note := entries[1]["events"].([]any)[0].(map[string]any)
	if len(entries) != 2 || note["type"] != "manual_entry" || note["note"] != "prefers CSV output" {
		t.Errorf("second entry = %v", entries[1])
	}
}

func TestMemoryCaptureRejectsAndWritesNothing(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		stdin     string
		errorType string
	}{
		{"no consent", []string{"--session-id", "s1", "--text", "x"}, "", "consent_required"},
		{"traversal id", []string{"--session-id", "../x", "--consent", "--text", "x"}, "",
			"invalid_session_id"},
		{"empty id", []string{"--session-id", "", "--consent", "--text", "x"}, "",
			"invalid_session_id"},
		{"200-char id", []string{"--session-id", strings.Repeat("a", 200), "--consent",
			"--text", "x"}, "", "invalid_session_id"},
		{"bad events", []string{"--session-id", "s1", "--consent", "--events", "-"}, "{oops",
			"invalid_events"},
		{"nothing", []string{"--session-id", "s1", "--consent"}, "", "invalid_events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"mcp", "memory", "capture", "--json"}, tt.args...)
			r := runCLI(t, dir, tt.stdin, args...)
			doc := jsonDoc(t, r)
			if r.Code != ExitUsage || doc["error_type"] != tt.errorType ||
				doc["captured"] != false {
				t.Errorf("exit %d, doc %v; want exit 2, %s", r.Code, doc, tt.errorType)
			}
			if _, err := os.Stat(filepath.Join(dir, ".osiris")); !os.IsNotExist(err) {
				t.Errorf("something was written under .osiris: %v", err)
			}
		})
	}

	r := runCLI(t, t.TempDir(), "", "mcp", "memory", "capture", "--session-id", "s1", "--json")
	assertGolden(t, "memory_capture_consent_required.json", r.Stdout)
}

// TestMemoryCaptureFiveMegabytesOnStdin sends a payload far above the argv limit to a
// real osiris process.
func TestMemoryCaptureFiveMegabytesOnStdin(t *testing.T) {
	dir := t.TempDir()
	chunk := strings.Repeat("orders by region and day, ", 40) // ~1 KiB
	var events bytes.Buffer
	events.WriteString("[")
	for i := 0; events.Len() < 5<<20; i++ {
		if i > 0 {
			events.WriteString(",")
		}
		fmt.Fprintf(&events, `{"role":"user","seq":%d,"content":%q}`, i, chunk)
	}
	events.WriteString(`,{"role":"user","content":"reach me at big@example.com"}]`)

	cmd := exec.Command(osirisBinary(t), "--project", dir, "mcp", "memory", "capture",
		"--session-id", "big", "--consent", "--events", "-", "--json")
	cmd.Stdin = &events
	out, err := cmd.Output()
	var doc map[string]any
	if jerr := json.Unmarshal(out, &doc); err != nil || jerr != nil ||
		doc["redactions_applied"] != float64(1) {
		t.Fatalf("exit %v, %v, doc %s", err, jerr, out)
	}
	if size := doc["entry_size_bytes"].(float64); size < 5<<20 {
		t.Errorf("entry_size_bytes = %v, want above 5 MiB", size)
	}
	entries := sessionLines(t, doc["file_path"].(string))
	if len(entries) != 1 || len(entries[0]["events"].([]any)) < 4000 {
		t.Errorf("stored %d entries", len(entries))
	}
}

// TestMemoryCaptureConcurrentProcesses runs 50 separate osiris processes against one
// session file: every capture must land as one whole line.
func TestMemoryCaptureConcurrentProcesses(t *testing.T) {
	bin := osirisBinary(t)
	dir := t.TempDir()
	const n = 50
	payload := `[{"intent":"load test","content":"` + strings.Repeat("x", 64<<10) + `"}]`

	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := exec.Command(bin, "--project", dir, "mcp", "memory", "capture",
				"--session-id", "shared", "--consent", "--events", "-",
				"--text", fmt.Sprintf("writer %d", i), "--json")
			cmd.Stdin = strings.NewReader(payload)
			out, err := cmd.Output()
			if err != nil {
				errs <- fmt.Sprintf("writer %d: %v %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	entries := sessionLines(t, filepath.Join(dir, ".osiris", "mcp", "logs", "memory",
		"sessions", "shared.jsonl"))
	if len(entries) != n {
		t.Fatalf("%d lines, want %d", len(entries), n)
	}
	seen := map[string]bool{}
	for _, entry := range entries {
		events := entry["events"].([]any)
		seen[events[len(events)-1].(map[string]any)["note"].(string)] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct writers in the file, want %d", len(seen), n)
	}
}

// TestMemoryCaptureHonoursLogsDirEnv proves the osiris process itself writes the memory
// file where OSIRIS_MCP_LOGS_DIR points, and nothing under the home directory.
func TestMemoryCaptureHonoursLogsDirEnv(t *testing.T) {
	bin := osirisBinary(t)
	project, logs, home := t.TempDir(), t.TempDir(), t.TempDir()
	cmd := exec.Command(bin, "mcp", "memory", "capture", "--session-id", "envcheck",
		"--consent", "--events", "-", "--json")
	cmd.Dir = project
	cmd.Env = append(os.Environ(), "OSIRIS_MCP_LOGS_DIR="+logs, "HOME="+home,
		"OSIRIS_HOME="+project)
	cmd.Stdin = strings.NewReader(`[{"intent":"where does it go"}]`)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(logs, "memory", "sessions", "envcheck.jsonl")
	if doc["file_path"] != want || len(sessionLines(t, want)) != 1 {
		t.Errorf("file_path = %v, want %s", doc["file_path"], want)
	}
	for _, d := range []string{home, project} {
		if entries, _ := os.ReadDir(d); len(entries) != 0 {
			t.Errorf("%s is not empty: %v", d, entries)
		}
	}
}

func TestMemoryCaptureRelativeLogsDirFromConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"),
		[]byte("version: '2.0'\nfilesystem:\n  mcp_logs_dir: var/mcp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, dir, "", "mcp", "memory", "capture", "--session-id", "cfg", "--consent",
		"--text", "hello", "--json")
	doc := jsonDoc(t, r)
	want := filepath.Join(dir, "var", "mcp", "memory", "sessions", "cfg.jsonl")
	if r.Code != ExitOK || doc["file_path"] != want {
		t.Errorf("exit %d file_path %v, want %s", r.Code, doc["file_path"], want)
	}
}

func TestMemoryCaptureRetentionClampAndEnv(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "", "mcp", "memory", "capture", "--session-id", "r", "--consent",
		"--text", "x", "--retention-days", "9000", "--json")
	if doc := jsonDoc(t, r); doc["retention_days"] != float64(730) {
		t.Errorf("retention_days = %v, want clamped 730", doc["retention_days"])
	}
	t.Setenv("OSIRIS_MCP_MEMORY_RETENTION_DAYS", "12")
	r = runCLI(t, dir, "", "memory", "capture", "--session-id", "r", "--consent", "--text",
		"x", "--json")
	if doc := jsonDoc(t, r); doc["retention_days"] != float64(12) {
		t.Errorf("retention_days = %v, want 12 from the environment", doc["retention_days"])
	}
}

func TestMemoryPruneCommand(t *testing.T) {
	dir := t.TempDir()
	for _, days := range []string{"0", "30"} {
		r := runCLI(t, dir, "", "memory", "capture", "--session-id", "p", "--consent",
			"--text", "keep "+days, "--retention-days", days, "--json")
		if r.Code != ExitOK {
			t.Fatal(r.Stdout)
		}
	}
	r := runCLI(t, dir, "", "mcp", "memory", "prune", "--dry-run", "--json")
	assertGolden(t, "memory_prune_dry_run.json", r.Stdout)

	r = runCLI(t, dir, "", "mcp", "memory", "prune", "--json")
	doc := jsonDoc(t, r)
	if r.Code != ExitOK || doc["removed_entries"] != float64(1) ||
		doc["files_rewritten"] != float64(1) {
		t.Errorf("prune: exit %d %v", r.Code, doc)
	}
	entries := sessionLines(t, filepath.Join(dir, ".osiris", "mcp", "logs", "memory",
		"sessions", "p.jsonl"))
	if len(entries) != 1 || entries[0]["retention_days"] != float64(30) {
		t.Errorf("left %v", entries)
	}
}

func TestMemoryCaptureWriteFailureIsExitOne(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSIRIS_MCP_LOGS_DIR", blocker)
	r := runCLI(t, dir, "", "mcp", "memory", "capture", "--session-id", "w", "--consent",
		"--text", "x", "--json")
	doc := jsonDoc(t, r)
	msg, _ := doc["message"].(string)
	if r.Code != ExitFailure || doc["error_type"] != "memory_write_failed" ||
		!strings.HasPrefix(msg, "Memory capture failed: ") || doc["captured"] != false {
		t.Errorf("exit %d %v", r.Code, doc)
	}
}
