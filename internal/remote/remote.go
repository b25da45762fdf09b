// Package remote runs a compiled pipeline through an execution adapter: "local" runs it in
// this process, "e2b" (package remote/e2b) runs the same osiris binary in an E2B sandbox.
// Both leave the same run directory behind, so everything that reads a run (runs show,
// logs, summaries) works the same whatever ran it.
package remote

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Adapter is one way of executing a run: prepare what it needs, execute, collect the
// results into the local run directory, and release what it holds. Close is idempotent
// and must be called on every path; for e2b it kills the sandbox.
type Adapter interface {
	Prepare(ctx context.Context, m *manifest.Manifest, rc *RunContext) (*PreparedRun, error)
	Execute(ctx context.Context, p *PreparedRun, rc *RunContext) (*ExecResult, error)
	Collect(ctx context.Context, p *PreparedRun, rc *RunContext) (*Collected, error)
	Close(ctx context.Context) error
}

// RunContext is what every adapter gets about the run at hand.
type RunContext struct {
	RunID  string
	RunDir string // local run directory; created by the caller
	// ManifestPath is the compiled manifest.yaml; its cfg/ directory sits next to it.
	ManifestPath string
	Profile      string
	Project      *config.Project
	Logger       *slog.Logger
	// Redactor hides this run's literal secret values; adapters add the ones they handle.
	Redactor *secrets.Redactor
	// Records writes events.jsonl and metrics.jsonl of the local run directory.
	Records *Recorder
	// Progress receives human progress lines (stderr on a terminal), or nil.
	Progress io.Writer
	Verbose  bool
	// Getenv reads the environment (os.Getenv unless a test says otherwise).
	Getenv func(string) string
}

// Limits bound a run.
type Limits struct {
	Timeout          time.Duration
	ArtifactMaxBytes int64
	IncludeData      bool
}

// PreparedRun is a run ready to execute. Nothing in it is secret: connection values that
// are secret stay in the adapter's memory, never in this struct.
type PreparedRun struct {
	Manifest    *manifest.Manifest
	ManifestDir string
	// CfgIndex maps a step id to its cfg path relative to the manifest directory.
	CfgIndex map[string]string
	// ConnectionRefs are the @family.alias references the steps use.
	ConnectionRefs []string
	// RequiredEnv names the environment variables the connections read.
	RequiredEnv []string
	Limits      Limits
	Meta        map[string]any
}

// ExecResult says how the execution went.
type ExecResult struct {
	OK             bool
	ExitCode       int
	Duration       time.Duration
	Error          string
	StepsCompleted int
	StepsTotal     int
	// LastStderr holds the last lines the run wrote to stderr, redacted.
	LastStderr []string
	// Interrupted is set when the caller's context ended the run.
	Interrupted bool
}

// ArtifactFailure is one result file that did not make it into the local run directory.
type ArtifactFailure struct {
	Path       string `json:"path"`
	Phase      string `json:"phase"` // list, download, extract or verify
	Error      string `json:"error"`
	StatusCode int    `json:"status_code,omitempty"`
}

// Collected is what arrived in the local run directory.
type Collected struct {
	EventsPath   string
	MetricsPath  string
	LogPath      string
	ArtifactsDir string
	Files        int
	Bytes        int64
	Failures     []ArtifactFailure
	// Status is the status.json written to the run directory.
	Status map[string]any
	// OK applies the success rule: exit code 0, every step completed, status file and
	// events file arrived.
	OK bool
}

// Error is an adapter failure in one phase (prepare, execute, collect). Msg is safe to
// print: it names files, steps and variables, never their secret values. Usage marks a
// problem the user fixes in their input (a missing variable, an inline secret).
type Error struct {
	Phase string
	Msg   string
	Usage bool
	Err   error
}

// Error returns the print-safe message.
func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the cause for errors.Is; it is never printed.
func (e *Error) Unwrap() error { return e.Err }
