package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/drivers"
	_ "github.com/osirisgo/osiris/internal/drivers/duckdb"
	_ "github.com/osirisgo/osiris/internal/drivers/filesystem"
	"github.com/osirisgo/osiris/internal/manifest"
)

const sentinel = "Sentinel-Pa55w0rd-@/xyz"

func init() {
	drivers.Register("leaky.extractor", func() drivers.Driver { return &leakyDriver{} })
}

// leakyDriver tries every way a careless driver could leak its connection password.
type leakyDriver struct{}

func (d *leakyDriver) Run(_ context.Context, req drivers.Request) (drivers.Result, error) {
	conn, _ := req.Config["resolved_connection"].(map[string]any)
	pw, _ := conn["password"].(string)
	req.Env.Logger().Info("connecting with " + pw)
	req.Env.Event("debug.connect", map[string]any{"dsn": "mysql://u:" + pw + "@h/db",
		"note": "pw is " + pw})
	return drivers.Result{}, fmt.Errorf("access denied for password %s", pw)
}

type project struct {
	t    *testing.T
	dir  string
	proj *config.Project
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"+
		"ids:\n  run_id_format: [incremental]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &project{t: t, dir: dir, proj: p}
}

func (p *project) write(rel, text string) string {
	p.t.Helper()
	path := filepath.Join(p.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

type testStep struct {
	id, component string
	needs         []string
	cfg           map[string]any
}

// manifest writes manifest.yaml and cfg/<id>.json the way the compiler lays them out.
func (p *project) manifest(slug string, steps ...testStep) string {
	p.t.Helper()
	dir := filepath.Join(p.dir, "build", "pipelines", "dev", slug, "abc1234-abc1234def")
	m := manifest.Manifest{
		Meta: manifest.Meta{ManifestHash: "abc1234def", ManifestShort: "abc1234",
			OMLVersion: "0.1.0", Profile: "dev", RunID: "${run_id}"},
		Name:     slug,
		Pipeline: manifest.Pipeline{ID: slug, Version: "0.1.0"},
	}
	for _, s := range steps {
		needs := s.needs
		if needs == nil {
			needs = []string{}
		}
		m.Steps = append(m.Steps, manifest.Step{ID: s.id, Component: s.component,
			Driver: s.component, CfgPath: "cfg/" + s.id + ".json", Needs: needs})
		cfg := map[string]any{"component": s.component}
		for k, v := range s.cfg {
			cfg[k] = v
		}
		raw, _ := json.Marshal(cfg)
		p.write(filepath.Join(strings.TrimPrefix(dir, p.dir), "cfg", s.id+".json"), string(raw))
	}
	raw, err := yamlMarshal(m)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(filepath.Join(strings.TrimPrefix(dir, p.dir), "manifest.yaml"), raw)
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: bad line %q: %v", path, line, err)
		}
		out = append(out, m)
	}
	return out
}

func eventNames(t *testing.T, runDir string) []string {
	var names []string
	for _, ev := range readLines(t, filepath.Join(runDir, "events.jsonl")) {
		names = append(names, ev["event"].(string))
	}
	return names
}

// settle waits for goroutines to wind down to the count before the run.
func settle(t *testing.T, before int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	n := runtime.Stack(buf, true)
	t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("%s not empty: %v", dir, entries)
	}
}

const airportsCSV = "iata,state,lat\nAAA,TX,30.5\nBBB,TX,31\nCCC,MS,32.25\nDDD,CA,33\n" +
	"EEE,TX,34\n"

