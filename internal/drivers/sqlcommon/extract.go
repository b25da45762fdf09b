package sqlcommon

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// Extraction is a step's extraction settings beyond its connection: a table (with
// optional columns, limit and offset) or a query of the user's, read in batches.
type Extraction struct {
	Table     string
	Query     string
	Columns   []string
	Limit     int
	Offset    int
	BatchSize int
}

// ReadExtraction reads and checks the extraction keys of a step.
func ReadExtraction(step string, cfg map[string]any) (Extraction, error) {
	ex := Extraction{
		Table:   String(cfg, "table"),
		Query:   strings.TrimSpace(String(cfg, "query")),
		Columns: StringList(cfg, "columns"),
	}
	if ex.Table == "" && ex.Query == "" {
		return ex, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: 'table' or 'query' is required", step)
	}
	var err error
	if ex.Limit, err = Int(step, cfg, "limit", 0); err != nil {
		return ex, err
	}
	if ex.Offset, err = Int(step, cfg, "offset", 0); err != nil {
		return ex, err
	}
	if ex.BatchSize, err = Int(step, cfg, "batch_size", drivers.DefaultBatchSize); err != nil {
		return ex, err
	}
	if ex.BatchSize < 1 || ex.Limit < 0 || ex.Offset < 0 {
		return ex, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: batch_size must be positive and limit, offset not negative", step)
	}
	return ex, nil
}

// SelectSQL is the statement the extraction runs: the user's query as given, or a SELECT
// of the columns (each put through quote) from from, the quoted table. noLimit is the
// LIMIT a dialect needs before an OFFSET when the step sets none ("" where OFFSET may
// stand alone).
func (ex Extraction) SelectSQL(from string, quote func(string) string, noLimit string) string {
	if ex.Query != "" {
		return ex.Query
	}
	cols := "*"
	if len(ex.Columns) > 0 {
		quoted := make([]string, len(ex.Columns))
		for i, c := range ex.Columns {
			quoted[i] = quote(c)
		}
		cols = strings.Join(quoted, ", ")
	}
	q := "SELECT " + cols + " FROM " + from
	switch {
	case ex.Limit > 0:
		q += fmt.Sprintf(" LIMIT %d", ex.Limit)
	case ex.Offset > 0 && noLimit != "":
		q += " LIMIT " + noLimit
	}
	if ex.Offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", ex.Offset)
	}
	return q
}

// ReleaseQuery returns the release of a running extraction: it closes the rows, cancels
// the query's context and closes the pool, in that order, and reports the first failure.
func ReleaseQuery(rows *sql.Rows, cancel context.CancelFunc, db *sql.DB) func() error {
	return func() error {
		rowsErr := rows.Close()
		cancel()
		dbErr := db.Close()
		if rowsErr != nil {
			return rowsErr
		}
		return dbErr
	}
}

// RowReader reads a query's rows in batches, converting each non-null value by its
// column's function, and reports what every extractor reports: progress after each full
// batch, then rows_read, duration_ms and extraction.complete at the end, or
// extraction.error. It is not safe for concurrent use: it runs on the prefetch goroutine.
type RowReader struct {
	Env       drivers.StepEnv
	StepID    string
	Rows      *sql.Rows
	Convert   []func(any) any // one a column, in result order
	BatchSize int
	Started   time.Time

	// QueryError words a failed read for the user; when nil the error is returned as
	// it is (a caller that words it itself).
	QueryError func(error) error
	// BeforeComplete, when set, runs once at the end of a successful read, before the
	// completion metrics and event, for a driver's own end-of-read reports.
	BeforeComplete func()

	rowsRead int64
	done     bool
}

// RowsRead is how many rows have been scanned so far, the current one included.
func (r *RowReader) RowsRead() int64 { return r.rowsRead }

// ReadBatch reads up to BatchSize rows. It returns io.EOF after the last batch.
func (r *RowReader) ReadBatch(ctx context.Context) ([][]any, error) {
	if r.done {
		return nil, io.EOF
	}
	width := len(r.Convert)
	batch := make([][]any, 0, min(r.BatchSize, 1024))
	dest := make([]any, width)
	ptrs := make([]any, width)
	for i := range dest {
		ptrs[i] = &dest[i]
	}

	for len(batch) < r.BatchSize && r.Rows.Next() {
		if err := r.Rows.Scan(ptrs...); err != nil {
			return nil, r.fail(err)
		}
		r.rowsRead++
		row := make([]any, width)
		for i, v := range dest {
			if v != nil {
				row[i] = r.Convert[i](v)
			}
		}
		batch = append(batch, row)
	}
	if err := r.Rows.Err(); err != nil {
		return nil, r.fail(err)
	}
	if len(batch) == r.BatchSize {
		r.Env.Event("extraction.progress", map[string]any{"rows_read": r.rowsRead})
		return batch, nil
	}

	r.done = true
	r.finish()
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

// finish reports the end of a successful extraction.
func (r *RowReader) finish() {
	if r.BeforeComplete != nil {
		r.BeforeComplete()
	}
	drivers.ReportExtracted(r.Env, r.StepID, r.rowsRead, r.Started)
}

func (r *RowReader) fail(err error) error {
	r.done = true
	safe := err
	if r.QueryError != nil {
		safe = r.QueryError(err)
	}
	r.Env.Event("extraction.error", map[string]any{"error": safe.Error()})
	return safe
}

// SampleRows reads one batch (r.BatchSize rows at most) with r and keys each row by its
// column's name, for discovery's sample data. It closes r.Rows.
func SampleRows(ctx context.Context, r *RowReader, cols []drivers.Column) ([]map[string]any,
	error) {
	batch, err := r.ReadBatch(ctx)
	_ = r.Rows.Close()
	if err != nil && err != io.EOF {
		return nil, err
	}
	out := make([]map[string]any, 0, len(batch))
	for _, row := range batch {
		m := make(map[string]any, len(row))
		for i, v := range row {
			m[cols[i].Name] = v
		}
		out = append(out, m)
	}
	return out, nil
}

// NopEnv is a StepEnv that swallows every report, for reads that are not pipeline steps
// (discovery's samples).
type NopEnv struct{}

// OutputDir is empty: nothing is written.
func (NopEnv) OutputDir() string { return "" }

// BasePath is empty: nothing is written.
func (NopEnv) BasePath() string { return "" }

// Metric drops the metric.
func (NopEnv) Metric(string, any, string) {}

// Event drops the event.
func (NopEnv) Event(string, map[string]any) {}

// Logger drops the log lines.
func (NopEnv) Logger() *slog.Logger { return discardLogger }

var discardLogger = slog.New(slog.DiscardHandler)
