package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/remote"
	"github.com/osirisgo/osiris/internal/remote/e2b"
	"github.com/osirisgo/osiris/internal/runner"
	"github.com/osirisgo/osiris/internal/secrets"
)

// runRemote runs a pipeline in an E2B sandbox (osiris run --target e2b): the same osiris
// binary runs there, its events and metrics stream into the local run directory and its
// artifacts come home, so the run reads like a local one afterwards.
func runRemote(cmd *cobra.Command, f *Factory, opts *RunOptions) error {
	if opts.Manifest != "" || opts.RunDir != "" || opts.RunID != "" || opts.EventsStdout {
		return UsageError("--manifest, --run-dir, --run-id and --events-stdout belong to " +
			"the sandbox side of a remote run and do not combine with --target e2b")
	}
	if opts.E2BTimeout <= 0 {
		return UsageError("--e2b-timeout must be positive, got %s", opts.E2BTimeout)
	}
	if opts.E2BTemplate == "" {
		return UsageError("--e2b-template must name a sandbox template")
	}
	cfg, err := e2b.ConfigFromEnv(os.Getenv)
	if err != nil {
		return ValidationError("e2b_config_error", err.Error(),
			map[string]any{"phase": "prepare", "target": "e2b"})
	}
	run, err := prepareRun(cmd, f, opts)
	if err != nil {
		return err
	}
	p, profile, started, manifestPath := run.project, run.profile, run.started, run.manifestPath
	m, err := manifest.Load(manifestPath)
	if err != nil {
		return ValidationError("manifest_error", err.Error(), map[string]any{"phase": "prepare"})
	}
	runID, runDir, err := runner.RunIdentity(p, m, profile, started.UTC())
	if err != nil {
		return FailureError("internal_error", err.Error(), nil)
	}
	if err := os.MkdirAll(filepath.Join(runDir, "artifacts"), 0o755); err != nil {
		return FailureError("io_error", "create the run directory: "+err.Error(), nil)
	}
	if m.Meta.Profile != "" {
		profile = m.Meta.Profile
	}

	redactor := secrets.NewRedactor()
	redactor.Add(cfg.APIKey.Reveal())
	records := remote.NewRecorder(runDir, runID, redactor)
	for _, ev := range run.preEvents {
		records.EventAt(ev.TS, ev.Name, ev.Fields)
	}
	var progress io.Writer
	if f.IO.ErrIsTerminal && !f.JSON {
		progress = f.IO.ErrOut
		fprintf(progress, "e2b: running %s in a sandbox (template %s, timeout %s)\n",
			m.Pipeline.ID, opts.E2BTemplate, opts.E2BTimeout)
	}
	rc := &remote.RunContext{
		RunID: runID, RunDir: runDir, ManifestPath: manifestPath, Profile: profile,
		Project: p, Logger: f.Logger(), Redactor: redactor, Records: records,
		Progress: progress, Verbose: f.Verbose, Getenv: os.Getenv,
	}
	adapter := e2b.New(e2bOptions(f, cfg, opts))

	outcome, runErr := remote.Run(cmd.Context(), adapter, m, rc)
	total := time.Since(started)
	if opts.OutDir != "" {
		if err := copyArtifacts(filepath.Join(runDir, "artifacts"), opts.OutDir); err != nil {
			rc.Logger.Warn("could not copy artifacts to --out", "error", err.Error())
			records.Event("artifacts_copy_error", map[string]any{"error": err.Error()})
		}
	}
	// Limitation: the AIOP summary is built in the sandbox and not brought home, so a
	// remote run reports an empty aiop_path.
	summary := remoteSummary(runID, runDir, m, manifestPath, profile, outcome, total)
	indexRemoteRun(rc, summary, started)
	// The sandbox's own run_end is in the stream; this one closes the host's part.
	records.Event("e2b_run_end", map[string]any{"status": summary.status,
		"duration_seconds": math.Round(total.Seconds()*100) / 100})
	if err := records.Err(); err != nil {
		rc.Logger.Warn("some run records could not be written", "error", err.Error())
	}

	if runErr != nil || !summary.ok {
		return remoteFailure(f, summary, outcome, runErr, redactor)
	}
	if opts.StrictArtifacts && len(summary.failures) > 0 {
		return artifactsIncomplete(summary)
	}
	return printRemoteResult(f, summary, run.compileSecs, total)
}