func TestRunCSVThroughDuckDBToCSV(t *testing.T) {
	p := newProject(t)
	p.write("data/airports.csv", airportsCSV)
	mpath := p.manifest("airports-per-state",
		testStep{id: "read-airports", component: "filesystem.csv_extractor",
			cfg: map[string]any{"path": "data/airports.csv"}},
		testStep{id: "count", component: "duckdb.processor", needs: []string{"read-airports"},
			cfg: map[string]any{"query": "SELECT state, COUNT(*) AS airports FROM " +
				"df_read_airports GROUP BY state ORDER BY airports DESC, state"}},
		testStep{id: "write", component: "filesystem.csv_writer", needs: []string{"count"},
			cfg: map[string]any{"path": "output/per_state.csv"}},
	)
	tmp := t.TempDir()
	before := runtime.NumGoroutine()

	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, before)
	assertEmptyDir(t, tmp)

	if res.RunID != "run-000001" || res.Status != "success" || res.StepsCompleted != 3 ||
		res.TotalRows != 3 {
		t.Fatalf("result: %+v", res)
	}
	out, _ := os.ReadFile(filepath.Join(p.dir, "output", "per_state.csv"))
	if string(out) != "state,airports\nTX,3\nCA,1\nMS,1\n" {
		t.Fatalf("output: %q", out)
	}

	for _, name := range []string{"events.jsonl", "metrics.jsonl", "osiris.log",
		"manifest.yaml", "status.json", "cfg/count.json",
		"artifacts/count/cleaned_config.json"} {
		if _, err := os.Stat(filepath.Join(res.RunDir, name)); err != nil {
			t.Errorf("run dir lacks %s", name)
		}
	}
	if !strings.Contains(res.RunDir, filepath.Join("run_logs", "dev", "airports-per-state")) ||
		!strings.HasSuffix(res.RunDir, "_run-000001-abc1234") {
		t.Errorf("run dir %s", res.RunDir)
	}

	names := eventNames(t, res.RunDir)
	if names[0] != "run_start" || names[len(names)-1] != "run_end" {
		t.Errorf("events start %s, end %s", names[0], names[len(names)-1])
	}
	for _, want := range []string{"step_start", "step_complete", "inputs_resolved",
		"config_meta_stripped", "artifact_created", "cleanup_complete", "run_complete",
		"run_index_updated", "aiop_export_complete"} {
		if !contains(names, want) {
			t.Errorf("no %s event in %v", want, names)
		}
	}
	for _, m := range readLines(t, filepath.Join(res.RunDir, "metrics.jsonl")) {
		if m["metric"] == "rows_read" && m["step_id"] == nil {
			t.Errorf("rows_read without step_id: %v", m)
		}
	}

	var status Status
	raw, _ := os.ReadFile(filepath.Join(res.RunDir, "status.json"))
	if err := json.Unmarshal(raw, &status); err != nil || !status.OK ||
		status.StepsCompleted != 3 || status.ExitCode != 0 {
		t.Fatalf("status.json: %s", raw)
	}

	recs, err := ReadRunRecords(p.proj)
	if err != nil || len(recs) != 1 || recs[0].RunID != "run-000001" ||
		recs[0].Status != "success" || recs[0].PipelineSlug != "airports-per-state" {
		t.Fatalf("index: %+v %v", recs, err)
	}
	if _, err := os.Stat(filepath.Join(p.proj.IndexDir(), "by_pipeline",
		"airports-per-state.jsonl")); err != nil {
		t.Error(err)
	}
	summary := filepath.Join(p.dir, "aiop", "dev", "airports-per-state", "abc1234-abc1234def",
		"run-000001", "summary.json")
	if res.AIOPPath != summary {
		t.Fatalf("aiop path %s", res.AIOPPath)
	}

	// A second run gets the next counter and a delta against the first.
	res2, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath})
	if err != nil || res2.RunID != "run-000002" {
		t.Fatalf("second run: %v %v", res2, err)
	}
	var doc map[string]any
	raw, _ = os.ReadFile(res2.AIOPPath)
	_ = json.Unmarshal(raw, &doc)
	delta := doc["metadata"].(map[string]any)["delta"].(map[string]any)
	if delta["first_run"] != false {
		t.Fatalf("delta: %v", delta)
	}
}

func TestFanOutAndDiamond(t *testing.T) {
	p := newProject(t)
	var b strings.Builder
	b.WriteString("n,grp\n")
	for i := 0; i < 30000; i++ {
		fmt.Fprintf(&b, "%d,g%d\n", i, i%3)
	}
	p.write("data/n.csv", b.String())
	// src feeds two transforms that both feed a join, and a writer directly.
	mpath := p.manifest("diamond",
		testStep{id: "src", component: "filesystem.csv_extractor",
			cfg: map[string]any{"path": "data/n.csv", "chunk_size": 1000}},
		testStep{id: "evens", component: "duckdb.processor", needs: []string{"src"},
			cfg: map[string]any{"query": "SELECT COUNT(*) AS c FROM df_src WHERE n % 2 = 0"}},
		testStep{id: "odds", component: "duckdb.processor", needs: []string{"src"},
			cfg: map[string]any{"query": "SELECT COUNT(*) AS c FROM input_df WHERE n % 2 = 1"}},
		testStep{id: "both", component: "duckdb.processor", needs: []string{"evens", "odds"},
			cfg: map[string]any{"query": "SELECT e.c AS evens, o.c AS odds FROM df_evens e, df_odds o"}},
		testStep{id: "copy", component: "filesystem.csv_writer", needs: []string{"src"},
			cfg: map[string]any{"path": "out/copy.csv"}},
		testStep{id: "out", component: "filesystem.csv_writer", needs: []string{"both"},
			cfg: map[string]any{"path": "out/both.csv"}},
	)
	tmp := t.TempDir()
	before := runtime.NumGoroutine()
	// Progress is a plain buffer: steps that finish together must not write it at once.
	var progress bytes.Buffer
	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		TempDir: tmp, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	settle(t, before)
	assertEmptyDir(t, tmp)
	if lines := strings.Count(progress.String(), "\n"); lines < 6 {
		t.Fatalf("want a progress line per step, got:\n%s", progress.String())
	}
	got, _ := os.ReadFile(filepath.Join(p.dir, "out", "both.csv"))
	if string(got) != "evens,odds\n15000,15000\n" {
		t.Fatalf("both.csv = %q", got)
	}
	copied, _ := os.ReadFile(filepath.Join(p.dir, "out", "copy.csv"))
	if string(copied) != b.String() {
		t.Fatal("copy.csv differs from the source")
	}
	if res.TotalRows != 30001 {
		t.Fatalf("total rows %d", res.TotalRows)
	}
}

