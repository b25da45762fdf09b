package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// omlCSVPipeline runs on the embedded csv and duckdb drivers, with a param and a profile.
const omlCSVPipeline = `oml_version: "0.1.0"
name: contacts-copy
params:
  out: {type: string, default: output/contacts.csv}
profiles:
  prod: {params: {out: output/prod.csv}}
steps:
  - id: read-contacts
    component: filesystem.csv_extractor
    mode: read
    config: {connection: @filesystem.local, path: inbox/contacts.csv}
  - id: clean
    component: duckdb.processor
    mode: transform
    config: {query: "SELECT * FROM input_df"}
  - id: write-contacts
    component: filesystem.csv_writer
    mode: write
    config: {path: "${params.out}"}
`

// omlInvalidPipeline has an unknown config key and a dependency on a missing step.
const omlInvalidPipeline = `oml_version: "0.1.0"
name: Broken Pipeline
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {path: in.csv, colour: red}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [ghost]
    config: {path: out.csv}
`

func omlProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func omlWrite(t *testing.T, dir, rel, content string) string {
	t.Helper()
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	omlHashPattern  = regexp.MustCompile(`[0-9a-f]{64}`)
	omlShortPattern = regexp.MustCompile(`"manifest_short": "[0-9a-f]+"|/[0-9a-f]{7}-\$HASH`)
	omlTimePattern  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
)

// omlNormalise replaces the project dir, hashes and times with placeholders; hashes move
// whenever a component spec changes, and the compile tests pin them down on their own.
func omlNormalise(s, dir string) string {
	s = normalise(s, dir)
	s = omlHashPattern.ReplaceAllString(s, "$$HASH")
	s = omlShortPattern.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "/") {
			return "/$SHORT-$HASH"
		}
		return `"manifest_short": "$SHORT"`
	})
	return omlTimePattern.ReplaceAllString(s, "$$TIME")
}

func TestOMLGoldenDocuments(t *testing.T) {
	dir := omlProject(t)
	good := omlWrite(t, dir, "pipelines/copy.yaml", omlCSVPipeline)
	bad := omlWrite(t, dir, "pipelines/broken.yaml", omlInvalidPipeline)
	cases := []struct {
		golden, stdin string
		code          int
		args          []string
	}{
		{"oml_validate_valid.json", "", 0, []string{"oml", "validate", good}},
		{"oml_validate_invalid.json", "", 2, []string{"oml", "validate", bad}},
		{"oml_validate_stdin.json", omlCSVPipeline, 0, []string{"oml", "validate", "-"}},
		{"oml_validate_files.json", "", 2, []string{"oml", "validate", good, bad}},
		{"oml_validate_yaml_error.json", "name: a\nsteps: [\n", 2,
			[]string{"oml", "validate", "-"}},
		{"oml_schema.json", "", 0, []string{"oml", "schema"}},
		{"oml_save.json", omlCSVPipeline, 0, []string{"oml", "save"}},
		{"oml_save_exists.json", omlCSVPipeline, 2, []string{"oml", "save"}},
		{"oml_save_invalid.json", omlInvalidPipeline, 2,
			[]string{"oml", "save", "--path", filepath.Join(dir, "pipelines", "b2.yaml")}},
		{"compile.json", "", 0, []string{"compile", good}},
		{"compile_cache_hit.json", "", 0, []string{"compile", good}},
		{"compile_prod.json", "", 0, []string{"compile", good, "-p", "prod", "--param",
			"out=output/x.csv", "--compile", "force"}},
		{"compile_validation_error.json", "", 2, []string{"compile", bad}},
		{"mcp_oml_schema.json", "", 0, []string{"mcp", "oml", "schema"}},
		{"mcp_oml_validate.json", omlInvalidPipeline, 0,
			[]string{"mcp", "oml", "validate", "--content", "-"}},
		{"mcp_oml_validate_yaml_error.json", "a: [\n", 0,
			[]string{"mcp", "oml", "validate", "--content", "-", "--strict=false"}},
		{"mcp_oml_save.json", omlCSVPipeline, 0, []string{"mcp", "oml", "save",
			"--session-id", "sess-1", "--filename", "draft.yaml", "--content", "-"}},
	}
	for _, tc := range cases {
		args := append(append([]string{}, tc.args...), "--json")
		r := runCLI(t, dir, tc.stdin, args...)
		if r.Code != tc.code {
			t.Fatalf("%s: exit %d, want %d\nstdout:%s\nstderr:%s", tc.golden, r.Code, tc.code,
				r.Stdout, r.Stderr)
		}
		jsonDoc(t, r)
		assertGolden(t, tc.golden, omlNormalise(r.Stdout, dir))
	}
}

