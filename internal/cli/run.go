package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/internal/compile"
	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/connections"
	_ "github.com/osirisgo/osiris/internal/drivers/all" // every driver a run may need
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/runner"
	"github.com/osirisgo/osiris/internal/secrets"
)

// RunOptions are the inputs of 'run'.
type RunOptions struct {
	File          string
	LastCompile   bool
	LastCompileIn string
	Profile       string
	Params        []string
	OutDir        string

	// The sandbox side of a remote run: a given manifest, run dir and run id, with the
	// events streamed on stdout.
	Manifest     string
	RunDir       string
	RunID        string
	EventsStdout bool

	Target          string
	E2BTimeout      time.Duration
	E2BTemplate     string
	StrictArtifacts bool
}

func newCmdRun(f *Factory) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Run a pipeline (OML or compiled manifest)",
		Long: "Run a pipeline. FILE is an OML pipeline (compiled first) or a manifest.yaml; " +
			"--last-compile runs the newest compiled manifest. Steps run concurrently along " +
			"the DAG with rows streamed in batches. Every run leaves a run directory with " +
			"events, metrics, a log and status.json, an index record and an AIOP summary.",
		Example: "osiris run pipelines/airports.yaml\n" +
			"osiris run --last-compile --json\n" +
			"osiris run --last-compile-in airports-per-state -p prod --out ./artifacts",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			return runRun(cmd, f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.LastCompile, "last-compile", false, "Run the manifest of the last compile")
	fl.StringVar(&opts.LastCompileIn, "last-compile-in", "", "Run the newest manifest of pipeline SLUG")
	fl.StringVarP(&opts.Profile, "profile", "p", "", "Profile (default: OSIRIS_PROFILE or profiles.default)")
	fl.StringArrayVar(&opts.Params, "param", nil, "Param value name=value for the compile (repeatable)")
	fl.StringVar(&opts.OutDir, "out", "", "Copy the run's artifacts/ to DIR afterwards")
	fl.StringVar(&opts.Target, "target", "local", "Where to run: local or e2b")
	fl.DurationVar(&opts.E2BTimeout, "e2b-timeout", 15*time.Minute, "Remote run timeout (--target e2b)")
	fl.StringVar(&opts.E2BTemplate, "e2b-template", "base", "E2B sandbox template (--target e2b)")
	fl.BoolVar(&opts.StrictArtifacts, "strict-artifacts", false,
		"Exit 1 when some artifacts of a remote run did not download (--target e2b)")
	fl.StringVar(&opts.Manifest, "manifest", "", "Manifest to run (sandbox side of a remote run)")
	fl.StringVar(&opts.RunDir, "run-dir", "", "Run directory to use (sandbox side)")
	fl.StringVar(&opts.RunID, "run-id", "", "Run id to use (sandbox side)")
	fl.BoolVar(&opts.EventsStdout, "events-stdout", false, "Stream events as JSON lines on stdout (sandbox side)")
	for _, hidden := range []string{"manifest", "run-dir", "run-id", "events-stdout"} {
		_ = fl.MarkHidden(hidden)
	}
	return cmd
}

func runRun(cmd *cobra.Command, f *Factory, opts *RunOptions) error {
	sources := 0
	for _, set := range []bool{opts.File != "", opts.LastCompile, opts.LastCompileIn != "",
		opts.Manifest != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return UsageError("give one of FILE, --last-compile, --last-compile-in or --manifest")
	}
	switch opts.Target {
	case "local":
	case "e2b":
		return runRemote(cmd, f, opts)
	default:
		return UsageError("--target must be local or e2b, got %q", opts.Target)
	}
	run, err := prepareRun(cmd, f, opts)
	if err != nil {
		return err
	}

	var sink io.Writer
	if opts.EventsStdout {
		sink = f.IO.Out
	}
	var progress io.Writer
	if f.IO.ErrIsTerminal && !opts.EventsStdout && !f.JSON {
		progress = f.IO.ErrOut
	}
	res, runErr := runner.Run(cmd.Context(), runner.Options{
		Project: run.project, ManifestPath: run.manifestPath, Profile: run.profile,
		Params: run.params, RunID: opts.RunID, RunDir: opts.RunDir, EventSink: sink,
		Progress: progress, OutDir: opts.OutDir, PreEvents: run.preEvents, Verbose: f.Verbose,
	})
	if opts.EventsStdout {
		return finishEventsStdout(f, res, runErr)
	}
	if runErr != nil {
		return runFailure(res, runErr)
	}
	return printRunResult(f, res, run.compileSecs, time.Since(run.started))
}

// preparedRun is what a local and a remote run settle before starting: the --param
// values, the project, the profile and the manifest (compiled from OML when needed).
type preparedRun struct {
	params       map[string]string
	project      *config.Project
	profile      string
	started      time.Time
	manifestPath string
	preEvents    []runner.Event // compile events the run's event log starts with
	compileSecs  *float64
}

