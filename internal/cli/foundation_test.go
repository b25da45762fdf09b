package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestJSONModeAlwaysPrintsOneDocument(t *testing.T) {
	cases := []struct {
		args []string
		code int
		typ  string
	}{
		{[]string{"--json"}, ExitUsage, "no_command"},
		{[]string{"--json", "bogus"}, ExitUsage, "usage_error"},
		{[]string{"components", "list", "--json", "--no-such-flag"}, ExitUsage, "usage_error"},
		{[]string{"components", "show", "--json"}, ExitUsage, "usage_error"},
		{[]string{"components", "show", "nope", "--json"}, ExitUsage, "not_found"},
	}
	for _, c := range cases {
		r := runCLI(t, t.TempDir(), "", c.args...)
		doc := jsonDoc(t, r)
		if r.Code != c.code || doc["status"] != "error" || doc["error_type"] != c.typ {
			t.Errorf("%v: code %d doc %v, want %d %s", c.args, r.Code, doc, c.code, c.typ)
		}
	}
}

func TestVersionAndHelpJSON(t *testing.T) {
	r := runCLI(t, "", "", "--version", "--json")
	if doc := jsonDoc(t, r); r.Code != 0 || !strings.HasPrefix(doc["version"].(string), "v") {
		t.Fatalf("version: %d %v", r.Code, doc)
	}
	r = runCLI(t, "", "", "connections", "doctor", "--help", "--json")
	doc := jsonDoc(t, r)
	opts, _ := doc["options"].(map[string]any)
	if r.Code != 0 || doc["command"] != "osiris connections doctor" || opts["--connection-id"] == nil {
		t.Fatalf("help json: %d %v", r.Code, doc)
	}
	r = runCLI(t, "", "", "help", "exit-codes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "130") {
		t.Fatalf("exit-codes help: %q", r.Stdout)
	}
}

func TestInitCreatesProjectAndNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	r := runCLI(t, "", "", "init", dir, "--json")
	if r.Code != 0 {
		t.Fatalf("init failed: %s %s", r.Stdout, r.Stderr)
	}
	assertGolden(t, "init.json", normalise(r.Stdout, dir))
	for _, p := range []string{"osiris.yaml", ".gitignore", ".env.example",
		"osiris_connections.example.yaml", "pipelines", ".osiris/mcp/logs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}

	r = runCLI(t, "", "", "init", dir, "--json")
	if doc := jsonDoc(t, r); r.Code != ExitFailure || doc["error_type"] != "project_exists" {
		t.Fatalf("second init: %d %v", r.Code, doc)
	}

	os.WriteFile(filepath.Join(dir, ".env.example"), []byte("MINE=1\n"), 0o644)
	r = runCLI(t, "", "", "init", dir, "--force", "--json")
	doc := jsonDoc(t, r)
	created := doc["created"].(map[string]any)
	if r.Code != 0 || created["env_example"] != false || created["gitignore"] != false {
		t.Fatalf("forced init must keep files: %v", doc)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".env.example")); string(b) != "MINE=1\n" {
		t.Fatal(".env.example was overwritten")
	}
	gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if strings.Count(string(gi), "# Osiris") != 1 {
		t.Fatalf(".gitignore block appended twice:\n%s", gi)
	}
}

const connectionsFixture = `connections:
  mysql:
    shop:
      host: 127.0.0.1
      port: 3306
      database: shop
      user: osiris
      password: ${OSIRIS_CLI_TEST_PW}
  postgres:
    default:
      dsn: postgresql://app:${OSIRIS_CLI_TEST_PW}@127.0.0.1:5432/x
      host: 127.0.0.1
      password: ${OSIRIS_CLI_TEST_UNSET}
  graphql:
    api:
      endpoint: http://127.0.0.1:4000/graphql
      headers: {Authorization: "Bearer ${OSIRIS_CLI_TEST_PW}"}
`

