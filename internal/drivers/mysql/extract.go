package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// prefetchDepth is how many batches the extractor reads ahead of its consumer.
const prefetchDepth = 2

// Extractor is the mysql.extractor step driver.
type Extractor struct{}

// extractConfig is a step's extraction settings beyond its connection.
type extractConfig struct {
	table     string
	query     string
	columns   []string
	limit     int
	offset    int
	batchSize int
}

func readExtractConfig(step string, cfg map[string]any) (extractConfig, error) {
	ec := extractConfig{
		table:   sqlcommon.String(cfg, "table"),
		query:   strings.TrimSpace(sqlcommon.String(cfg, "query")),
		columns: sqlcommon.StringList(cfg, "columns"),
	}
	if ec.table == "" && ec.query == "" {
		return ec, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: 'table' or 'query' is required", step)
	}
	var err error
	if ec.limit, err = sqlcommon.Int(step, cfg, "limit", 0); err != nil {
		return ec, err
	}
	if ec.offset, err = sqlcommon.Int(step, cfg, "offset", 0); err != nil {
		return ec, err
	}
	if ec.batchSize, err = sqlcommon.Int(step, cfg, "batch_size", drivers.DefaultBatchSize); err != nil {
		return ec, err
	}
	if ec.batchSize < 1 || ec.limit < 0 || ec.offset < 0 {
		return ec, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: batch_size must be positive and limit, offset not negative", step)
	}
	return ec, nil
}

// sql builds the statement a table extraction runs.
func (ec extractConfig) sql() string {
	if ec.query != "" {
		return ec.query
	}
	cols := "*"
	if len(ec.columns) > 0 {
		quoted := make([]string, len(ec.columns))
		for i, c := range ec.columns {
			quoted[i] = quoteIdent(c)
		}
		cols = strings.Join(quoted, ", ")
	}
	q := "SELECT " + cols + " FROM " + quoteIdent(ec.table)
	switch {
	case ec.limit > 0:
		q += fmt.Sprintf(" LIMIT %d", ec.limit)
	case ec.offset > 0:
		q += " LIMIT 18446744073709551615"
	}
	if ec.offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", ec.offset)
	}
	return q
}

// quoteIdent back-ticks a MySQL identifier; a back-tick inside it is doubled, so any name
// (spaces, $, quotes) is safe to put into SQL.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Run opens the connection, starts the query and returns a stream that reads it in
// batches. The stream owns the connection: closing it stops the query and closes it.
func (Extractor) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	env := req.Env
	log := env.Logger()
	conn, err := readConn(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}
	ec, err := readExtractConfig(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}

	started := time.Now()
	env.Event("extraction.start", map[string]any{"step_id": req.StepID, "table": ec.table,
		"batch_size": ec.batchSize})
	db, err := conn.open(ctx, req.StepID, log)
	if err != nil {
		return drivers.Result{}, extractFailed(env, err)
	}

	var decls map[string]columnDecl
	if ec.table != "" && ec.query == "" {
		decls, err = columnDecls(ctx, db, conn.database, ec.table)
		if err != nil {
			_ = db.Close()
			return drivers.Result{}, extractFailed(env, conn.queryError(req.StepID, "query", err))
		}
	}

	query := ec.sql()
	if conn.echo {
		log.Debug("mysql query", "step_id", req.StepID, "sql", query)
	}
	stream, err := startStream(ctx, req, db, conn, query, decls, ec.batchSize, started)
	if err != nil {
		_ = db.Close()
		return drivers.Result{}, extractFailed(env, err)
	}
	return drivers.Result{Rows: stream}, nil
}

func extractFailed(env drivers.StepEnv, err error) error {
	env.Event("extraction.error", map[string]any{"error": err.Error()})
	return err
}

// rowReader reads one query's rows into typed batches and reports progress.
type rowReader struct {
	req       drivers.Request
	conn      connConfig
	rows      *sql.Rows
	plans     []columnPlan
	batchSize int
	started   time.Time

	rowsRead  int64
	zeroDates map[string]int64
	firstZero map[string]int64
	done      bool
}