func TestFailingStepStopsTheRunAndReleasesEverything(t *testing.T) {
	p := newProject(t)
	var b strings.Builder
	b.WriteString("a,b\n")
	for i := 0; i < 50000; i++ {
		b.WriteString("1,2\n")
	}
	b.WriteString("1,2,3\n")
	p.write("data/bad.csv", b.String())
	mpath := p.manifest("bad",
		testStep{id: "src", component: "filesystem.csv_extractor",
			cfg: map[string]any{"path": "data/bad.csv"}},
		testStep{id: "t", component: "duckdb.processor", needs: []string{"src"},
			cfg: map[string]any{"query": "SELECT * FROM input_df"}},
		testStep{id: "w1", component: "filesystem.csv_writer", needs: []string{"t"},
			cfg: map[string]any{"path": "out/a.csv"}},
		testStep{id: "w2", component: "filesystem.csv_writer", needs: []string{"src"},
			cfg: map[string]any{"path": "out/b.csv"}},
	)
	tmp := t.TempDir()
	before := runtime.NumGoroutine()
	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		TempDir: tmp})
	var re *Error
	if !errors.As(err, &re) || re.Kind != KindStep || re.Step != "src" ||
		!strings.Contains(re.Msg, "line 50002") || re.Code != "extract.data" {
		t.Fatalf("error: %#v", err)
	}
	settle(t, before)
	assertEmptyDir(t, tmp)
	if res.Status != "failed" || res.StepsCompleted != 0 {
		t.Fatalf("result %+v", res)
	}
	for _, f := range []string{"out/a.csv", "out/b.csv"} {
		if _, err := os.Stat(filepath.Join(p.dir, f)); err == nil {
			t.Errorf("%s written by a failed run", f)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(p.dir, "out"))
	for _, e := range entries {
		t.Errorf("left in out/: %s", e.Name())
	}
	var status Status
	raw, _ := os.ReadFile(filepath.Join(res.RunDir, "status.json"))
	_ = json.Unmarshal(raw, &status)
	if status.OK || status.ExitCode != 1 || !strings.Contains(status.Reason, "line 50002") {
		t.Fatalf("status.json %s", raw)
	}
	names := eventNames(t, res.RunDir)
	if !contains(names, "step_error") || !contains(names, "run_error") ||
		names[len(names)-1] != "run_end" {
		t.Fatalf("events %v", names)
	}
	recs, _ := ReadRunRecords(p.proj)
	if len(recs) != 1 || recs[0].Status != "failed" {
		t.Fatalf("a failed run must be indexed: %+v", recs)
	}
}

func TestCancelledRunReleasesEverything(t *testing.T) {
	p := newProject(t)
	var b strings.Builder
	b.WriteString("a\n")
	for i := 0; i < 200000; i++ {
		b.WriteString("1\n")
	}
	p.write("data/big.csv", b.String())
	mpath := p.manifest("cancel",
		testStep{id: "src", component: "filesystem.csv_extractor",
			cfg: map[string]any{"path": "data/big.csv", "chunk_size": 100}},
		testStep{id: "w", component: "filesystem.csv_writer", needs: []string{"src"},
			cfg: map[string]any{"path": "out/a.csv"}},
		testStep{id: "w2", component: "filesystem.csv_writer", needs: []string{"src"},
			cfg: map[string]any{"path": "out/b.csv"}},
	)
	tmp := t.TempDir()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, Options{Project: p.proj, ManifestPath: mpath, TempDir: tmp})
	if err == nil || res.Status != "failed" {
		t.Fatalf("cancelled run: %v %v", res, err)
	}
	settle(t, before)
	assertEmptyDir(t, tmp)
}