func TestConnectionsListMasksEverySecret(t *testing.T) {
	const secret = "Sentinel-P@ss/w0rd-42"
	t.Setenv("OSIRIS_CLI_TEST_PW", secret)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"), []byte(connectionsFixture), 0o600)

	for _, args := range [][]string{{"connections", "list", "--json"}, {"connections", "list"},
		{"mcp", "connections", "list", "--json"}, {"validate", "--json"}} {
		r := runCLI(t, dir, "", args...)
		if r.Code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.Code, r.Stderr)
		}
		if strings.Contains(r.Stdout+r.Stderr, secret) || strings.Contains(r.Stdout, "P@ss") {
			t.Fatalf("%v leaked the secret:\n%s", args, r.Stdout)
		}
	}
	r := runCLI(t, dir, "", "connections", "list", "--json")
	assertGolden(t, "connections_list.json", normalise(r.Stdout, dir))
	doc := jsonDoc(t, r)
	if doc["count"].(float64) != 3 {
		t.Fatalf("count %v", doc["count"])
	}

	logs, _ := filepath.Glob(filepath.Join(dir, "run_logs", "connections_*", "*"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), secret) {
			t.Fatalf("%s holds the secret", f)
		}
	}
}

func TestConnectionsDoctorBadReferences(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"), []byte(connectionsFixture), 0o600)
	r := runCLI(t, dir, "", "mcp", "connections", "doctor", "--connection-id", "@bad", "--json")
	if doc := jsonDoc(t, r); r.Code != ExitUsage || doc["code"] != "SEMANTIC/SEM002" {
		t.Fatalf("malformed ref: %d %v", r.Code, doc)
	}
	r = runCLI(t, dir, "", "mcp", "connections", "doctor", "--connection-id", "@mysql.nope", "--json")
	if doc := jsonDoc(t, r); r.Code != ExitFailure || doc["code"] != "DISCOVERY/DISC001" {
		t.Fatalf("unknown ref: %d %v", r.Code, doc)
	}
	r = runCLI(t, dir, "", "mcp", "connections", "doctor", "--connection-id", "mysql.shop", "--json")
	doc := jsonDoc(t, r)
	if r.Code != 0 || doc["health"] != "unhealthy" || doc["connection"] != "@mysql.shop" {
		t.Fatalf("unset password is an unhealthy result, not an error: %d %v", r.Code, doc)
	}
}

func TestComponentsListAndShow(t *testing.T) {
	r := runCLI(t, t.TempDir(), "", "components", "list", "--json")
	doc := jsonDoc(t, r)
	names := map[string]bool{}
	for _, c := range doc["components"].([]any) {
		names[c.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"mysql.extractor", "mysql.writer", "postgres.extractor",
		"postgres.writer", "supabase.extractor", "supabase.writer", "duckdb.processor",
		"filesystem.csv_extractor", "filesystem.csv_writer", "graphql.extractor",
		"posthog.extractor"} {
		if !names[want] {
			t.Errorf("components list lacks %s", want)
		}
	}
	r = runCLI(t, t.TempDir(), "", "components", "list", "--mode", "transform", "--json")
	if doc := jsonDoc(t, r); doc["count"].(float64) != 1 {
		t.Fatalf("--mode transform: %v", doc)
	}
	r = runCLI(t, t.TempDir(), "", "components", "show", "mysql.extractor", "--json")
	spec := jsonDoc(t, r)["component"].(map[string]any)
	if spec["name"] != "mysql.extractor" || spec["configSchema"] == nil {
		t.Fatalf("show: %v", spec)
	}
	r = runCLI(t, t.TempDir(), "", "mcp", "components", "list", "--json")
	groups := jsonDoc(t, r)["components"].(map[string]any)
	if len(groups["processors"].([]any)) != 1 || len(groups["writers"].([]any)) < 4 {
		t.Fatalf("mcp groups: %v", groups)
	}
}

func TestProjectOverlayReplacesSpecAndSkipsInvalid(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "components", "acme.extractor"), 0o755)
	os.MkdirAll(filepath.Join(dir, "components", "broken"), 0o755)
	os.WriteFile(filepath.Join(dir, "components", "acme.extractor", "spec.yaml"), []byte(
		"name: acme.extractor\nversion: 1.2.3\nmodes: [extract]\ncapabilities: {}\n"+
			"configSchema: {type: object, properties: {}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "components", "broken", "spec.yaml"), []byte(
		"name: broken\nversion: one\n"), 0o644)
	r := runCLI(t, dir, "", "components", "list", "--json")
	if !strings.Contains(r.Stdout, "acme.extractor") || strings.Contains(r.Stdout, `"broken"`) {
		t.Fatalf("overlay: %s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "broken") {
		t.Fatalf("an invalid spec must be reported on stderr: %q", r.Stderr)
	}
}

