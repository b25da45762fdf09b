package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemotePackCommand(t *testing.T) {
	runDir := t.TempDir()
	for name, content := range map[string]string{
		"status.json": "{}", "events.jsonl": "{}\n",
		"artifacts/s/cleaned_config.json": "{}",
		"artifacts/s/big.txt":             strings.Repeat("x", 2<<20),
		"output/result.csv":               "a\n1\n",
	} {
		p := filepath.Join(runDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"remote", "pack", "--run-dir", runDir, "--max-mb", "1",
		"--include", "output/result.csv", "--json"},
		&IO{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %q", stdout.String())
	}
	if doc["status"] != "success" || doc["files"] != float64(4) || doc["skipped"] != float64(1) {
		t.Errorf("document = %v", doc)
	}
	for _, name := range []string{"out.tgz", "out.index.json"} {
		if _, err := os.Stat(filepath.Join(runDir, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}

	stdout.Reset()
	code = Main([]string{"remote", "pack", "--run-dir", filepath.Join(runDir, "nope"), "--json"},
		&IO{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if code != ExitUsage || !strings.Contains(stdout.String(), "does not exist") {
		t.Errorf("missing run dir: exit %d, %s", code, stdout.String())
	}
	code = Main([]string{"remote", "pack", "--run-dir", runDir, "--include", "../x"},
		&IO{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if code != ExitUsage {
		t.Errorf("an --include leaving the run directory: exit %d", code)
	}
}
