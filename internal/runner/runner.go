// Package runner executes a compiled manifest: steps run concurrently along the DAG,
// rows move between them as bounded batches, and every run leaves a run directory
// (events, metrics, log, status, artifacts), an index record and an AIOP summary.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/naming"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Options says what to run and where its records go.
type Options struct {
	Project      *config.Project
	ManifestPath string
	// Profile is used when the manifest carries none.
	Profile string
	// Params are shown in run_start; they were already applied at compile time.
	Params map[string]string
	// RunID "" generates one from ids.run_id_format.
	RunID string
	// RunDir "" renders naming.run_dir under the run logs directory.
	RunDir string
	// EventSink, when set, also receives every event and metric as one JSON line.
	EventSink io.Writer
	// Progress receives one line per finished step; nil for none.
	Progress io.Writer
	// OutDir, when set, receives a copy of artifacts/ after the run.
	OutDir string
	// PreEvents were raised before the run existed (compile); they open the event log.
	PreEvents []Event
	// Verbose logs debug lines to osiris.log.
	Verbose bool
	// TempDir is where spill files and DuckDB scratch go; "" = the system temp dir.
	TempDir string
	// Tags end up in the index record.
	Tags []string
}

// Result describes a finished run, successful or not.
type Result struct {
	RunID          string
	RunDir         string
	Status         string // success or failed
	StepsTotal     int
	StepsCompleted int
	TotalRows      int64
	Duration       time.Duration
	Steps          []StepResult
	PipelineSlug   string
	Profile        string
	ManifestPath   string
	ManifestHash   string
	ManifestShort  string
	AIOPPath       string
	StartedAt      time.Time
	// Err is the first failure (nil on success); Phase is where it happened.
	Err   *Error
	Phase string
	// Warnings are problems after the steps ran that did not fail the run but that the
	// caller must see: a status file, the --out copy or the index could not be written.
	Warnings []string
}

// StepResult is one step's outcome.
type StepResult struct {
	ID          string        `json:"step_id"`
	Component   string        `json:"driver"`
	Status      string        `json:"status"` // success, failed, cancelled, skipped
	Rows        int64         `json:"rows"`
	RowsRead    int64         `json:"rows_read"`
	RowsWritten int64         `json:"rows_written"`
	Duration    time.Duration `json:"-"`
	DurationMS  int64         `json:"duration_ms"`
	Error       string        `json:"error,omitempty"`
	ErrorCode   string        `json:"error_code,omitempty"`
}

// Error is a run failure. Kind manifest means the manifest itself cannot run (exit 2);
// kind step is an execution failure (exit 1).
type Error struct {
	Kind string
	Step string
	Code string // <category>.<code>, for step errors
	Msg  string
	Err  error
}

// Error kinds.
const (
	KindManifest = "manifest"
	KindStep     = "step"
	KindInternal = "internal"
)

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Run executes the manifest. It returns a Result whenever a run directory was made, also
// for a failed run, together with the failure as *Error.
func Run(ctx context.Context, opts Options) (*Result, error) {
	started := time.Now().UTC()
	if opts.Project == nil {
		return nil, &Error{Kind: KindInternal, Msg: "runner: no project"}
	}
	m, err := manifest.Load(opts.ManifestPath)
	if err != nil {
		return nil, &Error{Kind: KindManifest, Msg: err.Error(), Err: err}
	}
	steps, err := order(m.Steps)
	if err != nil {
		return nil, err
	}
	for _, s := range steps {
		if _, ok := drivers.Lookup(s.Component); !ok {
			return nil, &Error{Kind: KindManifest, Msg: fmt.Sprintf(
				"step %q uses component %s, which has no driver in this build", s.ID,
				s.Component)}
		}
	}

	r := &run{opts: opts, manifest: m, steps: steps, started: started,
		manifestDir: filepath.Dir(opts.ManifestPath), redactor: secrets.NewRedactor()}
	if err := r.prepare(); err != nil {
		return nil, err
	}
	defer func() { _ = r.rec.close() }() // a panic still closes the record files
	defer os.RemoveAll(r.tempDir)

	r.execute(ctx)
	res, err := r.finish()
	if lost := r.rec.close(); lost != nil {
		res.Warnings = append(res.Warnings, r.redactor.Redact(
			"the run records are incomplete: "+lost.Error()))
	}
	return res, err
}