func prepareRun(cmd *cobra.Command, f *Factory, opts *RunOptions) (*preparedRun, error) {
	params, err := parseParams(opts.Params)
	if err != nil {
		return nil, err
	}
	p, err := f.Project()
	if err != nil {
		return nil, err
	}
	profile, err := p.ResolveProfile(opts.Profile)
	if err != nil {
		return nil, err
	}

	run := &preparedRun{params: params, project: p, profile: profile, started: time.Now()}
	run.manifestPath, run.preEvents, run.compileSecs, err = resolveManifest(cmd, f, opts,
		params)
	if err != nil {
		return nil, err
	}
	if run.compileSecs == nil {
		if err := checkCompiledFlags(opts, run.manifestPath); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// checkCompiledFlags refuses --param and a different --profile for a manifest that is
// already compiled: both only apply when compiling, and ignoring them silently would run
// something other than what was asked for.
func checkCompiledFlags(opts *RunOptions, manifestPath string) error {
	if len(opts.Params) > 0 {
		return UsageError("--param applies when compiling OML; %s is already compiled with "+
			"its params (run the OML file instead, or compile it again with --param)",
			manifestPath)
	}
	if opts.Profile == "" {
		return nil
	}
	m, err := manifest.Load(manifestPath)
	if err != nil {
		return ValidationError("manifest_error", err.Error(), nil)
	}
	if m.Meta.Profile != opts.Profile {
		return UsageError("%s was compiled for profile %q, not %q (compile the OML file "+
			"with -p %s first)", manifestPath, m.Meta.Profile, opts.Profile, opts.Profile)
	}
	return nil
}

// resolveManifest finds the manifest to run, compiling an OML file first. Compile events
// are returned so that the run's event log starts with them.
func resolveManifest(cmd *cobra.Command, f *Factory, opts *RunOptions,
	params map[string]string) (string, []runner.Event, *float64, error) {
	p, _ := f.Project()
	pointer := ""
	switch {
	case opts.Manifest != "":
		return absOrSelf(opts.Manifest), nil, nil, nil
	case opts.LastCompile:
		pointer = compile.LastCompilePointer(p)
	case opts.LastCompileIn != "":
		pointer = compile.LatestPointer(p, opts.LastCompileIn)
	case opts.File == "":
		if env := os.Getenv("OSIRIS_LAST_MANIFEST"); env != "" {
			return absOrSelf(env), nil, nil, nil
		}
		return "", nil, nil, UsageError("nothing to run: give FILE, --last-compile or " +
			"--last-compile-in SLUG")
	}
	if pointer != "" {
		path, _, _, err := compile.ReadPointer(pointer)
		if err != nil {
			what := "the last compile"
			if opts.LastCompileIn != "" {
				what = "pipeline " + opts.LastCompileIn
			}
			return "", nil, nil, &Error{Code: ExitUsage, Type: "no_manifest",
				Message: fmt.Sprintf("no compiled manifest found for %s; run 'osiris "+
					"compile FILE' first", what),
				Fields: map[string]any{"phase": "compile"}, Err: err}
		}
		return path, nil, nil, nil
	}

	raw, err := os.ReadFile(opts.File)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, nil, &Error{Code: ExitUsage, Type: "file_not_found",
				Message: fmt.Sprintf("%s: no such file", opts.File), Err: err}
		}
		return "", nil, nil, UsageError("%s: %v", opts.File, err)
	}
	if isManifest(raw) {
		return absOrSelf(opts.File), nil, nil, nil
	}

	reg, err := loadRegistry(f)
	if err != nil {
		return "", nil, nil, err
	}
	start := time.Now()
	pre := []runner.Event{{TS: start, Name: "compile_start",
		Fields: map[string]any{"file": opts.File}}}
	res, err := compile.Compile(cmd.Context(), compile.Options{Project: p, Registry: reg,
		File: opts.File, Source: raw, Profile: opts.Profile, Params: params,
		Mode: compile.ModeAuto})
	if err != nil {
		e := asError(compileError(f, err))
		if e.Fields == nil {
			e.Fields = map[string]any{}
		}
		e.Fields["phase"] = "compile"
		return "", nil, nil, e
	}
	secs := math.Round(time.Since(start).Seconds()*100) / 100
	pre = append(pre, runner.Event{TS: time.Now(), Name: "compile_complete",
		Fields: map[string]any{"manifest_path": res.ManifestPath,
			"manifest_hash": res.ManifestHash, "cache_hit": res.CacheHit, "duration": secs}})
	return res.ManifestPath, pre, &secs, nil
}

