// Package paritytest runs the same pipeline locally and on the E2B fake in exec mode (the
// fake runs this very test binary as osiris in its sandbox directory) and compares what
// the two runs leave behind.
package paritytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osirisgo/osiris/internal/cli"
	"github.com/osirisgo/osiris/internal/remote/e2bfake"
)

// childEnv makes this test binary behave as the osiris command (in the fake sandbox).
const childEnv = "OSIRIS_PARITY_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cli.Main(os.Args[1:], cli.SystemIO()))
	}
	os.Exit(m.Run())
}

// adapterMetrics are recorded only by the e2b adapter.
var adapterMetrics = map[string]bool{
	"e2b_overhead_ms": true, "artifacts_copy_ms": true, "artifacts_bytes_total": true,
	"artifacts_files_total": true, "artifacts_failed_total": true, "adapter_exit_code": true,
}

func newProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile(t, filepath.Join("..", "..", "..", "examples", "airports_per_state.yaml"),
		filepath.Join(dir, "pipelines", "airports_per_state.yaml"))
	copyFile(t, filepath.Join("..", "..", "..", "examples", "data", "airports.csv"),
		filepath.Join(dir, "data", "airports.csv"))
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: \"2.0\"\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

type runOutput struct {
	code   int
	doc    map[string]any
	stderr string
}

func osiris(t *testing.T, args ...string) runOutput {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(args, &cli.IO{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	out := runOutput{code: code, stderr: stderr.String()}
	if err := json.Unmarshal(stdout.Bytes(), &out.doc); err != nil {
		t.Fatalf("osiris %v: stdout is not one JSON document: %v\n%s\nstderr:\n%s", args, err,
			stdout.String(), stderr.String())
	}
	return out
}

func records(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %q is not JSON", path, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

// eventCounts counts events by name, leaving out the adapter's own e2b_* events.
func eventCounts(t *testing.T, runDir string) map[string]int {
	counts := map[string]int{}
	for _, r := range records(t, filepath.Join(runDir, "events.jsonl")) {
		name, _ := r["event"].(string)
		if !strings.HasPrefix(name, "e2b_") {
			counts[name]++
		}
	}
	return counts
}

// metricSummary keeps, per metric and step, the count and the values of row and step
// counters (durations differ between any two runs).
func metricSummary(t *testing.T, runDir string) map[string][]any {
	out := map[string][]any{}
	for _, r := range records(t, filepath.Join(runDir, "metrics.jsonl")) {
		name, _ := r["metric"].(string)
		if adapterMetrics[name] {
			continue
		}
		key := name
		if step, ok := r["step_id"].(string); ok {
			key += "@" + step
		}
		var value any = "·"
		if strings.HasPrefix(name, "rows_") || strings.HasPrefix(name, "steps_") {
			value = r["value"]
		}
		out[key] = append(out[key], value)
	}
	return out
}

func artifactTree(t *testing.T, runDir string) []string {
	var files []string
	root := filepath.Join(runDir, "artifacts")
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files
}

func TestRemoteRunMatchesLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline twice with DuckDB")
	}
	project := newProject(t)
	pipeline := filepath.Join(project, "pipelines", "airports_per_state.yaml")
	output := filepath.Join(project, "output", "airports_per_state.csv")

	local := osiris(t, "run", pipeline, "--project", project, "--json")
	if local.code != 0 {
		t.Fatalf("local run exit %d: %v\n%s", local.code, local.doc, local.stderr)
	}
	localOutput, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(output); err != nil {
		t.Fatal(err)
	}

	fake := e2bfake.New(t)
	// Seven-byte chunks split nearly every line of the event stream.
	fake.SetHandler(e2bfake.Exec(7))
	for k, v := range fake.Env() {
		t.Setenv(k, v)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSIRIS_E2B_BINARY", self)
	t.Setenv(childEnv, "1")

	remote := osiris(t, "run", pipeline, "--project", project, "--target", "e2b", "--json")
	if remote.code != 0 {
		t.Fatalf("remote run exit %d: %v\n%s", remote.code, remote.doc, remote.stderr)
	}
	if remote.doc["execution_type"] != "e2b" || remote.doc["status"] != "success" {
		t.Errorf("remote run document = %v", remote.doc)
	}
	localDir, _ := local.doc["session_dir"].(string)
	remoteDir, _ := remote.doc["session_dir"].(string)
	if localDir == remoteDir || remoteDir == "" {
		t.Fatalf("run dirs: local %q remote %q", localDir, remoteDir)
	}

	if diff := cmp.Diff(eventCounts(t, localDir), eventCounts(t, remoteDir)); diff != "" {
		t.Errorf("event names/counts differ (-local +remote):\n%s", diff)
	}
	if diff := cmp.Diff(metricSummary(t, localDir), metricSummary(t, remoteDir)); diff != "" {
		t.Errorf("metrics differ (-local +remote):\n%s", diff)
	}
	if diff := cmp.Diff(artifactTree(t, localDir), artifactTree(t, remoteDir)); diff != "" {
		t.Errorf("artifact trees differ (-local +remote):\n%s", diff)
	}
	remoteOutput, err := os.ReadFile(output)
	if err != nil {
		t.Fatalf("the remote run's output file did not come back: %v", err)
	}
	if !bytes.Equal(localOutput, remoteOutput) {
		t.Errorf("output files differ:\nlocal:\n%s\nremote:\n%s", localOutput, remoteOutput)
	}
	for _, k := range []string{"steps_total", "steps_completed", "total_rows"} {
		if local.doc[k] != remote.doc[k] {
			t.Errorf("%s: local %v remote %v", k, local.doc[k], remote.doc[k])
		}
	}

	for _, r := range records(t, filepath.Join(remoteDir, "events.jsonl")) {
		if name := r["event"]; name == "e2b_artifact_pack_fallback" ||
			name == "e2b_artifact_download_failed" {
			t.Errorf("collecting fell short: %v", r)
		}
	}

	// The run index knows the remote run, so runs show finds it.
	shown := osiris(t, "runs", "show", remote.doc["run_id"].(string), "--project", project,
		"--json")
	if shown.code != 0 {
		t.Errorf("runs show of the remote run: exit %d %v", shown.code, shown.doc)
	}

	sb := fake.Sandboxes()
	if len(sb) != 1 || !sb[0].Killed() {
		t.Error("the sandbox was not killed")
	}
	apiKey := fake.APIKey
	_ = filepath.WalkDir(remoteDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			raw, _ := os.ReadFile(p)
			if bytes.Contains(raw, []byte(apiKey)) || bytes.Contains(raw, []byte(sb[0].Token)) {
				t.Errorf("a credential is in %s", p)
			}
		}
		return nil
	})
	if strings.Contains(remote.stderr, apiKey) {
		t.Error("the API key is in stderr")
	}
}

