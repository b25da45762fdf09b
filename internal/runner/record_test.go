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

// TestFailedPrepareClosesTheRecordFiles: when the run cannot make its temp directory
// after opening events.jsonl, metrics.jsonl and osiris.log, those files are closed.
func TestFailedPrepareClosesTheRecordFiles(t *testing.T) {
	p := newProject(t)
	mpath := p.manifest("no-temp",
		testStep{id: "src", component: "inline.extractor", cfg: map[string]any{"x": 1}})
	runDir := filepath.Join(t.TempDir(), "run")

	_, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		RunDir: runDir, TempDir: filepath.Join(t.TempDir(), "missing")})
	if err == nil {
		t.Fatal("want an error for a temp directory that does not exist")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	for _, fd := range fds {
		target, _ := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if strings.HasPrefix(target, runDir) {
			t.Errorf("still open after the failed run: %s", target)
		}
	}
}