func TestCompileFailuresGoldenAndWriteNothing(t *testing.T) {
	cases := []struct {
		golden, src, errType string
		args                 []string
	}{
		{"compile_yaml_error.json", "name: a\nsteps: [\n", "validation_error", nil},
		{"compile_unknown_component.json", strings.Replace(omlCSVPipeline, "duckdb.processor",
			"oracle.processor", 1), "compilation_error", nil},
		{"compile_unknown_dependency.json", strings.Replace(omlCSVPipeline,
			"    mode: transform\n", "    mode: transform\n    needs: [ghost]\n", 1),
			"validation_error", nil},
		{"compile_cycle.json", strings.Replace(omlCSVPipeline, "    mode: read\n",
			"    mode: read\n    needs: [write-contacts]\n", 1), "validation_error", nil},
		{"compile_inline_secret.json", strings.Replace(omlCSVPipeline,
			"config: {query: \"SELECT * FROM input_df\"}",
			"config: {query: \"SELECT 1\", password: Hunter2-Sentinel}", 1),
			"secret_inline_forbidden", nil},
		{"compile_unresolved_param.json", strings.Replace(omlCSVPipeline, "inbox/contacts.csv",
			`"${params.inbox}"`, 1), "unresolved_param", nil},
		{"compile_never_miss.json", omlCSVPipeline, "compilation_error",
			[]string{"--compile", "never"}},
		{"compile_bad_profile.json", omlCSVPipeline, "config_error", []string{"-p", "nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			dir := omlProject(t)
			file := omlWrite(t, dir, "pipelines/p.yaml", tc.src)
			args := append([]string{"compile", file, "--json"}, tc.args...)
			r := runCLI(t, dir, "", args...)
			if r.Code != 2 {
				t.Fatalf("exit %d, want 2: %s %s", r.Code, r.Stdout, r.Stderr)
			}
			doc := jsonDoc(t, r)
			if doc["error_type"] != tc.errType || doc["status"] != "error" {
				t.Fatalf("error_type %v, want %s", doc["error_type"], tc.errType)
			}
			if strings.Contains(r.Stdout+r.Stderr, "Sentinel") {
				t.Fatal("output leaks the inline secret")
			}
			assertGolden(t, tc.golden, omlNormalise(r.Stdout, dir))
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "osiris.yaml" && e.Name() != "pipelines" {
					t.Fatalf("refused compile wrote %s", e.Name())
				}
			}
		})
	}

	// Without --json the same failures name file:line:col and the field on stderr.
	dir := omlProject(t)
	file := omlWrite(t, dir, "pipelines/p.yaml", strings.Replace(omlCSVPipeline,
		"    mode: transform\n", "    mode: transform\n    needs: [ghost]\n", 1))
	r := runCLI(t, dir, "", "compile", file)
	want := file + ":15:13: steps[1].needs[0]:"
	if r.Code != 2 || !strings.Contains(r.Stderr, want) {
		t.Fatalf("exit %d, stderr %q lacks %q", r.Code, r.Stderr, want)
	}
}

func TestCompileTwiceIsByteIdenticalAndCached(t *testing.T) {
	dirs := []string{omlProject(t), omlProject(t)}
	var builds []map[string]string
	for _, dir := range dirs {
		file := omlWrite(t, dir, "pipelines/copy.yaml", omlCSVPipeline)
		first := jsonDoc(t, runCLI(t, dir, "", "compile", file, "--json"))
		second := jsonDoc(t, runCLI(t, dir, "", "compile", file, "--json"))
		forced := jsonDoc(t, runCLI(t, dir, "", "compile", file, "--compile", "force", "--json"))
		if first["cache_hit"] != false || second["cache_hit"] != true ||
			forced["cache_hit"] != false || first["manifest_hash"] != forced["manifest_hash"] {
			t.Fatalf("cache: %v %v %v", first["cache_hit"], second["cache_hit"], forced["cache_hit"])
		}
		buildDir := filepath.Dir(first["manifest_path"].(string))
		files := map[string]string{}
		_ = filepath.WalkDir(buildDir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() != "run_summary.json" {
				rel, _ := filepath.Rel(buildDir, path)
				data, _ := os.ReadFile(path)
				files[rel] = string(data)
			}
			return err
		})
		builds = append(builds, files)
	}
	if len(builds[0]) != 6 {
		t.Fatalf("want 6 artifacts, got %d", len(builds[0]))
	}
	for name, data := range builds[0] {
		if builds[1][name] != data {
			t.Fatalf("%s differs between projects", name)
		}
	}
}

