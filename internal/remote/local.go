package remote

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/runner"
)

// Local runs the pipeline in this process with the runner. It is the default adapter
// and the reference the e2b adapter is compared against.
type Local struct {
	// Base carries the runner options the run context does not (params, --out, compile
	// events, tags); the adapter fills in project, manifest, run id and run directory.
	Base runner.Options

	result *runner.Result
	err    error
}

var _ Adapter = (*Local)(nil)

// NewLocal returns a local adapter using base for the runner options the run context
// does not carry.
func NewLocal(base runner.Options) *Local { return &Local{Base: base} }

// Prepare only describes the run: everything else happens in the runner.
func (l *Local) Prepare(_ context.Context, m *manifest.Manifest, rc *RunContext) (
	*PreparedRun, error) {
	cfgIndex := map[string]string{}
	for _, s := range m.Steps {
		cfgIndex[s.ID] = s.CfgPath
	}
	return &PreparedRun{Manifest: m, ManifestDir: filepath.Dir(rc.ManifestPath),
		CfgIndex: cfgIndex, Meta: map[string]any{"target": "local"}}, nil
}

// Execute runs the manifest. A failed run is an ExecResult with OK false, not an error;
// the error is kept for Result.
func (l *Local) Execute(ctx context.Context, _ *PreparedRun, rc *RunContext) (
	*ExecResult, error) {
	opts := l.Base
	opts.Project, opts.ManifestPath = rc.Project, rc.ManifestPath
	if opts.Profile == "" {
		opts.Profile = rc.Profile
	}
	if opts.RunID == "" {
		opts.RunID = rc.RunID
	}
	if opts.RunDir == "" {
		opts.RunDir = rc.RunDir
	}
	if opts.Progress == nil {
		opts.Progress = rc.Progress
	}
	opts.Verbose = opts.Verbose || rc.Verbose

	start := time.Now()
	l.result, l.err = runner.Run(ctx, opts)
	if l.result == nil {
		return nil, l.err
	}
	res := &ExecResult{OK: l.err == nil, Duration: time.Since(start),
		StepsCompleted: l.result.StepsCompleted, StepsTotal: l.result.StepsTotal}
	if l.err != nil {
		res.ExitCode, res.Error = 1, l.err.Error()
		var re *runner.Error
		if errors.As(l.err, &re) && re.Code == "runtime.interrupted" {
			res.Interrupted = true
		}
	}
	return res, nil
}

// Collect points at the run directory the runner wrote; nothing has to move.
func (l *Local) Collect(_ context.Context, _ *PreparedRun, _ *RunContext) (*Collected, error) {
	if l.result == nil {
		return nil, errors.New("collect called before a successful execute")
	}
	dir := l.result.RunDir
	return &Collected{EventsPath: filepath.Join(dir, "events.jsonl"),
		MetricsPath:  filepath.Join(dir, "metrics.jsonl"),
		LogPath:      filepath.Join(dir, "osiris.log"),
		ArtifactsDir: filepath.Join(dir, "artifacts"), OK: l.err == nil,
		Status: map[string]any{"ok": l.err == nil}}, nil
}

// Result is the runner's result and error of the last Execute.
func (l *Local) Result() (*runner.Result, error) { return l.result, l.err }

// Close has nothing to release: the runner releases what it opened on every path.
func (l *Local) Close(context.Context) error { return nil }
