package sqlcommon

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ReportWrite runs a writer's load between the reports every SQL writer makes: write.start
// before it, write.error when it fails, and when it succeeds the rows_written and
// duration_ms metrics and write.complete. Each event carries step_id and table; start
// adds write.start's own fields, and run returns the rows written and write.complete's
// own fields.
func ReportWrite(env drivers.StepEnv, step, table string, start map[string]any,
	run func() (written int64, complete map[string]any, err error)) error {
	started := time.Now()
	env.Event("write.start", withStepAndTable(step, table, start))
	written, complete, err := run()
	if err != nil {
		env.Event("write.error", map[string]any{"step_id": step, "error": err.Error()})
		return err
	}

	durationMS := time.Since(started).Milliseconds()
	env.Metric("rows_written", written, "rows")
	env.Metric("duration_ms", durationMS, "ms")
	fields := withStepAndTable(step, table, complete)
	fields["rows_written"] = written
	fields["duration_ms"] = durationMS
	env.Event("write.complete", fields)
	return nil
}

func withStepAndTable(step, table string, extra map[string]any) map[string]any {
	fields := map[string]any{"step_id": step, "table": table}
	for k, v := range extra {
		fields[k] = v
	}
	return fields
}

// Drain reads a stream to its end without writing anything, for a load with no columns
// or one that stops after planning; it returns the stream's error, if any, as it is.
func Drain(ctx context.Context, input drivers.Stream) error {
	for {
		_, err := input.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// CreateTableSQL is the DDL of a writer's create option: each column with the type
// columnType gives it (key: the column is in the primary key, which some servers want
// bounded), then the primary key, then suffix (table options). table is already quoted;
// quote quotes a column name.
func CreateTableSQL(table string, cols []drivers.Column, keys []string,
	quote func(string) string, columnType func(c drivers.Column, key bool) string,
	suffix string) string {
	isKey := map[string]bool{}
	for _, k := range keys {
		isKey[k] = true
	}
	defs := make([]string, 0, len(cols)+1)
	for _, c := range cols {
		defs = append(defs, quote(c.Name)+" "+columnType(c, isKey[c.Name]))
	}
	if len(keys) > 0 {
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = quote(k)
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(quoted, ", ")+")")
	}
	return "CREATE TABLE IF NOT EXISTS " + table + " (\n  " + strings.Join(defs, ",\n  ") +
		"\n)" + suffix
}