// run is the state of one execution.
type run struct {
	opts        Options
	manifest    *manifest.Manifest
	manifestDir string
	steps       []manifest.Step
	started     time.Time

	runID, runDir, profile, slug string
	tempDir                      string
	redactor                     *secrets.Redactor
	rec                          *recorder
	logger                       *slog.Logger
	conns                        *connections.File
	connsErr                     error
	connsOnce                    sync.Once
	progressMu                   sync.Mutex  // steps finish concurrently; lines stay whole
	interrupted                  func() bool // the caller's context ended the run
	keys                         map[string]string
	consumersOf                  map[string][]string // step -> downstream steps, in order

	mu       sync.Mutex
	states   map[string]*stepState
	failure  *Error
	cancel   context.CancelCauseFunc
	endedAt  time.Time
	execTime time.Duration
}

// stepState follows one step through the run.
type stepState struct {
	step    manifest.Step
	ready   chan struct{} // closed when Run returned (output set) or the step ended early
	output  *fanout
	failed  atomic.Bool
	result  StepResult
	metrics map[string]int64
	mu      sync.Mutex
}

func (r *run) prepare() error {
	p := r.opts.Project
	r.slug = r.manifest.Pipeline.ID
	r.profile = r.manifest.Meta.Profile
	if r.profile == "" {
		r.profile = r.opts.Profile
	}

	r.runID = r.opts.RunID
	if r.runID == "" {
		id, err := naming.RunID(p.RunIDFormat(), r.started, func() (int, error) {
			return nextCounter(p, r.slug)
		})
		if err != nil {
			return &Error{Kind: KindInternal, Msg: "make a run id: " + err.Error(), Err: err}
		}
		r.runID = id
	}

	r.runDir = r.opts.RunDir
	if r.runDir == "" {
		naming := p.File.Filesystem.Naming
		rel := renderRunDir(naming.RunDir, naming.RunTSFormat, r.started, map[string]string{
			"pipeline_slug": r.slug, "profile": r.profile,
			"manifest_hash":  r.manifest.Meta.ManifestHash,
			"manifest_short": r.manifest.Meta.ManifestShort, "run_id": r.runID,
		})
		base := p.RunLogsDir()
		if p.ProfilesEnabled() && r.profile != "" {
			base = filepath.Join(base, r.profile)
		}
		r.runDir = filepath.Join(base, rel)
	}
	abs, err := filepath.Abs(r.runDir)
	if err != nil {
		return &Error{Kind: KindInternal, Msg: err.Error(), Err: err}
	}
	r.runDir = abs
	if err := os.MkdirAll(filepath.Join(r.runDir, "artifacts"), 0o755); err != nil {
		return &Error{Kind: KindInternal, Msg: "create run directory: " + err.Error(), Err: err}
	}

	r.rec = newRecorder(r.runID, r.redactor, p.File.Logging.Events, r.opts.EventSink)
	for _, ev := range r.opts.PreEvents {
		r.rec.event(ev.TS, ev.Name, ev.Fields)
	}
	if err := r.rec.open(r.runDir); err != nil {
		return &Error{Kind: KindInternal, Msg: err.Error(), Err: err}
	}
	level := slog.LevelInfo
	if r.opts.Verbose {
		level = slog.LevelDebug
	}
	r.logger = newRunLogger(r.rec, level).With("session", r.runID)

	tempDir, err := os.MkdirTemp(r.opts.TempDir, "osiris-run-")
	if err != nil {
		_ = r.rec.close()
		return &Error{Kind: KindInternal, Msg: "create temp directory: " + err.Error(), Err: err}
	}
	r.tempDir = tempDir

	r.keys = inputKeys(r.steps)
	r.consumersOf = map[string][]string{}
	r.states = map[string]*stepState{}
	for _, s := range r.steps {
		r.states[s.ID] = &stepState{step: s, ready: make(chan struct{}),
			metrics: map[string]int64{},
			result:  StepResult{ID: s.ID, Component: s.Component, Status: "skipped"}}
		for _, need := range s.Needs {
			r.consumersOf[need] = append(r.consumersOf[need], s.ID)
		}
	}

	r.event("run_start", map[string]any{"pipeline": r.slug, "profile": r.profile,
		"params": stringMap(r.opts.Params), "run_id": r.runID,
		"manifest_hash": r.manifest.Meta.ManifestHash})
	r.logger.Info("run started", "pipeline", r.slug, "run_id", r.runID,
		"steps", len(r.steps))
	if err := r.copyManifest(); err != nil {
		r.logger.Warn("could not copy the manifest into the run directory", "error", err)
		r.event("artifact_copy_error", map[string]any{"error": err.Error()})
	}
	return nil
}

