package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

// extractConfig is a step's extraction settings: the shared ones and the schema of the
// table (public unless the step names one).
type extractConfig struct {
	sqlcommon.Extraction
	schema string
}

func readExtractConfig(step string, cfg map[string]any) (extractConfig, error) {
	ec := extractConfig{schema: sqlcommon.String(cfg, "schema")}
	if ec.schema == "" {
		ec.schema = "public"
	}
	var err error
	ec.Extraction, err = sqlcommon.ReadExtraction(step, cfg)
	return ec, err
}

func (ec extractConfig) sql() string {
	return ec.SelectSQL(qualified(ec.schema, ec.Table), pq.QuoteIdentifier, "")
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
	env.Event("extraction.start", map[string]any{"step_id": req.StepID, "table": ec.Table,
		"schema": ec.schema, "batch_size": ec.BatchSize})
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
	r, cols := newRowReader(env, req.StepID, rows, types, ec.BatchSize, started,
		func(err error) error { return conn.queryError(req.StepID, "query", err) })
	return drivers.Result{Rows: sqlcommon.StartPrefetch(queryCtx, cols, prefetchDepth,
		r.ReadBatch, sqlcommon.ReleaseQuery(rows, cancel, db))}, nil
}

// newRowReader plans each result column from its Postgres type and reads the rows into
// typed batches.
func newRowReader(env drivers.StepEnv, step string, rows *sql.Rows, types []*sql.ColumnType,
	batchSize int, started time.Time, queryError func(error) error) (*sqlcommon.RowReader,
	[]drivers.Column) {
	r := &sqlcommon.RowReader{Env: env, StepID: step, Rows: rows, BatchSize: batchSize,
		Started: started, QueryError: queryError}
	cols := make([]drivers.Column, len(types))
	for i, ct := range types {
		plan := planColumn(ct)
		cols[i] = plan.column
		r.Convert = append(r.Convert, plan.convert)
	}
	return r, cols
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
