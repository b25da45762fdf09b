package mysql

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// prefetchDepth is how many batches the extractor reads ahead of its consumer.
const prefetchDepth = 2

// Extractor is the mysql.extractor step driver.
type Extractor struct{}

// mysqlNoLimit is the LIMIT MySQL needs before an OFFSET: the largest it takes.
const mysqlNoLimit = "18446744073709551615"

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
	ec, err := sqlcommon.ReadExtraction(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}

	started := time.Now()
	env.Event("extraction.start", map[string]any{"step_id": req.StepID, "table": ec.Table,
		"batch_size": ec.BatchSize})
	db, err := conn.open(ctx, req.StepID, log)
	if err != nil {
		return drivers.Result{}, extractFailed(env, err)
	}

	var decls map[string]columnDecl
	if ec.Table != "" && ec.Query == "" {
		decls, err = columnDecls(ctx, db, conn.database, ec.Table)
		if err != nil {
			_ = db.Close()
			return drivers.Result{}, extractFailed(env, conn.queryError(req.StepID, "query", err))
		}
	}

	query := ec.SelectSQL(quoteIdent(ec.Table), quoteIdent, mysqlNoLimit)
	if conn.echo {
		log.Debug("mysql query", "sql", query)
	}
	stream, err := startStream(ctx, req, db, conn, query, decls, ec.BatchSize, started)
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

// zeroDates counts, per column, the zero dates ('0000-00-00') read as null, and the row
// where each column had its first.
type zeroDates struct {
	counts map[string]int64
	first  map[string]int64
}

func (z *zeroDates) note(column string, row int64) {
	if z.counts[column] == 0 {
		z.first[column] = row
	}
	z.counts[column]++
}

// newRowReader plans each result column from its wire type and, when the query read a
// table, its declared type (decls), and reads the rows into typed batches. A zero date
// becomes null; at the end of the read each column that had any gets a warning.
func newRowReader(env drivers.StepEnv, step string, rows *sql.Rows,
	types []*sql.ColumnType, decls map[string]columnDecl, batchSize int, started time.Time,
	queryError func(error) error) (*sqlcommon.RowReader, []drivers.Column) {
	r := &sqlcommon.RowReader{Env: env, StepID: step, Rows: rows, BatchSize: batchSize,
		Started: started, QueryError: queryError}
	zeros := &zeroDates{counts: map[string]int64{}, first: map[string]int64{}}
	cols := make([]drivers.Column, len(types))
	for i, ct := range types {
		var decl *columnDecl
		if d, ok := decls[ct.Name()]; ok {
			decl = &d
		}
		plan := planColumn(ct.Name(), ct.DatabaseTypeName(), decl)
		cols[i] = plan.column
		r.Convert = append(r.Convert, func(v any) any {
			out, zero := plan.convert(v)
			if zero {
				zeros.note(plan.column.Name, r.RowsRead())
			}
			return out
		})
	}
	r.BeforeComplete = func() {
		for column, count := range zeros.counts {
			env.Event("extraction.warning", map[string]any{"step_id": step,
				"reason": "zero_date", "column": column, "rows": count,
				"first_row": zeros.first[column]})
			env.Logger().Warn("MySQL zero dates read as null", "column", column, "rows", count,
				"first_row", zeros.first[column])
		}
	}
	return r, cols
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

	r, cols := newRowReader(req.Env, req.StepID, rows, types, decls, batchSize, started,
		func(err error) error { return conn.queryError(req.StepID, "query", err) })
	release := sqlcommon.ReleaseQuery(rows, cancel, db)
	return sqlcommon.StartPrefetch(queryCtx, cols, prefetchDepth, r.ReadBatch, release), nil
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