func stringMap(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func renderRunDir(template, tsFormat string, started time.Time, tokens map[string]string) string {
	tokens["run_ts"] = naming.RunTimestamp(started, tsFormat)
	rel := naming.Render(template, tokens)
	if rel == "" {
		rel = naming.Slugify(tokens["run_id"])
	}
	return rel
}

// copyManifest puts manifest.yaml and cfg/ beside the run's records.
func (r *run) copyManifest() error {
	if err := copyFile(r.opts.ManifestPath, filepath.Join(r.runDir, "manifest.yaml")); err != nil {
		return err
	}
	for _, s := range r.steps {
		src := s.CfgPath
		if !filepath.IsAbs(src) {
			src = filepath.Join(r.manifestDir, src)
		}
		dst := filepath.Join(r.runDir, "cfg", filepath.Base(src))
		if err := copyFile(src, dst); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) event(name string, fields map[string]any) {
	r.rec.event(time.Now(), name, fields)
}

func (r *run) metric(name string, value any, unit, stepID string) {
	r.rec.metric(time.Now(), name, value, unit, stepID)
}

// execute runs every step in its own goroutine and waits for all of them and their
// output pumps. The first failure cancels the rest.
func (r *run) execute(parent context.Context) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(parent)
	r.cancel = cancel
	r.interrupted = func() bool { return parent.Err() != nil }
	defer cancel(nil)

	r.metric("steps_total", len(r.steps), "", "")
	var wg sync.WaitGroup
	for _, s := range r.steps {
		st := r.states[s.ID]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runStep(ctx, st)
		}()
	}
	wg.Wait()

	for _, st := range r.states {
		if st.output != nil {
			st.output.close()
		}
	}
	if parent.Err() != nil {
		r.fail(&Error{Kind: KindStep, Code: "runtime.interrupted", Msg: "run interrupted",
			Err: parent.Err()})
	}
	r.execTime = time.Since(start)
}

// fail records the first failure and cancels the run.
func (r *run) fail(e *Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure != nil {
		return
	}
	r.failure = e
	r.cancel(e)
}

func (r *run) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failure != nil
}

