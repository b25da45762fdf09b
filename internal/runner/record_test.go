package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLostRunRecordsAreAWarning: events.jsonl on a full disk (here /dev/full) loses
// lines; the run must say so instead of reporting a clean success.
func TestLostRunRecordsAreAWarning(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full on this system")
	}
	p := newProject(t)
	mpath := p.manifest("full-disk",
		testStep{id: "src", component: "inline.extractor", cfg: map[string]any{"x": 1}})
	runDir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/full", filepath.Join(runDir, "events.jsonl")); err != nil {
		t.Fatal(err)
	}

	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		RunDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w, "events.jsonl")
	}
	if !found {
		t.Fatalf("want a warning naming events.jsonl, got %q", res.Warnings)
	}
}