func TestCompileKeepsSecretsOutOfEveryArtifact(t *testing.T) {
	const sentinel = "Pa55-Sentinel-Value-77"
	dir := omlProject(t)
	omlWrite(t, dir, "osiris_connections.yaml", "connections:\n  mysql:\n    shop:\n"+
		"      host: 127.0.0.1\n      database: shop\n      user: reader\n"+
		"      password: ${SHOP_PASSWORD}\n")
	omlWrite(t, dir, ".env", "SHOP_PASSWORD="+sentinel+"\n")
	t.Setenv("SHOP_PASSWORD", "")
	file := omlWrite(t, dir, "pipelines/shop.yaml", `oml_version: "0.1.0"
name: shop-export
steps:
  - id: orders
    component: mysql.extractor
    mode: read
    config: {connection: @mysql.shop, table: orders}
  - id: out
    component: filesystem.csv_writer
    mode: write
    config: {path: output/orders.csv}
`)
	r := runCLI(t, dir, "", "compile", file, "--json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s %s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, sentinel) {
		t.Fatal("compile output holds the secret")
	}
	for _, sub := range []string{"build", ".osiris"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry,
			err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if strings.Contains(string(data), sentinel) {
				t.Errorf("%s holds the secret", path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOMLSaveWritesAtomicallyAndHonoursForce(t *testing.T) {
	dir := omlProject(t)
	target := filepath.Join(dir, "pipelines", "mine.yaml")
	r := runCLI(t, dir, omlCSVPipeline, "oml", "save", "--path", target, "--json")
	if r.Code != 0 {
		t.Fatalf("save: %d %s", r.Code, r.Stdout)
	}
	data, _ := os.ReadFile(target)
	if string(data) != omlCSVPipeline {
		t.Fatal("saved content differs from stdin")
	}
	changed := strings.Replace(omlCSVPipeline, "contacts-copy", "contacts-two", 1)
	if r := runCLI(t, dir, changed, "oml", "save", "--path", target, "--json"); r.Code != 2 {
		t.Fatalf("overwrite without --force: exit %d", r.Code)
	}
	if r := runCLI(t, dir, changed, "oml", "save", "--path", target, "--force"); r.Code != 0 {
		t.Fatalf("--force: exit %d %s", r.Code, r.Stderr)
	}
	data, _ = os.ReadFile(target)
	if string(data) != changed {
		t.Fatal("--force did not overwrite")
	}
	entries, _ := os.ReadDir(filepath.Dir(target))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temp file left behind: %s", e.Name())
		}
	}
	if r := runCLI(t, dir, omlInvalidPipeline, "oml", "save", "--path",
		filepath.Join(dir, "bad.yaml")); r.Code != 2 {
		t.Fatalf("invalid save: exit %d", r.Code)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.yaml")); err == nil {
		t.Fatal("invalid OML was saved")
	}
}

func TestMCPOMLValidateDiagnostics(t *testing.T) {
	dir := omlProject(t)
	unknown := strings.Replace(omlCSVPipeline, "duckdb.processor", "oracle.processor", 1)
	strict := jsonDoc(t, runCLI(t, dir, unknown, "mcp", "oml", "validate", "--content", "-",
		"--json"))
	lenient := jsonDoc(t, runCLI(t, dir, unknown, "mcp", "oml", "validate", "--content", "-",
		"--strict=false", "--json"))
	if strict["valid"] != false || lenient["valid"] != true {
		t.Fatalf("strict %v, lenient %v", strict["valid"], lenient["valid"])
	}
	d := strict["diagnostics"].([]any)[0].(map[string]any)
	if d["id"] != "OML001_13_0" || d["line"] != 13.0 || d["column"] != 16.0 {
		t.Fatalf("diagnostic %v", d)
	}
	w := lenient["diagnostics"].([]any)[0].(map[string]any)
	if w["id"] != "OML002_13_0" || w["type"] != "warning" {
		t.Fatalf("lenient diagnostic %v", w)
	}

	for _, args := range [][]string{
		{"mcp", "oml", "validate"},
		{"mcp", "oml", "validate", "--content", "oml_version: x"},
	} {
		r := runCLI(t, dir, "", append(args, "--json")...)
		if r.Code != 2 || jsonDoc(t, r)["error_type"] != "usage_error" {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stdout)
		}
	}
}

func TestMCPOMLSaveDrafts(t *testing.T) {
	dir := omlProject(t)
	r := runCLI(t, dir, omlCSVPipeline, "mcp", "oml", "save", "--session-id", "s.1",
		"--content", "-", "--json")
	doc := jsonDoc(t, r)
	name, _ := doc["filename"].(string)
	if r.Code != 0 || !regexp.MustCompile(`^s\.1_\d{8}_\d{6}\.yaml$`).MatchString(name) {
		t.Fatalf("default filename %q (exit %d)", name, r.Code)
	}
	saved := filepath.Join(dir, ".osiris", "mcp", "logs", "cache", "oml", name)
	if data, err := os.ReadFile(saved); err != nil || string(data) != omlCSVPipeline {
		t.Fatalf("draft not at %s: %v", saved, err)
	}
	if doc["uri"] != "osiris://mcp/drafts/oml/"+name {
		t.Fatalf("uri %v", doc["uri"])
	}

	for _, args := range [][]string{
		{"--session-id", "../escape", "--content", "-"},
		{"--session-id", "ok", "--filename", "../x.yaml", "--content", "-"},
		{"--session-id", "ok", "--filename", "..", "--content", "-"},
		{"--session-id", "ok", "--filename", "a/b.yaml", "--content", "-"},
		{"--content", "-"},
		{"--session-id", "ok"},
	} {
		r := runCLI(t, dir, omlCSVPipeline, append(append([]string{"mcp", "oml", "save"},
			args...), "--json")...)
		if r.Code != 2 || jsonDoc(t, r)["status"] != "error" {
			t.Fatalf("%v: exit %d", args, r.Code)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, ".osiris", "mcp", "logs", "cache", "oml"))
	if len(entries) != 1 {
		t.Fatalf("rejected saves wrote files: %v", entries)
	}
}