// runStep waits for the step's upstreams, runs its driver and, for a producer, pumps
// its output to the consumers until they have it all.
func (r *run) runStep(ctx context.Context, st *stepState) {
	defer func() {
		select {
		case <-st.ready:
		default:
			close(st.ready)
		}
	}()
	var inputs []drivers.Input
	defer func() {
		for _, in := range inputs {
			_ = in.Rows.Close()
		}
	}()

	for _, need := range st.step.Needs {
		up := r.states[need]
		select {
		case <-up.ready:
		case <-ctx.Done():
			st.result.Status = "cancelled"
			return
		}
		if up.failed.Load() || ctx.Err() != nil {
			st.result.Status = "cancelled"
			return
		}
	}

	start := time.Now()
	st.result.Status = "running"
	env, cfg, err := r.prepareStep(ctx, st)
	if err != nil {
		r.stepFailed(st, start, err)
		return
	}
	inputs = r.collectInputs(st)

	r.event("step_start", map[string]any{"step_id": st.step.ID, "driver": st.step.Component})
	factory, _ := drivers.Lookup(st.step.Component)
	res, err := factory().Run(ctx, drivers.Request{StepID: st.step.ID, Config: cfg,
		Inputs: inputs, State: map[string]any{}, Env: env})
	if err != nil {
		if res.Rows != nil {
			_ = res.Rows.Close()
		}
		r.stepFailed(st, start, err)
		return
	}

	downstream := r.consumersOf[st.step.ID]
	if res.Rows != nil {
		st.output = newFanout(st.step.ID, res.Rows, len(downstream), r.tempDir)
	}
	close(st.ready)
	for _, in := range inputs {
		_ = in.Rows.Close()
	}
	inputs = nil

	if st.output != nil {
		st.output.run(ctx)
		if st.output.err != nil {
			r.stepFailed(st, start, st.output.err)
			return
		}
		if ctx.Err() != nil {
			st.result.Status = "cancelled"
			return
		}
	}
	r.stepComplete(st, start)
}

// prepareStep loads the step's config, resolves its connection and writes the masked
// cleaned config, announcing each stage as an event.
func (r *run) prepareStep(ctx context.Context, st *stepState) (*stepEnv, map[string]any, error) {
	id := st.step.ID
	artifacts := filepath.Join(r.runDir, "artifacts", id)
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		return nil, nil, &Error{Kind: KindStep, Step: id, Code: "system.io",
			Msg: "create artifacts directory: " + err.Error(), Err: err}
	}
	r.event("artifacts_dir_created", map[string]any{"step_id": id, "path": artifacts})

	cfg, err := manifest.StepConfig(r.manifestDir, st.step)
	if err != nil {
		return nil, nil, &Error{Kind: KindStep, Step: id, Code: "config.load",
			Msg: err.Error(), Err: err}
	}
	var removed []string
	ref, _ := cfg["connection"].(string)
	for _, k := range []string{"component", "connection"} {
		if _, ok := cfg[k]; ok {
			delete(cfg, k)
			removed = append(removed, k)
		}
	}
	r.event("config_meta_stripped", map[string]any{"step_id": id, "keys_removed": removed})

	if err := r.resolveConnection(st, cfg, ref); err != nil {
		return nil, nil, err
	}

	cleaned := secrets.MaskMap(cfg, secrets.Masked)
	cleanedPath := filepath.Join(artifacts, "cleaned_config.json")
	if err := writeJSONFile(cleanedPath, r.redactor.RedactStrings(cleaned)); err != nil {
		r.logger.Warn("could not write cleaned_config.json", "step_id", id, "error", err)
	} else {
		r.event("artifact_created", map[string]any{"step_id": id,
			"artifact_type": "cleaned_config", "path": cleanedPath})
	}
	env := &stepEnv{run: r, state: st, outputDir: artifacts,
		logger: r.logger.With("step_id", id)}
	return env, cfg, nil
}

// connectionless families run without a connection unless the step names one.
var connectionless = map[string]bool{"duckdb": true, "filesystem": true}

