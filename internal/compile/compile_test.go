package compile

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/registry"
)

type fakeDriver struct{}

func (fakeDriver) Run(context.Context, drivers.Request) (drivers.Result, error) {
	return drivers.Result{}, nil
}

func init() {
	for _, name := range []string{"filesystem.csv_extractor", "filesystem.csv_writer",
		"duckdb.processor", "mysql.extractor", "supabase.writer", "graphql.extractor"} {
		drivers.Register(name, func() drivers.Driver { return fakeDriver{} })
	}
}

const csvPipeline = `oml_version: "0.1.0"
name: contacts-copy
metadata: {intent: copy contacts, owner: ops}
params:
  out: {type: string, default: output/contacts.csv}
  limit: {type: int, default: 10}
profiles:
  prod: {params: {out: output/prod.csv}}
steps:
  - id: read-contacts
    component: filesystem.csv_extractor
    mode: read
    config:
      path: inbox/contacts.csv
      limit: ${params.limit}
  - id: clean
    component: duckdb.processor
    mode: transform
    config:
      query: |
        SELECT id, lower(email) AS email
        FROM input_df
  - id: write-contacts
    component: filesystem.csv_writer
    mode: write
    config: {path: "${params.out}", delimiter: ";"}
`

func newProject(t *testing.T) *config.Project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func compileSrc(t *testing.T, p *config.Project, src string, mutate ...func(*Options)) (
	*Result, error) {
	t.Helper()
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Project: p, Registry: reg, File: "pipelines/p.yaml", Source: []byte(src)}
	for _, m := range mutate {
		m(&opts)
	}
	return Compile(context.Background(), opts)
}