// A step that fails in the sandbox fails the command with exit 1, the sandbox's last
// stderr lines and a status that says why; the sandbox is killed.
func TestRemoteStepFailureIsReported(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline with DuckDB")
	}
	project := newProject(t)
	pipeline := filepath.Join(project, "pipelines", "airports_per_state.yaml")
	raw, _ := os.ReadFile(pipeline)
	broken := strings.Replace(string(raw), "FROM df_read_airports", "FROM no_such_table", 1)
	if err := os.WriteFile(pipeline, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}

	fake := e2bfake.New(t)
	fake.SetHandler(e2bfake.Exec(0))
	for k, v := range fake.Env() {
		t.Setenv(k, v)
	}
	self, _ := os.Executable()
	t.Setenv("OSIRIS_E2B_BINARY", self)
	t.Setenv(childEnv, "1")

	out := osiris(t, "run", pipeline, "--project", project, "--target", "e2b", "--json")
	if out.code != 1 || out.doc["status"] != "error" {
		t.Fatalf("exit %d, document %v", out.code, out.doc)
	}
	tail, _ := out.doc["last_stderr"].([]any)
	if len(tail) == 0 {
		t.Errorf("no last_stderr lines in %v", out.doc)
	}
	if msg, _ := out.doc["message"].(string); !strings.Contains(msg, "count-per-state") {
		t.Errorf("the message does not name the failing step: %q", msg)
	}
	runDir, _ := out.doc["session_dir"].(string)
	raw, err := os.ReadFile(filepath.Join(runDir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var status map[string]any
	_ = json.Unmarshal(raw, &status)
	if status["ok"] != false || status["reason"] == "" || status["execution_type"] != "e2b" {
		t.Errorf("status.json = %s", raw)
	}
	if counts := eventCounts(t, runDir); counts["step_failed"]+counts["step_error"] == 0 {
		t.Errorf("the step failure did not stream back: %v", counts)
	}
	if !fake.Sandboxes()[0].Killed() {
		t.Error("the sandbox was not killed after a failure")
	}
}

func TestRemoteRunWithoutAPIKeyIsAUsageError(t *testing.T) {
	project := newProject(t)
	t.Setenv("E2B_API_KEY", "")
	out := osiris(t, "run", filepath.Join(project, "pipelines", "airports_per_state.yaml"),
		"--project", project, "--target", "e2b", "--json")
	if out.code != 2 || out.doc["error_type"] != "e2b_config_error" ||
		!strings.Contains(out.doc["message"].(string), "E2B_API_KEY") {
		t.Errorf("exit %d, document %v", out.code, out.doc)
	}
}

// A connection password reaches the sandbox only as the run process's environment: it is
// in no file on either side, in no other request, and in nothing osiris prints.
func TestRemoteRunKeepsConnectionSecretsOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline with DuckDB")
	}
	// Built at run time: a literal would be inside the uploaded test binary itself.
	password := fmt.Sprintf("Sentinel-%d-Pw@/zq", os.Getpid()*7919)
	project := newProject(t)
	pipeline := filepath.Join(project, "pipelines", "airports_per_state.yaml")
	raw, _ := os.ReadFile(pipeline)
	withConn := strings.Replace(string(raw), "      path: data/airports.csv",
		"      connection: \"@filesystem.local\"\n      path: data/airports.csv", 1)
	if err := os.WriteFile(pipeline, []byte(withConn), 0o644); err != nil {
		t.Fatal(err)
	}
	conns := "connections:\n  filesystem:\n    local:\n      base_dir: .\n" +
		"      password: ${PARITY_FS_PASSWORD}\n"
	if err := os.WriteFile(filepath.Join(project, "osiris_connections.yaml"), []byte(conns),
		0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARITY_FS_PASSWORD", password)

	fake := e2bfake.New(t)
	fake.SetHandler(e2bfake.Exec(5))
	for k, v := range fake.Env() {
		t.Setenv(k, v)
	}
	self, _ := os.Executable()
	t.Setenv("OSIRIS_E2B_BINARY", self)
	t.Setenv(childEnv, "1")

	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"run", pipeline, "--project", project, "--target", "e2b",
		"--json", "-v"}, &cli.IO{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr})
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for name, text := range map[string]string{"stdout": stdout.String(),
		"stderr": stderr.String()} {
		if strings.Contains(text, password) || strings.Contains(text, fake.APIKey) {
			t.Errorf("a secret is in %s", name)
		}
	}
	sb := fake.Sandboxes()[0]
	for _, root := range []string{project, sb.Root} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			raw, _ := os.ReadFile(p)
			for _, s := range []string{password, fake.APIKey, sb.Token} {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("a secret is in %s", p)
				}
			}
			return nil
		})
	}
	carriers := 0
	for _, body := range fake.RequestBodies() {
		if strings.Contains(body, password) {
			carriers++
			if !strings.Contains(body, `"envs"`) || !strings.Contains(body, `"--events-stdout"`) {
				t.Errorf("the password left in a request other than the run's start: %.120s",
					body)
			}
		}
	}
	if carriers != 1 {
		t.Errorf("the password was sent %d times, want once (the run's environment)", carriers)
	}
}