func (r *run) resolveConnection(st *stepState, cfg map[string]any, ref string) error {
	id := st.step.ID
	family, _, _ := strings.Cut(st.step.Component, ".")
	alias := ""
	if ref != "" {
		f, a, err := connections.ParseReference(ref)
		if err != nil {
			return &Error{Kind: KindStep, Step: id, Code: "config.connection", Msg: err.Error(),
				Err: err}
		}
		if f != family {
			return &Error{Kind: KindStep, Step: id, Code: "config.connection", Msg: fmt.Sprintf(
				"Connection family mismatch: step uses %s, ref is %s", family, f)}
		}
		alias = a
	} else if connectionless[family] {
		return nil
	}

	r.connsOnce.Do(func() {
		r.conns, r.connsErr = connections.Load(r.opts.Project.ConnectionsFile())
	})
	if ref == "" && r.connsErr == nil && len(r.conns.Aliases[family]) == 0 {
		// A step that names no connection, of a family with none configured, runs on
		// its own config (an inline GraphQL endpoint, say).
		r.event("connection_resolve_skipped", map[string]any{"step_id": id, "family": family,
			"reason": "no connection configured for the family"})
		return nil
	}

	shown := alias
	if shown == "" {
		shown = "(default)"
	}
	r.event("connection_resolve_start", map[string]any{"step_id": id, "family": family,
		"alias": shown})
	var resolved map[string]any
	err := r.connsErr
	if err == nil {
		resolved, _, err = r.conns.Resolve(family, alias)
	}
	if err != nil {
		r.event("connection_resolve_complete", map[string]any{"step_id": id, "family": family,
			"alias": shown, "ok": false, "error": err.Error()})
		return &Error{Kind: KindStep, Step: id, Code: "connection.resolve", Msg: err.Error(),
			Err: err}
	}
	r.redactor.AddFromMap(resolved)
	cfg["resolved_connection"] = resolved
	r.event("connection_resolve_complete", map[string]any{"step_id": id, "family": family,
		"alias": shown, "ok": true})
	return nil
}

// collectInputs takes this step's consumer of every upstream output, keyed df_<id>;
// a sole upstream is also input_df (the same stream, so a driver reads it once).
func (r *run) collectInputs(st *stepState) []drivers.Input {
	var inputs []drivers.Input
	for _, need := range st.step.Needs {
		up := r.states[need]
		if up.output == nil {
			continue
		}
		var stream drivers.Stream
		for i, consumerID := range r.consumersOf[need] {
			if consumerID == st.step.ID {
				stream = up.output.consumers[i]
				break
			}
		}
		inputs = append(inputs, drivers.Input{Key: r.keys[need], FromStep: need, Rows: stream})
		r.event("inputs_resolved", map[string]any{"step_id": st.step.ID, "from_step": need,
			"key": r.keys[need], "rows": nil, "from_memory": true})
	}
	if len(inputs) == 1 {
		sole := inputs[0]
		inputs = append(inputs, drivers.Input{Key: "input_df", FromStep: sole.FromStep,
			Rows: sole.Rows})
	}
	return inputs
}

func (r *run) stepComplete(st *stepState, start time.Time) {
	d := time.Since(start)
	st.mu.Lock()
	st.result.Status = "success"
	st.result.Duration = d
	st.result.DurationMS = d.Milliseconds()
	st.result.RowsRead = st.metrics["rows_read"]
	st.result.RowsWritten = st.metrics["rows_written"]
	rows := st.result.RowsWritten
	if st.output != nil {
		rows = st.output.rows.Load()
	} else if rows == 0 {
		rows = st.result.RowsRead
	}
	st.result.Rows = rows
	st.mu.Unlock()

	r.metric("step_duration_ms", d.Milliseconds(), "ms", st.step.ID)
	r.metric("rows_processed", rows, "rows", st.step.ID)
	r.event("step_complete", map[string]any{"step_id": st.step.ID,
		"driver": st.step.Component, "duration": round2(d.Seconds()),
		"duration_ms": d.Milliseconds(), "rows_processed": rows})
	r.logger.Info("step complete", "step_id", st.step.ID, "rows", rows,
		"duration_ms", d.Milliseconds())
	r.progress(st.step.ID, "ok", rows, d, "")
}

