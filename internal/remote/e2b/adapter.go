package e2b

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/remote"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Defaults of a remote run.
const (
	DefaultTemplate = "base"
	DefaultTimeout  = 900 * time.Second
	// sandboxGrace keeps the sandbox alive after the run's deadline, long enough to
	// collect what the run left behind.
	sandboxGrace = 60 * time.Second
)

// Options configure the E2B adapter. Zero values take the defaults.
type Options struct {
	Config Config
	// Template is the sandbox template; CPU and memory belong to it.
	Template string
	// Timeout is how long the run may take in the sandbox.
	Timeout time.Duration
	// BinaryPath is the osiris binary sent to the sandbox (linux/amd64); default: this
	// executable.
	BinaryPath    string
	Version       string
	ArtifactMaxMB int
	IncludeData   bool
	// SilenceWarning logs a warning when the run prints nothing for this long (30 s).
	SilenceWarning time.Duration
	// Heartbeat prints a progress line this often with --verbose (2 s).
	Heartbeat time.Duration
	// DownloadTimeout bounds each file download (5 min).
	DownloadTimeout time.Duration
	// TermGrace is the wait between SIGTERM and SIGKILL when a run is stopped (10 s).
	TermGrace time.Duration
	// Environ lists the host environment, for forwarding non-secret OSIRIS_* settings.
	Environ func() []string
}

func (o *Options) applyDefaults() {
	if o.Template == "" {
		o.Template = DefaultTemplate
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ArtifactMaxMB <= 0 {
		o.ArtifactMaxMB = remote.DefaultArtifactMaxMB
	}
	if o.SilenceWarning <= 0 {
		o.SilenceWarning = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 2 * time.Second
	}
	if o.DownloadTimeout <= 0 {
		o.DownloadTimeout = 5 * time.Minute
	}
	if o.TermGrace <= 0 {
		o.TermGrace = 10 * time.Second
	}
	if o.Environ == nil {
		o.Environ = os.Environ
	}
}

// Adapter runs a compiled pipeline in an E2B sandbox with the same osiris binary, streams
// its events and metrics into the local run directory and brings its artifacts home.
type Adapter struct {
	opts   Options
	client *Client

	bundle *bundle
	binary string

	mu       sync.Mutex
	sandbox  *Sandbox
	closed   bool
	cwd      string
	exec     *remote.ExecResult
	stepsRun stepCounts
	timings  map[string]int64
	started  time.Time
	// runDir and records are remembered from the run context for Close.
	runDir  string
	records *remote.Recorder
	rc      *remote.RunContext
}

type stepCounts struct {
	completed, total int
	seen             bool
}

// New returns an adapter; nothing is contacted before Execute.
func New(opts Options) *Adapter {
	opts.applyDefaults()
	return &Adapter{opts: opts, client: NewClient(opts.Config), timings: map[string]int64{},
		started: time.Now()}
}

var _ remote.Adapter = (*Adapter)(nil)

// Prepare builds the bundle: the manifest, the step configs and the used part of the
// connections file with secrets replaced by placeholders. Variables the connections need
// but that are not set fail the run here, before any sandbox exists.
func (a *Adapter) Prepare(_ context.Context, m *manifest.Manifest, rc *remote.RunContext) (
	*remote.PreparedRun, error) {
	a.remember(rc)
	start := time.Now()
	rc.Records.Event("e2b_prepare_start", map[string]any{"steps": len(m.Steps)})

	binary, err := a.binaryPath()
	if err != nil {
		return nil, a.prepareFailed(rc, err)
	}
	a.binary = binary

	manifestDir := filepath.Dir(rc.ManifestPath)
	connectionsFile, basePath := "", ""
	if rc.Project != nil {
		connectionsFile, basePath = rc.Project.ConnectionsFile(), rc.Project.Base
	}
	b, err := buildBundle(m, manifestDir, basePath, connectionsFile, rc.Getenv)
	if err != nil {
		return nil, a.prepareFailed(rc, err)
	}
	a.bundle = b
	for _, w := range b.warnings {
		rc.Logger.Warn(w)
	}
	for _, v := range b.env {
		rc.Redactor.Add(v.Reveal())
	}
	rc.Redactor.Add(a.opts.Config.APIKey.Reveal())

	if err := copyManifest(b, rc.RunDir); err != nil {
		return nil, a.prepareFailed(rc, err)
	}

	cfgIndex := map[string]string{}
	for _, s := range m.Steps {
		cfgIndex[s.ID] = s.CfgPath
	}
	a.timings["prepare_ms"] = time.Since(start).Milliseconds()
	rc.Records.Event("e2b_prepare_complete", map[string]any{
		"bundle_bytes": len(b.archive), "files": b.files, "connection_refs": b.refs,
		"required_env": b.requiredEnv, "duration_ms": a.timings["prepare_ms"],
		"inputs": b.inputs, "outputs": b.outputs,
	})
	return &remote.PreparedRun{
		Manifest: m, ManifestDir: manifestDir, CfgIndex: cfgIndex,
		ConnectionRefs: b.refs, RequiredEnv: b.requiredEnv,
		Limits: remote.Limits{Timeout: a.opts.Timeout,
			ArtifactMaxBytes: int64(a.opts.ArtifactMaxMB) << 20, IncludeData: a.opts.IncludeData},
		Meta: map[string]any{"template": a.opts.Template},
	}, nil
}

func (a *Adapter) remember(rc *remote.RunContext) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rc, a.runDir, a.records = rc, rc.RunDir, rc.Records
}