// isManifest tells a compiled manifest from OML: it has pipeline, steps and meta.
func isManifest(raw []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(raw, &top) != nil {
		return false
	}
	_, hasPipeline := top["pipeline"]
	_, hasSteps := top["steps"]
	_, hasMeta := top["meta"]
	return hasPipeline && hasSteps && hasMeta
}

func absOrSelf(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// runFailure maps a runner failure to an exit code: a manifest that cannot run is a
// usage error (2), a step failure is operational (1).
func runFailure(res *runner.Result, err error) error {
	fields := map[string]any{"phase": "execute"}
	if res != nil {
		fields["run_id"] = res.RunID
		fields["session_id"] = res.RunID
		fields["session_dir"] = res.RunDir
		fields["aiop_path"] = res.AIOPPath
	}
	var re *runner.Error
	if errors.As(err, &re) {
		switch re.Kind {
		case runner.KindManifest:
			return &Error{Code: ExitUsage, Type: "manifest_error", Message: re.Msg,
				Fields: fields, Err: err}
		case runner.KindStep:
			if re.Code == "runtime.interrupted" {
				return &Error{Code: ExitInterrupted, Type: "interrupted", Message: re.Msg,
					Fields: fields, Err: err}
			}
			fields["step_id"] = re.Step
			fields["error_code"] = re.Code
			var ce *connections.Error
			if errors.As(err, &ce) && (ce.Kind == connections.KindNotFound ||
				ce.Kind == connections.KindInvalidReference) {
				// A reference to a connection that does not exist is a mistake in the
				// pipeline or the connections file, not a failure of the source.
				return &Error{Code: ExitUsage, Type: "connection_error",
					Message: fmt.Sprintf("step %s: %s", re.Step, re.Msg), Fields: fields,
					Err: err}
			}
			return &Error{Code: ExitFailure, Type: "execution_error",
				Message: fmt.Sprintf("step %s failed: %s", re.Step, re.Msg), Fields: fields,
				Err: err}
		}
	}
	return &Error{Code: ExitFailure, Type: "execution_error", Message: err.Error(),
		Fields: fields, Err: err}
}

func printRunResult(f *Factory, res *runner.Result, compileSecs *float64,
	total time.Duration) error {
	duration := map[string]any{"total": math.Round(total.Seconds()*100) / 100}
	if compileSecs != nil {
		duration["compile"] = *compileSecs
	}
	artifacts := filepath.Join(res.RunDir, "artifacts")
	for _, w := range res.Warnings {
		f.Notef("warning: %s\n", w)
	}
	if !f.JSON {
		f.Printf("Pipeline executed successfully (local)\n")
		f.Printf("  run id:    %s\n  steps:     %d/%d\n  rows:      %d\n  duration:  %.2fs\n",
			res.RunID, res.StepsCompleted, res.StepsTotal, res.TotalRows, total.Seconds())
		f.Printf("  run dir:   %s\n", res.RunDir)
		if res.AIOPPath != "" {
			f.Printf("  summary:   %s\n", res.AIOPPath)
		}
		return nil
	}
	doc := map[string]any{
		"message": "Pipeline executed successfully (local)", "run_id": res.RunID,
		"session_id": res.RunID, "session_dir": res.RunDir, "artifacts_dir": artifacts,
		"execution_type": "local", "pipeline_slug": res.PipelineSlug, "profile": res.Profile,
		"manifest_path": res.ManifestPath, "manifest_hash": res.ManifestHash,
		"aiop_path": res.AIOPPath, "duration": duration, "steps_total": res.StepsTotal,
		"steps_completed": res.StepsCompleted, "total_rows": res.TotalRows,
	}
	if len(res.Warnings) > 0 {
		doc["warnings"] = res.Warnings
	}
	return f.Success(doc)
}

// finishEventsStdout closes the event stream of a sandboxed run with its outcome line
// and turns the outcome into the exit code, printing nothing else on stdout.
func finishEventsStdout(f *Factory, res *runner.Result, runErr error) error {
	line := map[string]any{"type": "run_complete", "ok": runErr == nil, "exit_code": 0,
		"steps_completed": 0, "steps_total": 0, "ts": time.Now().UTC().Format(time.RFC3339Nano)}
	var failure *Error
	if runErr != nil {
		failure = asError(runFailure(res, runErr))
		line["exit_code"] = failure.Code
		line["error"] = secrets.RedactText(failure.Message)
	}
	if res != nil {
		line["steps_completed"] = res.StepsCompleted
		line["steps_total"] = res.StepsTotal
		line["run_id"] = res.RunID
	}
	raw, _ := json.Marshal(line)
	_, _ = f.IO.Out.Write(append(raw, '\n'))
	if failure != nil {
		f.JSON = false // the document would break the line protocol on stdout
		return failure
	}
	return nil
}
