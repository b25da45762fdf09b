package runner

import (
	"log/slog"
	"time"
)

// stepEnv is a driver's window onto the run. Every metric and event it reports is tagged
// with the step and redacted by the run's recorder.
type stepEnv struct {
	run       *run
	state     *stepState
	outputDir string
	logger    *slog.Logger
}

// OutputDir is <run dir>/artifacts/<step id>.
func (e *stepEnv) OutputDir() string { return e.outputDir }

// BasePath is the project's base path, for relative file paths.
func (e *stepEnv) BasePath() string { return e.run.opts.Project.Base }

// TempDir is the run's scratch directory, removed when the run ends.
func (e *stepEnv) TempDir() string { return e.run.tempDir }

// Metric records a step-tagged metric; integer row counts are also kept for the step's
// result.
func (e *stepEnv) Metric(name string, value any, unit string) {
	if n, ok := toInt64(value); ok {
		e.state.mu.Lock()
		e.state.metrics[name] = n
		e.state.mu.Unlock()
	}
	e.run.rec.metric(time.Now(), name, value, unit, e.state.step.ID)
}

// Event records an event; step_id is added when the driver left it out.
func (e *stepEnv) Event(name string, fields map[string]any) {
	out := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		out[k] = v
	}
	if _, ok := out["step_id"]; !ok {
		out["step_id"] = e.state.step.ID
	}
	e.run.rec.event(time.Now(), name, out)
}

// Logger logs to the run's osiris.log, tagged with the step.
func (e *stepEnv) Logger() *slog.Logger { return e.logger }

func toInt64(v any) (int64, bool) {
	switch t := v.(type) {
	case int:
		return int64(t), true
	case int64:
		return t, true
	case int32:
		return int64(t), true
	case uint64:
		return int64(t), true
	}
	return 0, false
}