func (a *Adapter) prepareFailed(rc *remote.RunContext, err error) error {
	rc.Records.Event("e2b_prepare_error", map[string]any{"error": err.Error()})
	var re *remote.Error
	if errors.As(err, &re) {
		return err
	}
	return &remote.Error{Phase: "prepare", Msg: rc.Redactor.Redact(err.Error()), Err: err}
}

// binaryPath picks the osiris binary for the sandbox. Sandboxes are linux/amd64, so a
// binary built for anything else has to be named explicitly.
func (a *Adapter) binaryPath() (string, error) {
	if a.opts.BinaryPath != "" {
		if _, err := os.Stat(a.opts.BinaryPath); err != nil {
			return "", fmt.Errorf("the osiris binary for the sandbox: %w", err)
		}
		return a.opts.BinaryPath, nil
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", &remote.Error{Phase: "prepare", Usage: true, Msg: fmt.Sprintf(
			"this osiris is built for %s/%s but E2B sandboxes run linux/amd64; build one "+
				"with GOOS=linux GOARCH=amd64 and name it in OSIRIS_E2B_BINARY",
			runtime.GOOS, runtime.GOARCH)}
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this executable: %w", err)
	}
	return exe, nil
}

// copyManifest puts manifest.yaml and cfg/ into the local run directory, as a local run
// does, so the run directory documents what ran.
func copyManifest(b *bundle, runDir string) error {
	files, err := untarGz(b.archive)
	if err != nil {
		return err
	}
	for name, raw := range files {
		name, ok := strings.CutPrefix(name, manifestDirInBundle+"/")
		if !ok {
			continue
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(runDir, filepath.FromSlash(name)),
			raw, 0o600); err != nil {
			return fmt.Errorf("copy %s into the run directory: %w", name, err)
		}
	}
	return nil
}

// Close kills the sandbox and writes remote/e2b.json. It is idempotent; a kill that
// fails is logged and recorded as an event, and returned.
func (a *Adapter) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	sb, rc := a.sandbox, a.rc
	a.mu.Unlock()
	defer a.client.CloseIdleConnections()
	if sb == nil {
		return nil
	}

	if rc != nil {
		rc.Records.Event("e2b_cleanup_start", map[string]any{"sandbox_id": sb.ID()})
	}
	start := time.Now()
	killErr := sb.Kill(ctx)
	a.timings["kill_ms"] = time.Since(start).Milliseconds()
	a.timings["total_ms"] = time.Since(a.started).Milliseconds()
	if rc == nil {
		return killErr
	}
	if killErr != nil {
		msg := rc.Redactor.Redact(killErr.Error())
		rc.Logger.Warn("could not kill the E2B sandbox; it stops at its timeout",
			"sandbox_id", sb.ID(), "error", msg)
		rc.Records.Event("e2b_cleanup_error", map[string]any{"sandbox_id": sb.ID(),
			"error": msg})
	} else {
		rc.Records.Event("e2b_cleanup_complete", map[string]any{"sandbox_id": sb.ID(),
			"duration_ms": a.timings["kill_ms"]})
	}
	rc.Records.Metric("e2b_overhead_ms", a.timings["total_ms"]-a.timings["process_ms"], "ms", "")
	exitCode := -1
	if a.exec != nil {
		exitCode = a.exec.ExitCode
	}
	rc.Records.Metric("adapter_exit_code", exitCode, "", "")
	a.writeReport(sb, killErr)
	return killErr
}

func (a *Adapter) writeReport(sb *Sandbox, killErr error) {
	report := map[string]any{
		"sandbox_id": sb.ID(), "template": a.opts.Template, "envd_version": sb.Info.EnvdVersion,
		"sandbox_dir": a.cwd, "timeout_s": int(a.opts.Timeout.Seconds()),
		"timings_ms": a.timings, "killed": killErr == nil,
	}
	if a.exec != nil {
		report["exit_code"] = a.exec.ExitCode
	}
	raw, _ := json.MarshalIndent(report, "", "  ")
	path := filepath.Join(a.runDir, "remote", "e2b.json")
	if err := fsutil.WriteFileAtomic(path, append(raw, '\n'), 0o600); err != nil {
		a.rc.Logger.Warn("could not write remote/e2b.json", "error", err.Error())
	}
}

// settingsEnv is the non-secret part of a sandbox process's environment: the host's
// OSIRIS_* settings (log level, privacy, AIOP options) and the project root.
func (a *Adapter) settingsEnv() map[string]secrets.Secret {
	env := map[string]secrets.Secret{}
	for _, kv := range a.opts.Environ() {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "OSIRIS_") || secrets.IsSecretKey(name) ||
			strings.HasPrefix(name, secretEnvPrefix) {
			continue
		}
		switch name {
		case "OSIRIS_HOME", "OSIRIS_LAST_MANIFEST", "OSIRIS_E2B_BINARY":
			continue
		}
		env[name] = secrets.Secret(value)
	}
	// The process starts in the run directory, which holds the bundled osiris.yaml.
	env["OSIRIS_HOME"] = secrets.Secret(".")
	return env
}

// runEnv is the environment of the run process: the settings plus the connections'
// variables and the generated secret variables. Only this process ever sees them.
func (a *Adapter) runEnv() map[string]secrets.Secret {
	env := a.settingsEnv()
	for k, v := range a.bundle.env {
		env[k] = v
	}
	return env
}