// stepFailed reports a step's own failure. Errors that only say the run was cancelled,
// or that come from an upstream, are that other step's failure, not this one's.
func (r *run) stepFailed(st *stepState, start time.Time, err error) {
	var up *upstreamError
	if errors.As(err, &up) && up.step != st.step.ID {
		st.result.Status = "cancelled"
		return
	}
	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) &&
		r.failed() {
		st.result.Status = "cancelled"
		return
	}
	if r.interrupted != nil && r.interrupted() {
		// The run was interrupted (Ctrl-C): whatever error a driver saw on the way out,
		// such as DuckDB's own interrupt message, is the interruption, not the step's fault.
		st.result.Status = "cancelled"
		return
	}
	st.failed.Store(true)
	e := stepError(st.step, err)
	d := time.Since(start)
	msg := r.redactor.Redact(e.Msg)
	e.Msg = msg
	st.mu.Lock()
	st.result.Status = "failed"
	st.result.Duration = d
	st.result.DurationMS = d.Milliseconds()
	st.result.Error = msg
	st.result.ErrorCode = e.Code
	st.mu.Unlock()

	r.event("step_error", map[string]any{"step_id": st.step.ID, "driver": st.step.Component,
		"error": msg, "error_code": e.Code})
	r.logger.Error("step failed", "step_id", st.step.ID, "error", msg)
	r.progress(st.step.ID, "failed", 0, d, msg)
	r.fail(e)
}

