package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

func init() {
	drivers.Register("inline.extractor", func() drivers.Driver { return &inlineDriver{} })
}

// inlineDriver succeeds and reports whether it was handed a connection.
type inlineDriver struct{}

func (d *inlineDriver) Run(_ context.Context, req drivers.Request) (drivers.Result, error) {
	_, has := req.Config["resolved_connection"]
	cols := []drivers.Column{{Name: "had_connection", Type: drivers.TypeBool}}
	return drivers.Result{Rows: drivers.NewSliceStream(cols, [][]any{{has}}, 0)}, nil
}

func TestStepWithoutConnectionRunsWhenTheFamilyHasNone(t *testing.T) {
	p := newProject(t)
	mpath := p.manifest("inline",
		testStep{id: "src", component: "inline.extractor", cfg: map[string]any{"x": 1}},
		testStep{id: "out", component: "filesystem.csv_writer", needs: []string{"src"},
			cfg: map[string]any{"path": "out.csv"}})
	if _, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath}); err != nil {
		t.Fatalf("a family with no connection configured must run on inline config: %v", err)
	}
	if out, _ := os.ReadFile(filepath.Join(p.dir, "out.csv")); string(out) != "had_connection\nfalse\n" {
		t.Fatalf("output %q", out)
	}

	p.write("osiris_connections.yaml", "connections:\n  inline:\n    default:\n      host: h\n")
	if _, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath}); err != nil {
		t.Fatal(err)
	}
	if out, _ := os.ReadFile(filepath.Join(p.dir, "out.csv")); string(out) != "had_connection\ntrue\n" {
		t.Fatalf("a configured family default must still be used: %q", out)
	}
}

func TestCopyFileOntoItselfKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	os.WriteFile(path, []byte("steps: []\n"), 0o644)
	if err := copyFile(path, path); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(path); string(raw) != "steps: []\n" {
		t.Fatalf("file truncated: %q", raw)
	}
}

func init() {
	drivers.Register("interruptible.extractor", func() drivers.Driver { return &stubbornDriver{} })
}

// stubbornDriver waits for cancellation and then fails with its own words, as DuckDB does
// ("INTERRUPT Error: Interrupted!"), without wrapping context.Canceled.
type stubbornDriver struct{}

func (d *stubbornDriver) Run(ctx context.Context, _ drivers.Request) (drivers.Result, error) {
	<-ctx.Done()
	return drivers.Result{}, errors.New("INTERRUPT Error: Interrupted!")
}

func TestInterruptIsNotAStepFailure(t *testing.T) {
	p := newProject(t)
	mpath := p.manifest("interrupt",
		testStep{id: "slow", component: "interruptible.extractor", cfg: map[string]any{}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)

	res, err := Run(ctx, Options{Project: p.proj, ManifestPath: mpath})
	var re *Error
	if !errors.As(err, &re) || re.Code != "runtime.interrupted" {
		t.Fatalf("want the run reported as interrupted, got %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(res.RunDir, "status.json"))
	var status Status
	if json.Unmarshal(raw, &status) != nil || status.ExitCode != 130 || status.OK {
		t.Fatalf("status.json: %s", raw)
	}
}

func TestFindRunRefusesAnIDSharedByPipelines(t *testing.T) {
	p := newProject(t)
	for _, slug := range []string{"p-one", "p-two"} {
		rec := RunRecord{RunID: "run-000001", PipelineSlug: slug, ManifestHash: "ab",
			RunTS: "2026-01-01T00:00:00Z", Status: "success"}
		if err := AppendRunRecord(p.proj, rec); err != nil {
			t.Fatal(err)
		}
	}
	_, err := FindRun(p.proj, "run-000001")
	var amb *AmbiguousRunError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 {
		t.Fatalf("want an ambiguity naming both pipelines, got %v", err)
	}
	rec, err := FindRun(p.proj, "p-one/run-000001")
	if err != nil || rec == nil || rec.PipelineSlug != "p-one" {
		t.Fatalf("qualified id: %+v %v", rec, err)
	}
}

// TestLogLinesNameTheStepOnce: the step's logger already carries step_id, so a driver's
// line must not repeat it.
func TestLogLinesNameTheStepOnce(t *testing.T) {
	p := newProject(t)
	p.write("data/a.csv", "n\n1\n2\n")
	mpath := p.manifest("log-once",
		testStep{id: "src", component: "filesystem.csv_extractor",
			cfg: map[string]any{"path": "data/a.csv"}},
		testStep{id: "sum", component: "duckdb.processor", needs: []string{"src"},
			cfg: map[string]any{"query": "SELECT SUM(n) AS s FROM input_df"}},
		testStep{id: "out", component: "filesystem.csv_writer", needs: []string{"sum"},
			cfg: map[string]any{"path": "out.csv"}})
	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(res.RunDir, "osiris.log"))
	if !strings.Contains(string(raw), "duckdb query") {
		t.Fatalf("the debug line of the query is missing:\n%s", raw)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Count(line, "step_id=") > 1 {
			t.Errorf("step_id repeated: %s", line)
		}
	}
}
