package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// update regenerates golden files: go test ./internal/cli -run X -update. Every test file
// of this package shares this one flag and the helpers below.
var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// cliResult is one in-process run of the osiris command line.
type cliResult struct {
	Code   int
	Stdout string
	Stderr string
}

// runCLI runs osiris with args in dir (as --project), feeding stdin, and captures streams.
func runCLI(t *testing.T, dir, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	io := &IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	if dir != "" {
		args = append([]string{"--project", dir}, args...)
	}
	code := Main(args, io)
	return cliResult{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// jsonDoc parses stdout as exactly one JSON object, failing the test otherwise.
func jsonDoc(t *testing.T, r cliResult) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one JSON object (%v):\n%s\nstderr:\n%s", err, r.Stdout, r.Stderr)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON document:\n%s", r.Stdout)
	}
	return doc
}

var (
	sessionIDPattern = regexp.MustCompile(`"([a-z_]+)_\d{13}"`)
	durationPattern  = regexp.MustCompile(`"(latency_ms|duration_ms|duration)": [0-9.]+`)
)

// normalise replaces paths under dir, session ids and timings with stable placeholders.
func normalise(s, dir string) string {
	if dir != "" {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			s = strings.ReplaceAll(s, real, "$PROJECT")
		}
		s = strings.ReplaceAll(s, dir, "$PROJECT")
	}
	s = sessionIDPattern.ReplaceAllString(s, `"${1}_$$EPOCH_MS"`)
	return durationPattern.ReplaceAllString(s, `"$1": 0`)
}

// assertGolden compares got with testdata/golden/<name>, rewriting it under -update.
func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file %s (run with -update): %v", path, err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from golden (run with -update to accept):\n--- want\n%s\n--- got\n%s",
			name, want, got)
	}
}