// stepError classifies a failure as <category>.<code>.
func stepError(step manifest.Step, err error) *Error {
	var re *Error
	if errors.As(err, &re) {
		if re.Step == "" {
			re.Step = step.ID
		}
		return re
	}
	category := "runtime"
	switch {
	case strings.HasSuffix(step.Component, "extractor"):
		category = "extract"
	case strings.HasSuffix(step.Component, "writer"):
		category = "write"
	case strings.HasSuffix(step.Component, "processor"):
		category = "transform"
	}
	code := "failed"
	var de *drivers.Error
	if errors.As(err, &de) {
		switch de.Kind {
		case drivers.KindConfig:
			category, code = "config", "invalid"
		case drivers.KindConnection:
			category, code = "connection", "failed"
			if de.Category != "" {
				code = de.Category
			}
		default:
			code = de.Kind
		}
		return &Error{Kind: KindStep, Step: step.ID, Code: category + "." + code, Msg: de.Msg,
			Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	return &Error{Kind: KindStep, Step: step.ID, Code: category + "." + code,
		Msg: secrets.RedactText(err.Error()), Err: err}
}

func (r *run) progress(step, status string, rows int64, d time.Duration, msg string) {
	if r.opts.Progress == nil {
		return
	}
	line := fmt.Sprintf("  %-6s %-28s %10d rows  %6.2fs", status, step, rows, d.Seconds())
	if msg != "" {
		line += "  " + msg
	}
	r.progressMu.Lock()
	defer r.progressMu.Unlock()
	fmt.Fprintln(r.opts.Progress, line)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// finish writes the closing records: cleanup, run outcome, status.json, the index, the
// AIOP summary and run_end.
func (r *run) finish() (*Result, error) {
	res := &Result{RunID: r.runID, RunDir: r.runDir, StepsTotal: len(r.steps),
		PipelineSlug: r.slug, Profile: r.profile, ManifestPath: r.opts.ManifestPath,
		ManifestHash: r.manifest.Meta.ManifestHash, StartedAt: r.started,
		ManifestShort: r.manifest.Meta.ManifestShort, Status: "success"}

	var readTotal, writtenTotal int64
	hasWriter := false
	for _, s := range r.steps {
		st := r.states[s.ID]
		st.mu.Lock()
		sr := st.result
		st.mu.Unlock()
		res.Steps = append(res.Steps, sr)
		if sr.Status == "success" {
			res.StepsCompleted++
		}
		readTotal += sr.RowsRead
		if _, ok := st.metrics["rows_written"]; ok && st.output == nil {
			hasWriter = true
			writtenTotal += sr.RowsWritten
		}
	}
	res.TotalRows = readTotal
	if hasWriter {
		res.TotalRows = writtenTotal
	}
	r.metric("steps_completed", res.StepsCompleted, "", "")
	r.event("cleanup_complete", map[string]any{"steps_executed": res.StepsCompleted,
		"total_rows": res.TotalRows})

	r.mu.Lock()
	failure := r.failure
	r.mu.Unlock()
	if failure != nil {
		res.Status = "failed"
		res.Err = failure
		res.Phase = "execute"
		r.event("run_error", map[string]any{"phase": "execute", "error": failure.Msg,
			"step_id": failure.Step, "error_code": failure.Code})
	} else {
		r.event("run_complete", map[string]any{"steps_completed": res.StepsCompleted,
			"total_rows": res.TotalRows})
	}
	r.metric("execution_duration", round2(r.execTime.Seconds()), "seconds", "")
	res.Duration = time.Since(r.started)
	r.metric("total_duration", round2(res.Duration.Seconds()), "seconds", "")
	r.endedAt = time.Now().UTC()

	if err := r.writeStatus(res); err != nil {
		r.logger.Error("could not write status.json", "error", err)
		r.event("status_write_error", map[string]any{"error": err.Error()})
		res.Warnings = append(res.Warnings, r.redactor.Redact("could not write status.json: "+
			err.Error()))
	}
	if r.opts.OutDir != "" {
		if err := copyTree(filepath.Join(r.runDir, "artifacts"), r.opts.OutDir); err != nil {
			r.logger.Error("could not copy artifacts to --out", "error", err)
			r.event("artifacts_copy_error", map[string]any{"error": err.Error()})
			res.Warnings = append(res.Warnings, r.redactor.Redact(
				"could not copy artifacts to --out: "+err.Error()))
		}
	}

	if err := r.appendIndex(res); err != nil {
		r.logger.Error("could not update the run index", "error", err)
		r.event("run_index_error", map[string]any{"error": err.Error()})
		res.Warnings = append(res.Warnings, r.redactor.Redact("could not update the run index: "+
			err.Error()))
	} else {
		r.event("run_index_updated", map[string]any{"run_id": r.runID})
	}
	if path, err := r.exportAIOP(res); err != nil {
		r.logger.Warn("could not write the AIOP summary", "error", err)
		r.event("aiop_export_error", map[string]any{"error": err.Error()})
	} else if path != "" {
		res.AIOPPath = path
		r.event("aiop_export_complete", map[string]any{"path": path})
	}
	r.event("run_end", map[string]any{"status": res.Status,
		"duration_seconds": round2(time.Since(r.started).Seconds())})
	r.logger.Info("run ended", "status", res.Status)

	if res.Err != nil {
		return res, res.Err
	}
	return res, nil
}

// Status is status.json of a run directory.
type Status struct {
	ExitCode       int          `json:"exit_code"`
	StepsCompleted int          `json:"steps_completed"`
	StepsTotal     int          `json:"steps_total"`
	OK             bool         `json:"ok"`
	Reason         string       `json:"reason"`
	RunID          string       `json:"run_id"`
	Pipeline       string       `json:"pipeline"`
	Profile        string       `json:"profile"`
	ManifestHash   string       `json:"manifest_hash"`
	StartedAt      string       `json:"started_at"`
	FinishedAt     string       `json:"finished_at"`
	DurationMS     int64        `json:"duration_ms"`
	TotalRows      int64        `json:"total_rows"`
	Steps          []StepResult `json:"steps"`
}

func (r *run) writeStatus(res *Result) error {
	st := Status{StepsCompleted: res.StepsCompleted, StepsTotal: res.StepsTotal,
		OK: res.Err == nil, RunID: r.runID, Pipeline: r.slug, Profile: r.profile,
		ManifestHash: res.ManifestHash, StartedAt: isoTime(r.started),
		FinishedAt: isoTime(r.endedAt), DurationMS: res.Duration.Milliseconds(),
		TotalRows: res.TotalRows, Steps: res.Steps}
	if res.Err != nil {
		st.ExitCode = 1
		if res.Err.Code == "runtime.interrupted" {
			st.ExitCode = 130 // what the osiris process exits with
		}
		st.Reason = r.redactor.Redact(res.Err.Msg)
	}
	return writeJSONFile(filepath.Join(r.runDir, "status.json"), st)
}
