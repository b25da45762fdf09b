package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// prefetchDepth is how many batches the extractor reads ahead of its consumer.
const prefetchDepth = 2

// Driver serves the four components. family decides the connection conventions.
type Driver struct {
	family string
	writer bool
}

func init() {
	for _, d := range []Driver{{familyPostgres, false}, {familyPostgres, true},
		{familySupabase, false}, {familySupabase, true}} {
		name := d.family + ".extractor"
		if d.writer {
			name = d.family + ".writer"
		}
		drivers.Register(name, func() drivers.Driver { return d })
	}
}

// Run extracts or writes, depending on the component.
func (d Driver) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	if d.writer {
		return drivers.Result{}, d.write(ctx, req)
	}
	return d.extract(ctx, req)
}

type extractConfig struct {
	schema    string
	table     string
	query     string
	columns   []string
	limit     int
	offset    int
	batchSize int
}

func readExtractConfig(step string, cfg map[string]any) (extractConfig, error) {
	ec := extractConfig{
		schema:  sqlcommon.String(cfg, "schema"),
		table:   sqlcommon.String(cfg, "table"),
		query:   strings.TrimSpace(sqlcommon.String(cfg, "query")),
		columns: sqlcommon.StringList(cfg, "columns"),
	}
	if ec.schema == "" {
		ec.schema = "public"
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

func (ec extractConfig) sql() string {
	if ec.query != "" {
		return ec.query
	}
	cols := "*"
	if len(ec.columns) > 0 {
		quoted := make([]string, len(ec.columns))
		for i, c := range ec.columns {
			quoted[i] = pq.QuoteIdentifier(c)
		}
		cols = strings.Join(quoted, ", ")
	}
	q := "SELECT " + cols + " FROM " + qualified(ec.schema, ec.table)
	if ec.limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", ec.limit)
	}
	if ec.offset > 0 {
		q += fmt.Sprintf(" OFFSET %d", ec.offset)
	}
	return q
}

func qualified(schema, table string) string {
	return pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(table)
}

func (d Driver) extract(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	env := req.Env
	conn, err := readConn(req.StepID, d.family, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}
	ec, err := readExtractConfig(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}

	started := time.Now()
	env.Event("extraction.start", map[string]any{"step_id": req.StepID, "table": ec.table,
		"schema": ec.schema, "batch_size": ec.batchSize})
	db, err := conn.open(ctx, req.StepID, env.Logger(), 1)
	if err != nil {
		env.Event("extraction.error", map[string]any{"error": err.Error()})
		return drivers.Result{}, err
	}

	queryCtx, cancel := context.WithCancel(ctx)
	rows, err := db.QueryContext(queryCtx, ec.sql())
	if err != nil {
		cancel()
		_ = db.Close()
		safe := conn.queryError(req.StepID, "query", err)
		env.Event("extraction.error", map[string]any{"error": safe.Error()})
		return drivers.Result{}, safe
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		_ = rows.Close()
		cancel()
		_ = db.Close()
		return drivers.Result{}, conn.queryError(req.StepID, "query", err)
	}
	r := &rowReader{req: req, conn: conn, rows: rows, batchSize: ec.batchSize, started: started}
	cols := make([]drivers.Column, len(types))
	for i, ct := range types {
		r.plans = append(r.plans, planColumn(ct))
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
	return drivers.Result{Rows: sqlcommon.StartPrefetch(queryCtx, cols, prefetchDepth,
		r.readBatch, release)}, nil
}

type columnPlan struct {
	column  drivers.Column
	convert func(any) any
}

// planColumn maps a Postgres type to a stream type.
func planColumn(ct *sql.ColumnType) columnPlan {
	name := strings.ToUpper(ct.DatabaseTypeName())
	source := strings.ToLower(name)
	if p, s, ok := ct.DecimalSize(); ok && name == "NUMERIC" && p > 0 {
		source = fmt.Sprintf("numeric(%d,%d)", p, s)
	}
	plan := func(typ string, f func(any) any) columnPlan {
		return columnPlan{column: drivers.Column{Name: ct.Name(), Type: typ, SourceType: source},
			convert: f}
	}
	switch name {
	case "INT2", "INT4", "INT8", "OID":
		return plan(drivers.TypeInt, same)
	case "NUMERIC":
		return plan(drivers.TypeDecimal, toDecimal)
	case "FLOAT4", "FLOAT8":
		return plan(drivers.TypeFloat, toFloat)
	case "BOOL":
		return plan(drivers.TypeBool, same)
	case "DATE":
		return plan(drivers.TypeDate, toUTC)
	case "TIMESTAMP", "TIMESTAMPTZ":
		return plan(drivers.TypeTimestamp, toUTC)
	case "TIME", "TIMETZ":
		return plan(drivers.TypeTime, toText)
	case "JSON", "JSONB":
		return plan(drivers.TypeJSON, toJSON)
	case "BYTEA":
		return plan(drivers.TypeBytes, same)
	}
	return plan(drivers.TypeString, toText)
}

func same(v any) any { return v }

func toText(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

func toDecimal(v any) any {
	switch t := v.(type) {
	case []byte:
		return drivers.Decimal(t)
	case string:
		return drivers.Decimal(t)
	}
	return v
}

func toFloat(v any) any {
	if f, ok := v.(float64); ok && math.IsNaN(f) {
		return nil
	}
	return v
}

func toUTC(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	return v
}

func toJSON(v any) any {
	switch t := v.(type) {
	case []byte:
		return json.RawMessage(t)
	case string:
		return json.RawMessage(t)
	}
	return v
}

type rowReader struct {
	req       drivers.Request
	conn      connConfig
	rows      *sql.Rows
	plans     []columnPlan
	batchSize int
	started   time.Time
	rowsRead  int64
	done      bool
}

// readBatch reads up to batchSize rows; it runs on the prefetch goroutine only.
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
			if v != nil {
				row[i] = r.plans[i].convert(v)
			}
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
	durationMS := time.Since(r.started).Milliseconds()
	r.req.Env.Metric("rows_read", r.rowsRead, "rows")
	r.req.Env.Metric("duration_ms", durationMS, "ms")
	r.req.Env.Event("extraction.complete", map[string]any{"step_id": r.req.StepID,
		"rows": r.rowsRead, "duration_ms": durationMS})
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

func (r *rowReader) fail(err error) error {
	r.done = true
	safe := r.conn.queryError(r.req.StepID, "query", err)
	r.req.Env.Event("extraction.error", map[string]any{"error": safe.Error()})
	return safe
}