// TestStrictArtifactsTurnsMissingDownloadsIntoAFailure: without the flag a run whose
// artifacts did not all arrive succeeds and says so; with it, the run exits 1.
func TestStrictArtifactsTurnsMissingDownloadsIntoAFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline with DuckDB")
	}
	project := newProject(t)
	pipeline := filepath.Join(project, "pipelines", "airports_per_state.yaml")
	self, _ := os.Executable()
	t.Setenv("OSIRIS_E2B_BINARY", self)
	t.Setenv(childEnv, "1")

	run := func(args ...string) runOutput {
		fake := e2bfake.New(t)
		fake.SetHandler(e2bfake.Exec(0))
		fake.FailDownload("out.tgz", e2bfake.FaultStatus500)
		fake.FailDownload("cleaned_config.json", e2bfake.FaultStatus500)
		for k, v := range fake.Env() {
			t.Setenv(k, v)
		}
		return osiris(t, append([]string{"run", pipeline, "--project", project,
			"--target", "e2b", "--json"}, args...)...)
	}

	lenient := run()
	artifacts, _ := lenient.doc["artifacts"].(map[string]any)
	if lenient.code != 0 || artifacts["incomplete"] != true {
		t.Fatalf("without --strict-artifacts: exit %d, %v", lenient.code, lenient.doc)
	}
	strict := run("--strict-artifacts")
	if strict.code != 1 || strict.doc["error_type"] != "artifacts_incomplete" {
		t.Fatalf("with --strict-artifacts: exit %d, %v", strict.code, strict.doc)
	}
}