// artifactsIncomplete fails a remote run whose steps all succeeded but some of whose
// artifacts did not come back, for callers who asked for --strict-artifacts.
func artifactsIncomplete(s *remoteRunSummary) error {
	return FailureError("artifacts_incomplete", fmt.Sprintf(
		"the run succeeded but %d artifact file(s) did not download (--strict-artifacts)",
		len(s.failures)), map[string]any{"phase": "collect", "run_id": s.runID,
		"session_id": s.runID, "session_dir": s.runDir, "execution_type": "e2b",
		"sandbox_id": s.sandboxID, "artifacts": s.artifactsDoc()})
}

func e2bOptions(f *Factory, cfg e2b.Config, opts *RunOptions) e2b.Options {
	maxMB, _ := strconv.Atoi(os.Getenv("E2B_ARTIFACT_MAX_MB"))
	return e2b.Options{
		Config: cfg, Template: opts.E2BTemplate, Timeout: opts.E2BTimeout,
		BinaryPath: os.Getenv("OSIRIS_E2B_BINARY"), Version: f.Version, ArtifactMaxMB: maxMB,
		IncludeData: os.Getenv("E2B_DOWNLOAD_DATA_ARTIFACTS") == "1",
	}
}

// remoteRunSummary is what the CLI reports about a remote run.
type remoteRunSummary struct {
	runID, runDir, slug, profile, manifestPath, manifestHash, manifestShort string
	sandboxID, status                                                       string
	ok                                                                      bool
	stepsTotal, stepsCompleted                                              int
	totalRows                                                               int64
	artifactFiles                                                           int
	artifactBytes                                                           int64
	failures                                                                []remote.ArtifactFailure
	duration                                                                time.Duration
}

func remoteSummary(runID, runDir string, m *manifest.Manifest, manifestPath, profile string,
	out *remote.Outcome, total time.Duration) *remoteRunSummary {
	s := &remoteRunSummary{runID: runID, runDir: runDir, slug: m.Pipeline.ID, profile: profile,
		manifestPath: manifestPath, manifestHash: m.Meta.ManifestHash,
		manifestShort: m.Meta.ManifestShort, stepsTotal: len(m.Steps), status: "failed",
		duration: total}
	if out == nil || out.Collected == nil {
		return s
	}
	c := out.Collected
	s.ok, s.artifactFiles, s.artifactBytes, s.failures = c.OK, c.Files, c.Bytes, c.Failures
	if s.ok {
		s.status = "success"
	}
	if id, ok := c.Status["sandbox_id"].(string); ok {
		s.sandboxID = id
	}
	if n, err := strconv.Atoi(fmt.Sprint(c.Status["steps_completed"])); err == nil {
		s.stepsCompleted = n
	}
	if n, err := strconv.Atoi(fmt.Sprint(c.Status["steps_total"])); err == nil && n > 0 {
		s.stepsTotal = n
	}
	if n, err := strconv.ParseInt(fmt.Sprint(c.Status["total_rows"]), 10, 64); err == nil {
		s.totalRows = n
	}
	return s
}

// indexRemoteRun appends the run's record to the local run index, as a local run does,
// so 'osiris runs list/show' find it. A failure is logged and recorded, never fatal. The
// events carry the e2b_ prefix: the sandbox's own index events are in the stream.
func indexRemoteRun(rc *remote.RunContext, s *remoteRunSummary, started time.Time) {
	err := runner.AppendRunRecord(rc.Project, runner.RunRecord{
		RunID: s.runID, PipelineSlug: s.slug, Profile: s.profile, ManifestHash: s.manifestHash,
		ManifestShort: s.manifestShort, RunTS: started.UTC().Format(time.RFC3339),
		Status: s.status, DurationMS: s.duration.Milliseconds(), RunLogsPath: s.runDir,
		BuildManifestPath: s.manifestPath,
		RuntimeEnv:        map[string]any{"target": "e2b", "sandbox_id": s.sandboxID},
	})
	if err != nil {
		rc.Logger.Warn("could not update the run index", "error", err.Error())
		rc.Records.Event("e2b_run_index_error", map[string]any{"error": err.Error()})
		return
	}
	rc.Records.Event("e2b_run_index_updated", map[string]any{"run_id": s.runID})
}

func (s *remoteRunSummary) artifactsDoc() map[string]any {
	failed := s.failures
	if failed == nil {
		failed = []remote.ArtifactFailure{}
	}
	return map[string]any{"files": s.artifactFiles, "bytes": s.artifactBytes,
		"failed": len(s.failures), "incomplete": len(s.failures) > 0, "failures": failed}
}