// TestEveryCommandKeepsTheJSONContract walks the whole tree: help and a bad flag must each
// give exactly one JSON document, with exit 0 and 2.
func TestEveryCommandKeepsTheJSONContract(t *testing.T) {
	root := NewRootCmd(&Factory{IO: &IO{}})
	var paths [][]string
	var walk func(prefix []string, cmd interface {
		Commands() []*cobra.Command
	})
	walk = func(prefix []string, cmd interface{ Commands() []*cobra.Command }) {
		for _, c := range cmd.Commands() {
			if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
				continue
			}
			p := append(append([]string(nil), prefix...), c.Name())
			paths = append(paths, p)
			walk(p, c)
		}
	}
	walk(nil, root)
	if len(paths) < 20 {
		t.Fatalf("only %d commands found", len(paths))
	}
	dir := t.TempDir()
	for _, p := range paths {
		r := runCLI(t, dir, "", append(append([]string(nil), p...), "--help", "--json")...)
		if doc := jsonDoc(t, r); r.Code != 0 || doc["command"] == nil {
			t.Errorf("%v --help --json: exit %d, %v", p, r.Code, doc)
		}
		r = runCLI(t, dir, "", append(append([]string(nil), p...), "--no-such-flag", "--json")...)
		if doc := jsonDoc(t, r); r.Code != ExitUsage || doc["status"] != "error" {
			t.Errorf("%v with a bad flag: exit %d, %v", p, r.Code, doc)
		}
	}
}

func TestCompletionScriptGoesToStdout(t *testing.T) {
	r := runCLI(t, "", "", "completion", "bash")
	if r.Code != 0 || !strings.Contains(r.Stdout, "bash completion") || r.Stderr != "" {
		t.Fatalf("completion: exit %d, %d bytes on stdout, stderr %q", r.Code, len(r.Stdout),
			r.Stderr)
	}
}

func TestRunWithUnknownConnectionIsAUsageError(t *testing.T) {
	dir := csvProject(t, "")
	os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"), []byte(
		"connections:\n  filesystem:\n    local:\n      base_dir: .\n"), 0o600)
	pipeline := writeCopyPipeline(t, dir, "p.yaml", "bad-ref",
		`connection: "@filesystem.nope", `, "out.csv")
	r := runCLI(t, dir, "", "run", pipeline, "--json")
	doc := jsonDoc(t, r)
	if r.Code != ExitUsage || doc["error_type"] != "connection_error" ||
		!strings.Contains(doc["message"].(string), "Available aliases: local") {
		t.Fatalf("unknown alias: exit %d %v", r.Code, doc)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.csv")); err == nil {
		t.Fatal("nothing may be written")
	}
}

func TestDoctorSaysWhenNothingIsConfigured(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "", "connections", "doctor")
	if r.Code != 0 || !strings.Contains(r.Stdout, "No connections configured") {
		t.Fatalf("doctor with no connections: %d %q", r.Code, r.Stdout)
	}
}