// startStream runs the query on the queryCtx that the returned stream cancels on Close.
func startStream(ctx context.Context, req drivers.Request, db *sql.DB, conn connConfig,
	query string, decls map[string]columnDecl, batchSize int,
	started time.Time) (drivers.Stream, error) {
	queryCtx, cancel := context.WithCancel(ctx)
	rows, err := db.QueryContext(queryCtx, query)
	if err != nil {
		cancel()
		return nil, conn.queryError(req.StepID, "query", err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		_ = rows.Close()
		cancel()
		return nil, conn.queryError(req.StepID, "query", err)
	}

	r := &rowReader{req: req, conn: conn, rows: rows, batchSize: batchSize, started: started,
		zeroDates: map[string]int64{}, firstZero: map[string]int64{}}
	cols := make([]drivers.Column, len(types))
	for i, ct := range types {
		var decl *columnDecl
		if d, ok := decls[ct.Name()]; ok {
			decl = &d
		}
		r.plans = append(r.plans, planColumn(ct.Name(), ct.DatabaseTypeName(), decl))
		cols[i] = r.plans[i].column
	}

	release := func() error {
		rowsErr := rows.Close()
		cancel()
		dbErr := db.Close()
		if rowsErr != nil {
			return rowsErr
		}
		return dbErr
	}
	return sqlcommon.StartPrefetch(queryCtx, cols, prefetchDepth, r.readBatch, release), nil
}

// readBatch reads up to batchSize rows. It runs on the prefetch goroutine only.
func (r *rowReader) readBatch(ctx context.Context) ([][]any, error) {
	if r.done {
		return nil, io.EOF
	}
	width := len(r.plans)
	batch := make([][]any, 0, min(r.batchSize, 1024))
	dest := make([]any, width)
	ptrs := make([]any, width)
	for i := range dest {
		ptrs[i] = &dest[i]
	}

	for len(batch) < r.batchSize && r.rows.Next() {
		if err := r.rows.Scan(ptrs...); err != nil {
			return nil, r.fail(err)
		}
		r.rowsRead++
		row := make([]any, width)
		for i, v := range dest {
			if v == nil {
				continue
			}
			out, zero := r.plans[i].convert(v)
			if zero {
				r.noteZeroDate(r.plans[i].column.Name)
			}
			row[i] = out
		}
		batch = append(batch, row)
	}
	if err := r.rows.Err(); err != nil {
		return nil, r.fail(err)
	}
	if len(batch) == r.batchSize {
		r.req.Env.Event("extraction.progress", map[string]any{"rows_read": r.rowsRead})
		return batch, nil
	}

	r.done = true
	r.finish()
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

func (r *rowReader) noteZeroDate(column string) {
	if r.zeroDates[column] == 0 {
		r.firstZero[column] = r.rowsRead
	}
	r.zeroDates[column]++
}

// finish reports the end of a successful extraction.
func (r *rowReader) finish() {
	env := r.req.Env
	for column, count := range r.zeroDates {
		env.Event("extraction.warning", map[string]any{"step_id": r.req.StepID,
			"reason": "zero_date", "column": column, "rows": count,
			"first_row": r.firstZero[column]})
		env.Logger().Warn("MySQL zero dates read as null", "step_id", r.req.StepID,
			"column", column, "rows", count, "first_row", r.firstZero[column])
	}
	durationMS := time.Since(r.started).Milliseconds()
	env.Metric("rows_read", r.rowsRead, "rows")
	env.Metric("duration_ms", durationMS, "ms")
	env.Event("extraction.complete", map[string]any{"step_id": r.req.StepID,
		"rows": r.rowsRead, "duration_ms": durationMS})
}

func (r *rowReader) fail(err error) error {
	r.done = true
	safe := r.conn.queryError(r.req.StepID, "query", err)
	r.req.Env.Event("extraction.error", map[string]any{"error": safe.Error()})
	return safe
}

// columnDecls reads the declared types of a table's columns, which tell tinyint(1),
// bit(1) and MariaDB's JSON apart from their wire types. Servers without
// information_schema.CHECK_CONSTRAINTS (MySQL before 8.0.16) get the plain query.
func columnDecls(ctx context.Context, db *sql.DB, database, table string) (
	map[string]columnDecl, error) {
	const withChecks = `SELECT c.COLUMN_NAME, c.COLUMN_TYPE,
		EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k
			WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
			AND k.CHECK_CLAUSE LIKE CONCAT('%json_valid(', CHAR(96), c.COLUMN_NAME, CHAR(96), ')%'))
		FROM information_schema.COLUMNS c
		WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?`
	const plain = `SELECT COLUMN_NAME, COLUMN_TYPE, 0 FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`
	out, err := readDecls(ctx, db, withChecks, database, table)
	if err != nil && ctx.Err() == nil {
		out, err = readDecls(ctx, db, plain, database, table)
	}
	return out, err
}

func readDecls(ctx context.Context, db *sql.DB, query, database, table string) (
	map[string]columnDecl, error) {
	rows, err := db.QueryContext(ctx, query, database, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]columnDecl{}
	for rows.Next() {
		var name, typ string
		var isJSON bool
		if err := rows.Scan(&name, &typ, &isJSON); err != nil {
			return nil, err
		}
		out[name] = columnDecl{columnType: typ, isJSON: isJSON || strings.EqualFold(typ, "json")}
	}
	return out, rows.Err()
}