func TestManifestErrors(t *testing.T) {
	p := newProject(t)
	cyc := p.manifest("cyc",
		testStep{id: "a", component: "filesystem.csv_extractor", needs: []string{"b"},
			cfg: map[string]any{"path": "x"}},
		testStep{id: "b", component: "filesystem.csv_writer", needs: []string{"a"},
			cfg: map[string]any{"path": "y"}},
	)
	_, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: cyc})
	var re *Error
	if !errors.As(err, &re) || re.Kind != KindManifest || !strings.Contains(re.Msg, "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	_, err = Run(context.Background(), Options{Project: p.proj,
		ManifestPath: filepath.Join(p.dir, "nope.yaml")})
	if !errors.As(err, &re) || re.Kind != KindManifest {
		t.Fatalf("missing: %v", err)
	}
}

func TestNoSecretInAnyRecord(t *testing.T) {
	p := newProject(t)
	t.Setenv("LEAKY_PW", sentinel)
	p.write("osiris_connections.yaml", "connections:\n  leaky:\n    main:\n"+
		"      host: db.internal\n      user: admin\n      password: ${LEAKY_PW}\n")
	mpath := p.manifest("leaky",
		testStep{id: "src", component: "leaky.extractor",
			cfg: map[string]any{"connection": "@leaky.main", "table": "t"}})
	sink := &strings.Builder{}
	res, err := Run(context.Background(), Options{Project: p.proj, ManifestPath: mpath,
		EventSink: sink})
	if err == nil {
		t.Fatal("the leaky driver fails")
	}
	if strings.Contains(err.Error(), sentinel) {
		t.Fatalf("error leaks: %v", err)
	}
	if strings.Contains(sink.String(), sentinel) {
		t.Fatal("event sink leaks the secret")
	}
	checked := 0
	_ = filepath.WalkDir(p.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "osiris_connections.yaml") {
			return nil
		}
		raw, _ := os.ReadFile(path)
		if strings.Contains(string(raw), sentinel) || strings.Contains(string(raw),
			"Sentinel-Pa55") {
			t.Errorf("%s holds the secret", path)
		}
		checked++
		return nil
	})
	if checked < 8 {
		t.Fatalf("only %d files checked", checked)
	}
	cleaned, _ := os.ReadFile(filepath.Join(res.RunDir, "artifacts", "src",
		"cleaned_config.json"))
	if !strings.Contains(string(cleaned), "***MASKED***") {
		t.Fatalf("cleaned config: %s", cleaned)
	}
	if !strings.Contains(sink.String(), `"type":"event"`) {
		t.Fatalf("sink: %s", sink.String())
	}
}

func TestSpillKeepsOrderWhenConsumersDrift(t *testing.T) {
	var rows [][]any
	for i := 0; i < 50; i++ {
		rows = append(rows, []any{int64(i), time.Unix(int64(i), 0).UTC(),
			drivers.Decimal(fmt.Sprint(i)), nil})
	}
	src := drivers.NewSliceStream([]drivers.Column{{Name: "n", Type: drivers.TypeInt}}, rows, 1)
	tmp := t.TempDir()
	f := newFanout("src", src, 2, tmp)
	done := make(chan struct{})
	go func() { f.run(context.Background()); close(done) }()

	// Drain the first consumer completely before touching the second.
	first, err := drivers.ReadAll(context.Background(), f.consumers[0])
	if err != nil || len(first) != 50 {
		t.Fatalf("first: %d %v", len(first), err)
	}
	<-done
	if f.consumers[1].spilled == 0 {
		t.Fatal("the lagging consumer should have spilled")
	}
	second, err := drivers.ReadAll(context.Background(), f.consumers[1])
	if err != nil || len(second) != 50 {
		t.Fatalf("second: %d %v", len(second), err)
	}
	for i, row := range second {
		if row[0] != int64(i) || !row[1].(time.Time).Equal(time.Unix(int64(i), 0)) ||
			row[2] != drivers.Decimal(fmt.Sprint(i)) || row[3] != nil {
			t.Fatalf("row %d = %v", i, row)
		}
	}
	assertEmptyDir(t, tmp)
}

func TestInputKeys(t *testing.T) {
	keys := inputKeys([]manifest.Step{{ID: "load-orders"}, {ID: "1st"}, {ID: "a.b"},
		{ID: "a_b"}})
	if keys["load-orders"] != "df_load_orders" || keys["1st"] != "df__1st" {
		t.Fatalf("keys %v", keys)
	}
	if keys["a.b"] == keys["a_b"] || !strings.HasPrefix(keys["a.b"], "df_a_b_") {
		t.Fatalf("collision not resolved: %v", keys)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func yamlMarshal(v any) (string, error) {
	raw, err := yaml.Marshal(v)
	return string(raw), err
}
