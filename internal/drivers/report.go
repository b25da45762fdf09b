package drivers

import "time"

// ReportExtracted records the end of a successful extraction the way every extractor
// reports it, so run summaries read the same whatever the source: the rows_read and
// duration_ms metrics, then one extraction.complete event.
func ReportExtracted(env StepEnv, stepID string, rowsRead int64, started time.Time) {
	durationMS := time.Since(started).Milliseconds()
	env.Metric("rows_read", rowsRead, "rows")
	env.Metric("duration_ms", durationMS, "ms")
	env.Event("extraction.complete", map[string]any{"step_id": stepID,
		"rows": rowsRead, "duration_ms": durationMS})
}