func printRemoteResult(f *Factory, s *remoteRunSummary, compileSecs *float64,
	total time.Duration) error {
	duration := map[string]any{"total": math.Round(total.Seconds()*100) / 100}
	if compileSecs != nil {
		duration["compile"] = *compileSecs
	}
	// Without --strict-artifacts, incomplete artifacts keep exit 0 and are said in the
	// message, status.json and the events.
	message := "Pipeline executed successfully (e2b)"
	if len(s.failures) > 0 {
		message += fmt.Sprintf("; artifacts incomplete: %d file(s) did not download",
			len(s.failures))
	}
	if !f.JSON {
		f.Printf("%s\n", message)
		f.Printf("  run id:    %s\n  sandbox:   %s\n  steps:     %d/%d\n  rows:      %d\n"+
			"  duration:  %.2fs\n  run dir:   %s\n", s.runID, s.sandboxID, s.stepsCompleted,
			s.stepsTotal, s.totalRows, total.Seconds(), s.runDir)
		f.Printf("  artifacts: %d files, %d bytes", s.artifactFiles, s.artifactBytes)
		if len(s.failures) > 0 {
			f.Printf(", %d failed (incomplete)", len(s.failures))
		}
		f.Printf("\n")
		for _, fail := range s.failures {
			f.Printf("    failed:  %s (%s: %s)\n", fail.Path, fail.Phase, fail.Error)
		}
		return nil
	}
	return f.Success(map[string]any{
		"message": message, "run_id": s.runID, "session_id": s.runID,
		"session_dir": s.runDir, "artifacts_dir": filepath.Join(s.runDir, "artifacts"),
		"execution_type": "e2b", "pipeline_slug": s.slug, "profile": s.profile,
		"manifest_path": s.manifestPath, "manifest_hash": s.manifestHash, "aiop_path": "",
		"duration": duration, "steps_total": s.stepsTotal, "steps_completed": s.stepsCompleted,
		"total_rows": s.totalRows, "sandbox_id": s.sandboxID, "artifacts": s.artifactsDoc(),
	})
}

// remoteFailure turns a failed remote run into its error document, carrying the last
// stderr lines of the sandbox (already redacted) so the cause is visible.
func remoteFailure(f *Factory, s *remoteRunSummary, out *remote.Outcome, runErr error,
	redactor *secrets.Redactor) error {
	fields := map[string]any{"phase": "execute", "run_id": s.runID, "session_id": s.runID,
		"session_dir": s.runDir, "execution_type": "e2b", "sandbox_id": s.sandboxID,
		"steps_total": s.stepsTotal, "steps_completed": s.stepsCompleted,
		"artifacts": s.artifactsDoc(), "last_stderr": []string{}}
	code, errType, msg := ExitFailure, "execution_error", "the remote run failed"

	var re *remote.Error
	switch {
	case errors.As(runErr, &re):
		fields["phase"] = re.Phase
		msg = re.Msg
		if re.Usage {
			code, errType = ExitUsage, "validation_error"
		}
	case runErr != nil:
		msg = runErr.Error()
	}
	if out != nil && out.Exec != nil {
		if out.Exec.Error != "" {
			msg = out.Exec.Error
		}
		fields["exit_code"] = out.Exec.ExitCode
		fields["last_stderr"] = out.Exec.LastStderr
		if out.Exec.Interrupted {
			code, errType = ExitInterrupted, "interrupted"
		}
	}
	// The sandbox's status names the failing step; it says more than an exit code.
	if out != nil && out.Collected != nil && out.Exec != nil && !out.Exec.Interrupted {
		if reason, ok := out.Collected.Status["reason"].(string); ok && reason != "" {
			msg = "the remote run failed: " + reason
			if step := failedStep(out.Collected.Status); step != "" {
				msg = fmt.Sprintf("step %s failed in the sandbox: %s", step, reason)
				fields["step_id"] = step
			}
		}
	}
	msg = redactor.Redact(msg)
	if !f.JSON {
		if tail, ok := fields["last_stderr"].([]string); ok && len(tail) > 0 {
			f.Notef("last lines the sandbox wrote to stderr:\n")
			for _, line := range tail {
				f.Notef("  | %s\n", line)
			}
		}
		f.Notef("run directory: %s\n", s.runDir)
	}
	return &Error{Code: code, Type: errType, Message: msg, Fields: fields, Err: runErr}
}

// failedStep finds the first failed step in a sandbox status.json.
func failedStep(status map[string]any) string {
	steps, _ := status["steps"].([]any)
	for _, raw := range steps {
		step, _ := raw.(map[string]any)
		if step["status"] == "failed" {
			id, _ := step["step_id"].(string)
			return id
		}
	}
	return ""
}

// copyArtifacts copies the run's artifacts/ tree to dir (--out), files through a
// temporary name.
func copyArtifacts(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return fsutil.WriteFileAtomic(target, raw, 0o600)
	})
}
