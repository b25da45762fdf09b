package e2b

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/remote"
	"github.com/osirisgo/osiris/internal/remote/e2bfake"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Sentinel secrets: none of them may appear in any log, event, output or file.
const (
	sentinelPassword = "Pw-sentinel-7f3a@/x"
	sentinelLiteral  = "literal-token-9c2e51"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one remote run against the fake: a project with a connections file, a
// compiled two-step manifest and a fake osiris whose "run" is scripted.
type harness struct {
	t       *testing.T
	fake    *e2bfake.Server
	project *config.Project
	m       *manifest.Manifest
	rc      *remote.RunContext
	logs    *syncBuffer
	adapter *Adapter
	// runScript plays "osiris run" in the sandbox.
	runScript func(ctx context.Context, p *e2bfake.Proc) e2bfake.Exit
	// packHook may change the pack result before the client downloads it.
	packHook func(dir string)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "osiris.yaml"), "version: \"2.0\"\n")
	writeFile(t, filepath.Join(root, "osiris_connections.yaml"), `connections:
  mysql:
    db:
      host: db.internal
      user: app
      password: ${TEST_E2B_DB_PASSWORD}
  graphql:
    api:
      url: https://api.internal/graphql
      auth_token: `+sentinelLiteral+`
    unused:
      url: https://other.internal
`)
	project, err := config.Resolve(root)
	if err != nil {
		t.Fatal(err)
	}

	build := filepath.Join(root, "build", "demo")
	writeFile(t, filepath.Join(build, "manifest.yaml"), `meta:
  manifest_hash: abc123
  manifest_short: abc123
  oml_version: 0.1.0
  profile: dev
  run_id: ""
  toolchain: {compiler: test, registry: test}
name: demo
pipeline:
  id: demo
  version: 0.1.0
  fingerprints: {}
steps:
  - id: extract
    component: mysql.extractor
    driver: mysql.extractor
    cfg_path: cfg/extract.json
    needs: []
  - id: fetch
    component: graphql.extractor
    driver: graphql.extractor
    cfg_path: cfg/fetch.json
    needs: []
`)
	writeFile(t, filepath.Join(build, "cfg", "extract.json"),
		`{"component":"mysql.extractor","connection":"@mysql.db","query":"SELECT 1"}`)
	writeFile(t, filepath.Join(build, "cfg", "fetch.json"),
		`{"component":"graphql.extractor","connection":"@graphql.api","query":"{ a }"}`)
	m, err := manifest.Load(filepath.Join(build, "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	runDir := filepath.Join(root, "run_logs", "demo", "run-1")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fake: e2bfake.New(t), project: project, m: m, logs: &syncBuffer{}}
	redactor := secrets.NewRedactor()
	env := map[string]string{"TEST_E2B_DB_PASSWORD": sentinelPassword}
	h.rc = &remote.RunContext{
		RunID: "run-1", RunDir: runDir, ManifestPath: filepath.Join(build, "manifest.yaml"),
		Profile: "dev", Project: project, Redactor: redactor,
		Logger:  slog.New(slog.NewTextHandler(h.logs, nil)),
		Records: remote.NewRecorder(runDir, "run-1", redactor),
		Getenv:  func(k string) string { return env[k] },
	}
	binary := filepath.Join(t.TempDir(), "osiris")
	writeFile(t, binary, "#!/bin/sh\nexit 0\n")
	fakeEnv := h.fake.Env()
	cfg, _ := ConfigFromEnv(func(k string) string { return fakeEnv[k] })
	h.adapter = New(Options{Config: cfg, BinaryPath: binary, Version: "test",
		DownloadTimeout: 2 * time.Second, TermGrace: 2 * time.Second,
		Environ: func() []string { return []string{"OSIRIS_LOG_LEVEL=DEBUG", "PATH=/bin"} }})
	h.runScript = successfulRun
	h.fake.SetHandler(h.handle)
	return h
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// handle plays the sandbox side: real tar and chmod, a scripted "osiris run" and the
// real packer for "osiris remote pack".
func (h *harness) handle(ctx context.Context, p *e2bfake.Proc) e2bfake.Exit {
	if !strings.HasSuffix(p.Config.Cmd, "/osiris") {
		return e2bfake.Exec(0)(ctx, p)
	}
	switch {
	case len(p.Config.Args) > 0 && p.Config.Args[0] == "run":
		return h.runScript(ctx, p)
	case len(p.Config.Args) > 1 && p.Config.Args[0] == "remote" && p.Config.Args[1] == "pack":
		if _, err := remote.Pack(p.Dir(), remote.PackOptions{MaxBytes: 5 << 20}); err != nil {
			p.Stderr([]byte(err.Error() + "\n"))
			return e2bfake.Exit{Code: 1}
		}
		if h.packHook != nil {
			h.packHook(p.Dir())
		}
		return e2bfake.Exit{}
	}
	return e2bfake.Exit{Code: 2}
}

// protocolLines is what a two-step run prints with --events-stdout.
func protocolLines() string {
	ts := "2025-01-02T03:04:05.000Z"
	var b strings.Builder
	for _, l := range []string{
		`{"type":"event","name":"run_start","ts":"` + ts + `","data":{"pipeline":"demo"}}`,
		`{"type":"metric","name":"steps_total","value":2,"ts":"` + ts + `","unit":"","step_id":""}`,
		`{"type":"event","name":"step_start","ts":"` + ts + `","data":{"step_id":"extract","driver":"mysql.extractor"}}`,
		`{"type":"metric","name":"rows_read","value":10,"ts":"` + ts + `","unit":"rows","step_id":"extract"}`,
		`{"type":"event","name":"step_complete","ts":"` + ts + `","data":{"step_id":"extract","note":"é ü"}}`,
		`not json: a plain line from a library`,
		`{"type":"event","name":"step_complete","ts":"` + ts + `","data":{"step_id":"fetch"}}`,
		`{"type":"metric","name":"steps_completed","value":2,"ts":"` + ts + `","unit":"","step_id":""}`,
		`{"type":"event","name":"run_end","ts":"` + ts + `","data":{"status":"success"}}`,
	} {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// successfulRun writes what a finished run leaves and prints its protocol lines in
// chunks that split lines (and a UTF-8 rune) in the middle.
func successfulRun(_ context.Context, p *e2bfake.Proc) e2bfake.Exit {
	writeRunDir(p.Dir(), true)
	out := []byte(protocolLines())
	p.StdoutChunks(out, 7, 50, 1, 1, 90, 3, 200, 33)
	p.Stderr([]byte("INFO starting\n"))
	return e2bfake.Exit{}
}

func writeRunDir(dir string, ok bool) {
	files := map[string]string{
		"events.jsonl":                          `{"event":"run_start"}` + "\n",
		"metrics.jsonl":                         `{"metric":"rows_read","value":10}` + "\n",
		"osiris.log":                            "level=INFO msg=\"run ended\"\n",
		"artifacts/extract/cleaned_config.json": `{"query":"SELECT 1"}`,
		"artifacts/extract/notes.txt":           strings.Repeat("row\n", 1000),
		"artifacts/fetch/output.parquet":        "PAR1",
		"artifacts/_system/run_card.json":       `{"run":"run-1"}`,
		"status.json": fmt.Sprintf(`{"exit_code":0,"steps_completed":2,"steps_total":2,`+
			`"ok":%v,"reason":""}`, ok),
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		_ = os.WriteFile(path, []byte(content), 0o644)
	}
}

// run goes through prepare, execute, collect and close, as the CLI does.
func (h *harness) run(ctx context.Context) (*remote.ExecResult, *remote.Collected, error) {
	h.t.Helper()
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.adapter.Close(closeCtx)
	}()
	p, err := h.adapter.Prepare(ctx, h.m, h.rc)
	if err != nil {
		return nil, nil, err
	}
	res, err := h.adapter.Execute(ctx, p, h.rc)
	if err != nil {
		return nil, nil, err
	}
	col, err := h.adapter.Collect(ctx, p, h.rc)
	return res, col, err
}

type record map[string]any

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func eventsNamed(recs []record, name string) []record {
	var out []record
	for _, r := range recs {
		if r["event"] == name {
			out = append(out, r)
		}
	}
	return out
}

func metricValue(t *testing.T, recs []record, name string) float64 {
	t.Helper()
	for _, r := range recs {
		if r["metric"] == name {
			return r["value"].(float64)
		}
	}
	t.Fatalf("metric %s not recorded", name)
	return 0
}

func readStatus(t *testing.T, runDir string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(runDir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRemoteRunSucceeds(t *testing.T) {
	h := newHarness(t)
	res, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.ExitCode != 0 || !col.OK || len(col.Failures) != 0 {
		t.Fatalf("exec %+v collected ok=%v failures=%v\nlogs:\n%s", res, col.OK, col.Failures,
			h.logs.String())
	}

	runDir := h.rc.RunDir
	events := readRecords(t, filepath.Join(runDir, "events.jsonl"))
	if n := len(eventsNamed(events, "step_complete")); n != 2 {
		t.Errorf("step_complete events = %d, want 2", n)
	}
	got := eventsNamed(events, "step_complete")[0]
	if got["note"] != "é ü" || got["session"] != "run-1" || got["ts"] != "2025-01-02T03:04:05.000Z" {
		t.Errorf("a line split across chunks came back as %v", got)
	}
	for _, name := range []string{"e2b_prepare_start", "e2b_prepare_complete",
		"e2b_sandbox_create", "e2b_execute_start", "e2b_execute_complete", "e2b_collect_start",
		"e2b_collect_complete", "e2b_cleanup_start", "e2b_cleanup_complete"} {
		if len(eventsNamed(events, name)) != 1 {
			t.Errorf("event %s recorded %d times, want once", name, len(eventsNamed(events, name)))
		}
	}
	metrics := readRecords(t, filepath.Join(runDir, "metrics.jsonl"))
	if v := metricValue(t, metrics, "rows_read"); v != 10 {
		t.Errorf("rows_read = %v", v)
	}
	if v := metricValue(t, metrics, "artifacts_failed_total"); v != 0 {
		t.Errorf("artifacts_failed_total = %v", v)
	}

	for _, rel := range []string{"artifacts/extract/cleaned_config.json",
		"artifacts/extract/notes.txt", "artifacts/_system/run_card.json", "osiris.log",
		"remote/events.jsonl", "remote/sandbox_status.json", "remote/e2b.json",
		"manifest.yaml", "cfg/extract.json", "debug.log"} {
		if _, err := os.Stat(filepath.Join(runDir, rel)); err != nil {
			t.Errorf("%s did not arrive: %v", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "artifacts/fetch/output.parquet")); err == nil {
		t.Error("a data artifact came home without --include-data")
	}
	debugLog, _ := os.ReadFile(filepath.Join(runDir, "debug.log"))
	if !strings.Contains(string(debugLog), "not json: a plain line") ||
		!strings.Contains(string(debugLog), "INFO starting") {
		t.Errorf("debug.log lacks the plain stdout line or stderr:\n%s", debugLog)
	}

	st := readStatus(t, runDir)
	if st["ok"] != true || st["artifacts_incomplete"] != false || st["execution_type"] != "e2b" {
		t.Errorf("status.json = %v", st)
	}

	sandboxes := h.fake.Sandboxes()
	if len(sandboxes) != 1 || !sandboxes[0].Killed() {
		t.Fatalf("the sandbox was not killed after success")
	}
	sb := sandboxes[0]
	if sb.Create["templateID"] != "base" || sb.Create["timeout"] != float64(960) ||
		sb.Create["secure"] != true {
		t.Errorf("create request = %v", sb.Create)
	}
	meta, _ := sb.Create["metadata"].(map[string]any)
	if meta["osiris_run_id"] != "run-1" {
		t.Errorf("metadata = %v", meta)
	}
	runProc := sb.Processes()[2]
	if runProc.Config.Envs["TEST_E2B_DB_PASSWORD"] != sentinelPassword ||
		runProc.Config.Envs["OSIRIS_LOG_LEVEL"] != "DEBUG" || runProc.Config.Envs["PATH"] != "" {
		t.Errorf("run process envs = %v", keysOf(runProc.Config.Envs))
	}
	for _, p := range sb.Processes() {
		if p.Config.Cmd == "sh" || p.Config.Cmd == "bash" {
			t.Errorf("a shell was used: %+v", p.Config)
		}
	}
	conns, _ := os.ReadFile(sb.HostPath("/home/user/osiris/runs/run-1/osiris_connections.yaml"))
	if !strings.Contains(string(conns), "${TEST_E2B_DB_PASSWORD}") ||
		strings.Contains(string(conns), "unused") {
		t.Errorf("connections file in the sandbox:\n%s", conns)
	}
	waitNoConnections(t, h.fake)
}

// waitNoConnections waits (bounded) until the fake sees no open, busy connection: the
// server notices a closed connection shortly after the client closes it.
func waitNoConnections(t *testing.T, fake *e2bfake.Server) {
	t.Helper()
	for i := 0; i < 500 && fake.ActiveConnections() > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := fake.ActiveConnections(); n != 0 {
		t.Errorf("%d connections still open", n)
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestArtifactDownloadFailureIsRecorded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  e2bfake.Fault
		status float64
	}{
		{"status 500", e2bfake.FaultStatus500, 500},
		{"timeout", e2bfake.FaultHang, 200},
		{"truncated body", e2bfake.FaultTruncate, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.adapter.opts.DownloadTimeout = 500 * time.Millisecond
			// The archive fails too, so the files come one by one and one of them fails.
			h.fake.FailDownload("/"+remote.PackArchive, e2bfake.FaultStatus500)
			h.fake.FailDownload("/artifacts/extract/notes.txt", tc.fault)
			_, col, err := h.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(col.Failures) != 1 || col.Failures[0].Path != "artifacts/extract/notes.txt" ||
				col.Failures[0].Phase != "download" {
				t.Fatalf("failures = %+v", col.Failures)
			}
			events := readRecords(t, filepath.Join(h.rc.RunDir, "events.jsonl"))
			failed := eventsNamed(events, "e2b_artifact_download_failed")
			if len(failed) != 1 || failed[0]["path"] != "artifacts/extract/notes.txt" ||
				failed[0]["error"] == "" {
				t.Fatalf("e2b_artifact_download_failed events = %v", failed)
			}
			if tc.status == 500 && failed[0]["status_code"] != tc.status {
				t.Errorf("status_code = %v, want 500", failed[0]["status_code"])
			}
			if len(eventsNamed(events, "e2b_artifact_pack_fallback")) != 1 {
				t.Error("the fallback from the archive was not recorded")
			}
			metrics := readRecords(t, filepath.Join(h.rc.RunDir, "metrics.jsonl"))
			if v := metricValue(t, metrics, "artifacts_failed_total"); v != 1 {
				t.Errorf("artifacts_failed_total = %v, want 1", v)
			}
			if !strings.Contains(h.logs.String(), "level=WARN") ||
				!strings.Contains(h.logs.String(), "artifacts/extract/notes.txt") {
				t.Errorf("no warning logged:\n%s", h.logs.String())
			}
			st := readStatus(t, h.rc.RunDir)
			if st["artifacts_incomplete"] != true || st["artifacts_failed_total"] != float64(1) {
				t.Errorf("status.json = %v", st)
			}
			if _, err := os.Stat(filepath.Join(h.rc.RunDir, "artifacts/extract/notes.txt")); err == nil {
				t.Error("a half-downloaded file was left in the run directory")
			}
			if _, err := os.Stat(filepath.Join(h.rc.RunDir,
				"artifacts/extract/cleaned_config.json")); err != nil {
				t.Errorf("the other files must still arrive: %v", err)
			}
			if !h.fake.Sandboxes()[0].Killed() {
				t.Error("sandbox not killed")
			}
			waitNoConnections(t, h.fake)
		})
	}
}

func TestArchiveEntryFailingVerificationIsRecorded(t *testing.T) {
	h := newHarness(t)
	h.packHook = func(dir string) {
		raw, _ := os.ReadFile(filepath.Join(dir, remote.PackIndex))
		var index remote.Index
		_ = json.Unmarshal(raw, &index)
		for i := range index.Files {
			if index.Files[i].Path == "artifacts/_system/run_card.json" {
				index.Files[i].SHA256 = strings.Repeat("0", 64)
			}
		}
		raw, _ = json.Marshal(index)
		_ = os.WriteFile(filepath.Join(dir, remote.PackIndex), raw, 0o644)
	}
	_, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(col.Failures) != 1 || col.Failures[0].Phase != "verify" {
		t.Fatalf("failures = %+v", col.Failures)
	}
	if _, err := os.Stat(filepath.Join(h.rc.RunDir, "artifacts/_system/run_card.json")); err == nil {
		t.Error("a file failing its hash check was kept")
	}
}

func TestFailedRunKillsSandboxAndShowsRedactedStderr(t *testing.T) {
	h := newHarness(t)
	h.runScript = func(_ context.Context, p *e2bfake.Proc) e2bfake.Exit {
		writeRunDir(p.Dir(), false)
		p.Stderr([]byte("connecting\nERROR login failed with password " + sentinelPassword +
			" for app\n"))
		return e2bfake.Exit{Code: 1}
	}
	res, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.ExitCode != 1 || col.OK {
		t.Fatalf("a failed run came back as %+v / ok=%v", res, col.OK)
	}
	tail := strings.Join(res.LastStderr, "\n")
	if !strings.Contains(tail, "login failed") || strings.Contains(tail, sentinelPassword) {
		t.Errorf("last stderr = %q", tail)
	}
	st := readStatus(t, h.rc.RunDir)
	if st["ok"] != false || st["exit_code"] != float64(1) {
		t.Errorf("status.json = %v", st)
	}
	if !h.fake.Sandboxes()[0].Killed() {
		t.Error("the sandbox was not killed after a failure")
	}
	assertNoSecrets(t, h)
	waitNoConnections(t, h.fake)
}

func TestInterruptStopsProcessAndKillsSandbox(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.runScript = func(ctx2 context.Context, p *e2bfake.Proc) e2bfake.Exit {
		p.Stdout([]byte(protocolLines()[:120]))
		cancel() // Ctrl-C while the run is going
		return e2bfake.Script{WaitForSignal: true}.Play(ctx2, p)
	}
	res, col, err := h.run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.OK || col.OK {
		t.Fatalf("result %+v ok=%v", res, col.OK)
	}
	sb := h.fake.Sandboxes()[0]
	if !sb.Killed() {
		t.Fatal("the sandbox was not killed after an interrupt")
	}
	run := sb.Processes()[2]
	if sigs := run.SignalsReceived(); len(sigs) == 0 || sigs[0] != SignalTerm {
		t.Errorf("signals = %v, want SIGTERM first", sigs)
	}
	if st := readStatus(t, h.rc.RunDir); st["reason"] != "interrupted" || st["ok"] != false {
		t.Errorf("status.json = %v", st)
	}
	waitNoConnections(t, h.fake)
}

func TestTimeoutStopsProcess(t *testing.T) {
	h := newHarness(t)
	h.adapter.opts.Timeout = 300 * time.Millisecond
	h.runScript = e2bfake.Script{WaitForSignal: true}.Play
	res, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Interrupted || !strings.Contains(res.Error, "timeout") || col.OK {
		t.Fatalf("result %+v", res)
	}
	if !h.fake.Sandboxes()[0].Killed() {
		t.Error("sandbox not killed after a timeout")
	}
}

func TestStreamWithoutExitStatusFails(t *testing.T) {
	h := newHarness(t)
	h.runScript = func(_ context.Context, p *e2bfake.Proc) e2bfake.Exit {
		writeRunDir(p.Dir(), true)
		p.Stdout([]byte(protocolLines()))
		return e2bfake.Exit{Drop: true}
	}
	res, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Error, "stream") || col.OK {
		t.Fatalf("result %+v ok=%v", res, col.OK)
	}
	if !h.fake.Sandboxes()[0].Killed() {
		t.Error("sandbox not killed")
	}
}

func TestMissingStatusIsAContractViolation(t *testing.T) {
	h := newHarness(t)
	h.runScript = func(_ context.Context, p *e2bfake.Proc) e2bfake.Exit {
		writeRunDir(p.Dir(), true)
		_ = os.Remove(filepath.Join(p.Dir(), "status.json"))
		p.Stdout([]byte(protocolLines()))
		return e2bfake.Exit{}
	}
	_, col, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := readStatus(t, h.rc.RunDir)
	if col.OK || st["ok"] != false || st["reason"] != "status contract violation" ||
		st["sandbox_id"] == nil {
		t.Errorf("status.json = %v", st)
	}
}

func TestCreateRefusedLeavesNothingRunning(t *testing.T) {
	h := newHarness(t)
	h.fake.FailCreate(401)
	_, _, err := h.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), h.fake.APIKey) {
		t.Error("the error shows the API key")
	}
	if len(h.fake.Sandboxes()) != 0 {
		t.Error("a sandbox exists after a refused create")
	}
}

func TestKillFailureIsReported(t *testing.T) {
	h := newHarness(t)
	h.fake.FailKill(500)
	p, err := h.adapter.Prepare(context.Background(), h.m, h.rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.adapter.Execute(context.Background(), p, h.rc); err != nil {
		t.Fatal(err)
	}
	if err := h.adapter.Close(context.Background()); err == nil {
		t.Fatal("a failed kill was swallowed")
	}
	if err := h.adapter.Close(context.Background()); err != nil {
		t.Errorf("Close is not idempotent: %v", err)
	}
	events := readRecords(t, filepath.Join(h.rc.RunDir, "events.jsonl"))
	if len(eventsNamed(events, "e2b_cleanup_error")) != 1 {
		t.Error("no e2b_cleanup_error event")
	}
}

func TestMissingVariableFailsBeforeAnySandbox(t *testing.T) {
	h := newHarness(t)
	h.rc.Getenv = func(string) string { return "" }
	_, err := h.adapter.Prepare(context.Background(), h.m, h.rc)
	var re *remote.Error
	if err == nil || !strings.Contains(err.Error(), "TEST_E2B_DB_PASSWORD") ||
		!asRemoteError(err, &re) || !re.Usage {
		t.Fatalf("err = %v", err)
	}
	if len(h.fake.Sandboxes()) != 0 {
		t.Error("a sandbox was created")
	}
}

func asRemoteError(err error, target **remote.Error) bool {
	e, ok := err.(*remote.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestInlineSecretInStepConfigIsRefused(t *testing.T) {
	h := newHarness(t)
	writeFile(t, filepath.Join(filepath.Dir(h.rc.ManifestPath), "cfg", "fetch.json"),
		`{"component":"graphql.extractor","auth_token":"abcdefgh12345"}`)
	_, err := h.adapter.Prepare(context.Background(), h.m, h.rc)
	if err == nil || !strings.Contains(err.Error(), "auth_token") ||
		strings.Contains(err.Error(), "abcdefgh12345") {
		t.Fatalf("err = %v", err)
	}
}

// Neither the API key, the envd token nor a connection secret may appear in the local
// run directory, the logs, the sandbox's files or any request except the environment of
// the run process itself.
func TestNoSecretLeaves(t *testing.T) {
	h := newHarness(t)
	h.runScript = func(ctx context.Context, p *e2bfake.Proc) e2bfake.Exit {
		// A careless driver echoing its environment must still be redacted on the host.
		p.Stdout([]byte(`{"type":"event","name":"debug_dump","ts":"2025-01-02T03:04:05.000Z",` +
			`"data":{"dsn":"mysql://app:` + sentinelPassword + `@db/x","note":"token ` +
			p.Config.Envs["OSIRIS_E2B_SECRET_1"] + `"}}` + "\n"))
		p.Stderr([]byte("env: " + p.Config.Envs["TEST_E2B_DB_PASSWORD"] + "\n"))
		return successfulRun(ctx, p)
	}
	if _, _, err := h.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, h)

	sb := h.fake.Sandboxes()[0]
	for _, body := range h.fake.RequestBodies() {
		if strings.Contains(body, h.fake.APIKey) {
			t.Errorf("the API key was sent in a request body")
		}
		if strings.Contains(body, sentinelPassword) || strings.Contains(body, sentinelLiteral) {
			if !strings.Contains(body, `"envs"`) || !strings.Contains(body, `"run"`) {
				t.Errorf("a secret left the host outside the run process's envs: %.200s", body)
			}
		}
	}
	_ = filepath.Walk(sb.Root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		raw, _ := os.ReadFile(path)
		if bytes.Contains(raw, []byte(sentinelPassword)) || bytes.Contains(raw, []byte(sentinelLiteral)) {
			t.Errorf("a secret was written to the sandbox file %s", path)
		}
		return nil
	})
}

func assertNoSecrets(t *testing.T, h *harness) {
	t.Helper()
	sentinels := []string{sentinelPassword, sentinelLiteral, h.fake.APIKey}
	for _, sb := range h.fake.Sandboxes() {
		sentinels = append(sentinels, sb.Token)
	}
	for _, s := range sentinels {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("a secret is in the log output")
		}
	}
	_ = filepath.Walk(h.rc.RunDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		raw, _ := os.ReadFile(path)
		for _, s := range sentinels {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("a secret is in %s", path)
			}
		}
		return nil
	})
}