func TestMemoryCaptureHidesConnectionSecretsInProse(t *testing.T) {
	const secret = "Prose-Leak-9f2c"
	t.Setenv("OSIRIS_CLI_TEST_PW", secret)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"), []byte(connectionsFixture), 0o600)
	r := runCLI(t, dir, "", "memory", "capture", "--session-id", "s1", "--consent",
		"--text", "the db pass is "+secret+" btw", "--json")
	if r.Code != 0 {
		t.Fatalf("capture: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, ".osiris", "mcp", "logs", "memory", "sessions", "s1.jsonl"))
	if len(raw) == 0 || strings.Contains(string(raw), secret) {
		t.Fatalf("session file: %s", raw)
	}
	if !strings.Contains(string(raw), "***REDACTED***") {
		t.Fatalf("the secret should be replaced by the memory mask: %s", raw)
	}
}

// TestRebuiltBinaryDoesNotReuseOldBuilds: the compile cache belongs to the binary that
// filled it, so a new osiris never runs a manifest an older compiler wrote.
func TestRebuiltBinaryDoesNotReuseOldBuilds(t *testing.T) {
	src := osirisBinary(t)
	bin := filepath.Join(t.TempDir(), "osiris")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := csvProject(t, "")
	pipeline := writeCopyPipeline(t, dir, "p.yaml", "cache-owner", "", "out.csv")
	compileOnce := func() bool {
		t.Helper()
		out, err := exec.Command(bin, "--project", dir, "compile", pipeline, "--json").Output()
		if err != nil {
			t.Fatalf("compile: %v\n%s", err, out)
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		return doc["cache_hit"] == true
	}

	if compileOnce() || !compileOnce() {
		t.Fatal("the same binary should miss, then hit its own cache")
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil { // what a rebuild does
		t.Fatal(err)
	}
	if compileOnce() {
		t.Fatal("a rebuilt binary reused a build from the previous one")
	}
}

func TestCompiledManifestRefusesFlagsItCannotApply(t *testing.T) {
	dir := csvProject(t, "")
	pipeline := writeCopyPipeline(t, dir, "p.yaml", "compiled-flags", "", "out.csv")
	r := runCLI(t, dir, "", "compile", pipeline, "-p", "prod", "--json")
	manifestPath, _ := jsonDoc(t, r)["manifest_path"].(string)
	if r.Code != 0 || manifestPath == "" {
		t.Fatalf("compile: %d %s", r.Code, r.Stdout)
	}

	for _, args := range [][]string{
		{"run", manifestPath, "--param", "n=1", "--json"},
		{"run", manifestPath, "-p", "dev", "--json"},
		{"run", "--last-compile", "-p", "staging", "--json"},
	} {
		r := runCLI(t, dir, "", args...)
		if doc := jsonDoc(t, r); r.Code != ExitUsage || doc["error_type"] != "usage_error" {
			t.Errorf("%v: exit %d %v", args, r.Code, doc)
		}
	}
	r = runCLI(t, dir, "", "run", manifestPath, "-p", "prod", "--json")
	if r.Code != 0 {
		t.Fatalf("the manifest's own profile must run: %d %s", r.Code, r.Stdout)
	}
}

func TestFailedOutCopyIsReported(t *testing.T) {
	dir := csvProject(t, "")
	notADir := filepath.Join(dir, "a-file")
	os.WriteFile(notADir, []byte("x"), 0o644)
	pipeline := writeCopyPipeline(t, dir, "p.yaml", "out-copy", "", "out.csv")
	r := runCLI(t, dir, "", "run", pipeline, "--out", notADir, "--json")
	doc := jsonDoc(t, r)
	warnings, _ := doc["warnings"].([]any)
	if r.Code != 0 || len(warnings) != 1 || !strings.Contains(r.Stderr, "--out") {
		t.Fatalf("a failed --out copy must be visible: exit %d, %v, stderr %q", r.Code, doc,
			r.Stderr)
	}
}

// TestRunIDSharedByPipelinesIsRefusedEverywhere: with incremental ids every pipeline
// has a run-000001; runs show, logs show and aiop show all ask which one is meant and
// accept <pipeline>/<run_id>.
func TestRunIDSharedByPipelinesIsRefusedEverywhere(t *testing.T) {
	dir := csvProject(t, "ids:\n  run_id_format: [incremental]\n")
	for _, name := range []string{"p-one", "p-two"} {
		path := writeCopyPipeline(t, dir, name+".yaml", name, "", name+".csv")
		if r := runCLI(t, dir, "", "run", path, "--json"); r.Code != 0 {
			t.Fatalf("run %s: %s", name, r.Stdout)
		}
	}
	for _, args := range [][]string{
		{"runs", "show", "run-000001"}, {"logs", "show", "run-000001"},
		{"aiop", "show", "--run", "run-000001"},
	} {
		r := runCLI(t, dir, "", append(args, "--json")...)
		doc := jsonDoc(t, r)
		if r.Code != ExitUsage || doc["error_type"] != "ambiguous_run_id" {
			t.Errorf("%v: exit %d %v", args, r.Code, doc)
		}
		qualified := append(append([]string(nil), args[:len(args)-1]...), "p-two/run-000001",
			"--json")
		if r := runCLI(t, dir, "", qualified...); r.Code != 0 ||
			!strings.Contains(r.Stdout, "p-two") {
			t.Errorf("%v: exit %d %s", qualified, r.Code, r.Stdout)
		}
	}
}

// csvProject makes a project holding osiris.yaml (with extra YAML appended) and a
// two-line in.csv.
func csvProject(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"+extra),
		0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte("a\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeCopyPipeline writes <dir>/<file>: a pipeline named name that copies in.csv to
// output, its read step's config extended by readExtra. It returns the file's path.
func writeCopyPipeline(t *testing.T, dir, file, name, readExtra, output string) string {
	t.Helper()
	path := filepath.Join(dir, file)
	src := `oml_version: "0.1.0"
name: ` + name + `
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config: {` + readExtra + `path: in.csv}
  - id: write
    component: filesystem.csv_writer
    mode: write
    config: {path: ` + output + `}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