// artifacts reads every file of a build dir except run_summary.json, which holds a time.
func artifacts(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "run_summary.json" {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompileIsDeterministicAcrossRunsAndProjects(t *testing.T) {
	p1, p2 := newProject(t), newProject(t)
	first, err := compileSrc(t, p1, csvPipeline)
	if err != nil {
		t.Fatal(err)
	}
	a := artifacts(t, first.ManifestDir)
	for _, want := range []string{"manifest.yaml", "plan.json", "fingerprints.json",
		"cfg/read-contacts.json", "cfg/clean.json", "cfg/write-contacts.json"} {
		if _, ok := a[want]; !ok {
			t.Fatalf("missing artifact %s; have %v", want, keys(a))
		}
	}

	forced, err := compileSrc(t, p1, csvPipeline, func(o *Options) { o.Mode = ModeForce })
	if err != nil {
		t.Fatal(err)
	}
	other, err := compileSrc(t, p2, csvPipeline)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []*Result{forced, other} {
		if res.ManifestHash != first.ManifestHash || res.CacheHit {
			t.Fatalf("hash %s (hit %v), want %s", res.ManifestHash, res.CacheHit, first.ManifestHash)
		}
		b := artifacts(t, res.ManifestDir)
		if len(a) != len(b) {
			t.Fatalf("artifact sets differ: %v vs %v", keys(a), keys(b))
		}
		for name, data := range a {
			if !bytes.Equal(data, b[name]) {
				t.Fatalf("%s differs:\n%s\n---\n%s", name, data, b[name])
			}
		}
	}
	rel1, _ := filepath.Rel(p1.Base, first.ManifestDir)
	rel2, _ := filepath.Rel(p2.Base, other.ManifestDir)
	if rel1 != rel2 {
		t.Fatalf("manifest dirs differ: %s vs %s", rel1, rel2)
	}
	wantRel := filepath.Join("build", "pipelines", "dev", "contacts-copy",
		first.ManifestShort+"-"+first.ManifestHash)
	if rel1 != wantRel {
		t.Fatalf("manifest dir %s, want %s", rel1, wantRel)
	}
}

func TestManifestContent(t *testing.T) {
	p := newProject(t)
	res, err := compileSrc(t, p, csvPipeline)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if !strings.HasPrefix(text, "---\n") || !strings.HasSuffix(text, "...\n") {
		t.Fatalf("manifest not framed by --- and ...:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasSuffix(line, " ") || strings.Contains(line, "\r") {
			t.Fatalf("trailing space or CR in %q", line)
		}
	}

	m, err := manifest.Load(res.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta.ManifestHash != res.ManifestHash || len(res.ManifestHash) != 64 ||
		m.Meta.ManifestShort != res.ManifestHash[:7] || m.Meta.RunID != "${run_id}" ||
		m.Meta.Profile != "dev" || m.Pipeline.ID != "contacts-copy" ||
		m.Meta.Toolchain.Compiler != "osiris-compiler/0.1" {
		t.Fatalf("meta: %+v pipeline: %+v", m.Meta, m.Pipeline)
	}
	if m.Metadata["intent"] != "copy contacts" {
		t.Fatalf("metadata: %v", m.Metadata)
	}
	wantNeeds := [][]string{{}, {"read-contacts"}, {"clean"}}
	for i, s := range m.Steps {
		if strings.Join(s.Needs, ",") != strings.Join(wantNeeds[i], ",") ||
			s.Driver != s.Component || s.CfgPath != "cfg/"+s.ID+".json" {
			t.Fatalf("step %d: %+v", i, s)
		}
	}
	for _, k := range []string{"compiler_fp", "manifest_fp", "oml_fp", "params_fp",
		"registry_fp"} {
		if !strings.HasPrefix(m.Pipeline.Fingerprints[k], "sha256:") {
			t.Fatalf("fingerprint %s = %q", k, m.Pipeline.Fingerprints[k])
		}
	}
	if m.Pipeline.Fingerprints["compiler_fp"] !=
		"sha256:"+sha256Hex([]byte("osiris-compiler/0.1")) {
		t.Fatal("compiler_fp")
	}

	// manifest_hash is sha256 of {"manifest": M, "profile": P} with M lacking the hash,
	// the short hash and manifest_fp.
	plain, _ := toPlain(m)
	mm := plain.(map[string]any)
	if md, ok := mm["metadata"].(map[string]any); ok && len(md) == 0 {
		delete(mm, "metadata")
	}
	delete(mm["meta"].(map[string]any), "manifest_hash")
	delete(mm["meta"].(map[string]any), "manifest_short")
	delete(mm["pipeline"].(map[string]any)["fingerprints"].(map[string]any), "manifest_fp")
	again, _ := CanonicalJSON(map[string]any{"manifest": mm, "profile": "dev"})
	if sha256Hex(again) != res.ManifestHash {
		t.Fatal("manifest_hash does not match its definition")
	}
	fpInput, _ := CanonicalJSON(mm)
	if "sha256:"+sha256Hex(fpInput) != m.Pipeline.Fingerprints["manifest_fp"] {
		t.Fatal("manifest_fp does not match its definition")
	}

	cfg, err := manifest.StepConfig(res.ManifestDir, m.Steps[0])
	if err != nil {
		t.Fatal(err)
	}
	if cfg["mode"] != "extract" || cfg["component"] != "filesystem.csv_extractor" ||
		cfg["limit"].(interface{ String() string }).String() != "10" ||
		cfg["delimiter"] != "," {
		t.Fatalf("cfg: %v", cfg)
	}
	if _, injected := cfg["base_dir"]; injected {
		t.Fatal("connection field default injected")
	}
	writeCfg, _ := manifest.StepConfig(res.ManifestDir, m.Steps[2])
	if writeCfg["path"] != "output/contacts.csv" || writeCfg["delimiter"] != ";" {
		t.Fatalf("write cfg: %v", writeCfg)
	}
	plan, _ := os.ReadFile(filepath.Join(res.ManifestDir, "plan.json"))
	wantPlan := `{"steps":[{"driver":"filesystem.csv_extractor","id":"read-contacts"},` +
		`{"driver":"duckdb.processor","id":"clean"},` +
		`{"driver":"filesystem.csv_writer","id":"write-contacts"}]}`
	if string(plan) != wantPlan {
		t.Fatalf("plan.json:\n%s\nwant\n%s", plan, wantPlan)
	}
}

func TestParamsPrecedence(t *testing.T) {
	read := func(res *Result) string {
		m, err := manifest.Load(res.ManifestPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := manifest.StepConfig(res.ManifestDir, m.Steps[2])
		return cfg["path"].(string)
	}
	p := newProject(t)

	res, err := compileSrc(t, p, csvPipeline)
	if err != nil || read(res) != "output/contacts.csv" {
		t.Fatalf("default: %v %v", err, res)
	}
	res, _ = compileSrc(t, p, csvPipeline, func(o *Options) { o.Profile = "prod" })
	if read(res) != "output/prod.csv" || res.Profile != "prod" ||
		!strings.Contains(res.ManifestDir, filepath.Join("pipelines", "prod")) {
		t.Fatalf("profile: %s %s", read(res), res.ManifestDir)
	}
	t.Setenv("OSIRIS_PARAM_OUT", "output/env.csv")
	res, _ = compileSrc(t, p, csvPipeline, func(o *Options) { o.Profile = "prod" })
	if read(res) != "output/env.csv" {
		t.Fatalf("env: %s", read(res))
	}
	res, _ = compileSrc(t, p, csvPipeline, func(o *Options) {
		o.Profile = "prod"
		o.Params = map[string]string{"out": "output/flag.csv"}
	})
	if read(res) != "output/flag.csv" {
		t.Fatalf("flag: %s", read(res))
	}
}

func TestCompileCache(t *testing.T) {
	p := newProject(t)
	first, err := compileSrc(t, p, csvPipeline)
	if err != nil || first.CacheHit {
		t.Fatalf("first: %v %+v", err, first)
	}
	second, err := compileSrc(t, p, csvPipeline)
	if err != nil || !second.CacheHit || second.ManifestPath != first.ManifestPath {
		t.Fatalf("second: %v %+v", err, second)
	}
	never, err := compileSrc(t, p, csvPipeline, func(o *Options) { o.Mode = ModeNever })
	if err != nil || !never.CacheHit {
		t.Fatalf("never with a hit: %v %+v", err, never)
	}
	forced, err := compileSrc(t, p, csvPipeline, func(o *Options) { o.Mode = ModeForce })
	if err != nil || forced.CacheHit {
		t.Fatalf("force: %v %+v", err, forced)
	}

	changed := strings.Replace(csvPipeline, "delimiter: \";\"", "delimiter: \"|\"", 1)
	_, err = compileSrc(t, p, changed, func(o *Options) { o.Mode = ModeNever })
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Type != "compilation_error" {
		t.Fatalf("never without a hit: %v", err)
	}

	if err := os.RemoveAll(first.ManifestDir); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := compileSrc(t, p, csvPipeline)
	if err != nil || rebuilt.CacheHit {
		t.Fatalf("cache entry must lapse with its manifest: %v %+v", err, rebuilt)
	}
}

func TestPointers(t *testing.T) {
	p := newProject(t)
	res, err := compileSrc(t, p, csvPipeline)
	if err != nil {
		t.Fatal(err)
	}
	for _, ptr := range []string{LastCompilePointer(p), LatestPointer(p, "contacts-copy"),
		filepath.Join(p.BuildDir(), "pipelines", "dev", "contacts-copy", "LATEST")} {
		path, hash, profile, err := ReadPointer(ptr)
		if err != nil || path != res.ManifestPath || hash != res.ManifestHash || profile != "dev" {
			t.Fatalf("%s: %q %q %q %v", ptr, path, hash, profile, err)
		}
	}
	if _, _, _, err := ReadPointer(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("missing pointer must fail")
	}
}

// TestFailuresWriteNothing covers every way a compile is refused: nothing may appear on
// disk, not a build dir, a pointer nor a cache entry.
func TestFailuresWriteNothing(t *testing.T) {
	cases := []struct {
		name, src, errType, location string
	}{
		{"yaml", "name: a\nsteps: [\n", "validation_error", "root"},
		{"unknown component", strings.Replace(csvPipeline, "duckdb.processor",
			"oracle.processor", 1), "compilation_error", "steps[1].component"},
		{"needs names no step", strings.Replace(csvPipeline, "    mode: transform\n",
			"    mode: transform\n    needs: [ghost]\n", 1), "validation_error",
			"steps[1].needs[0]"},
		{"cycle", strings.Replace(strings.Replace(csvPipeline, "    mode: transform\n",
			"    mode: transform\n    needs: [write-contacts]\n", 1),
			"filesystem.csv_writer", "duckdb.processor", 1),
			"validation_error", "steps[2]"},
		{"inline password", strings.Replace(csvPipeline, "limit: ${params.limit}",
			"limit: ${params.limit}\n      password: hunter2-Sentinel", 1),
			"secret_inline_forbidden", "steps[0].config.password"},
		{"unresolved param", strings.Replace(csvPipeline, "inbox/contacts.csv",
			"${params.inbox}", 1), "unresolved_param", "steps[0].config.path"},
		{"no driver", strings.Replace(strings.Replace(csvPipeline,
			"filesystem.csv_extractor", "posthog.extractor", 1),
			"path: inbox/contacts.csv\n      limit: ${params.limit}", "data_type: events", 1),
			"compilation_error", "steps[0].component"},
		{"type after params", strings.Replace(csvPipeline, "limit: {type: int, default: 10}",
			"limit: {type: string, default: many}", 1), "validation_error",
			"steps[0].config.limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProject(t)
			_, err := compileSrc(t, p, tc.src)
			gotType, issues := "", []oml.Issue(nil)
			var verr *oml.ValidationError
			var cerr *Error
			switch {
			case errors.As(err, &verr):
				gotType, issues = "validation_error", verr.Issues
			case errors.As(err, &cerr):
				gotType, issues = cerr.Type, cerr.Issues
			}
			if gotType != tc.errType {
				t.Fatalf("got %T %v, want %s", err, err, tc.errType)
			}
			if tc.location != "" {
				found := false
				for _, is := range issues {
					found = found || (is.Location == tc.location && is.Line > 0)
				}
				if !found {
					t.Fatalf("no issue at %s in %+v", tc.location, issues)
				}
				if !strings.Contains(err.Error(), "pipelines/p.yaml:") {
					t.Fatalf("message %q does not name file:line", err.Error())
				}
			}
			if strings.Contains(err.Error(), "Sentinel") {
				t.Fatalf("error leaks the secret: %v", err)
			}
			entries, _ := os.ReadDir(p.Root)
			for _, e := range entries {
				if e.Name() != "osiris.yaml" {
					t.Fatalf("refused compile wrote %s", e.Name())
				}
			}
		})
	}
}

func TestNoSecretInArtifacts(t *testing.T) {
	const sentinel = "Sup3r-Secret-Sentinel-42"
	p := newProject(t)
	conns := "connections:\n  mysql:\n    shop:\n      host: 127.0.0.1\n      database: shop\n" +
		"      user: reader\n      password: ${SHOP_PW}\n"
	if err := os.WriteFile(p.ConnectionsFile(), []byte(conns), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHOP_PW", sentinel)
	t.Setenv("OSIRIS_PARAM_TOKEN", sentinel)
	src := `oml_version: "0.1.0"
name: shop-export
steps:
  - id: load-orders
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      table: orders
  - id: write
    component: filesystem.csv_writer
    mode: write
    config: {path: out.csv}
  - id: api
    component: graphql.extractor
    mode: read
    needs: []
    config:
      connection: "@graphql.api"
      query: "{ a }"
      headers: {Accept: application/json, Authorization: "${API_TOKEN}"}
`
	res, err := compileSrc(t, p, src)
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]bool{}
	for _, w := range res.Warnings {
		if w.Type == "secret_field_dropped" {
			dropped[w.Location] = true
		}
	}
	if !dropped["steps[2].config.headers.Authorization"] {
		t.Fatalf("dropped-secret warnings: %+v", res.Warnings)
	}
	err = filepath.WalkDir(p.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == p.ConnectionsFile() {
			return err
		}
		data, err := os.ReadFile(path)
		if bytes.Contains(data, []byte(sentinel)) || bytes.Contains(data, []byte("${SHOP_PW}")) {
			t.Errorf("%s holds a secret or its placeholder", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := manifest.Load(res.ManifestPath)
	api, _ := manifest.StepConfig(res.ManifestDir, m.Steps[2])
	headers, _ := api["headers"].(map[string]any)
	if headers["Accept"] != "application/json" || headers["Authorization"] != nil {
		t.Fatalf("headers: %v", headers)
	}
	load, _ := manifest.StepConfig(res.ManifestDir, m.Steps[0])
	if load["connection"] != "@mysql.shop" || load["host"] != nil {
		t.Fatalf("load cfg: %v", load)
	}
}

func TestDeprecatedModeAlias(t *testing.T) {
	p := newProject(t)
	drivers.Register("mysql.writer", func() drivers.Driver { return fakeDriver{} })
	src := `oml_version: "0.1.0"
name: alias
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: in.csv}
  - id: store
    component: mysql.writer
    mode: write
    config: {connection: "@mysql.db", table: t, mode: append}
`
	res, err := compileSrc(t, p, src)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := manifest.Load(res.ManifestPath)
	cfg, _ := manifest.StepConfig(res.ManifestDir, m.Steps[1])
	if cfg["mode"] != "write" || cfg["write_mode"] != "append" {
		t.Fatalf("cfg: %v", cfg)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDefaultsKeepIntegerAndNumberTypes(t *testing.T) {
	p := newProject(t)
	res, err := compileSrc(t, p, csvPipeline)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(res.ManifestDir, "cfg", "read-contacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"chunk_size":10000,`) ||
		!strings.Contains(string(raw), `"skip_rows":0}`) {
		t.Fatalf("integer defaults written as floats: %s", raw)
	}

	src := `oml_version: "0.1.0"
name: gql
steps:
  - id: api
    component: graphql.extractor
    mode: read
    config: {connection: "@graphql.api", query: "{ a }"}
`
	res, err = compileSrc(t, p, src)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(filepath.Join(res.ManifestDir, "cfg", "api.json"))
	if !strings.Contains(string(raw), `"retry_delay":1.0,`) ||
		!strings.Contains(string(raw), `"max_retries":3,`) {
		t.Fatalf("number defaults: %s", raw)
	}
}
