//go:build !noduckdb

// Package duckdb holds the DuckDB drivers. duckdb.processor loads its upstream rows into a
// private DuckDB database on disk, runs the step's SQL and streams the result out, so a
// transform over more rows than fit in memory still runs in bounded memory.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ProcessorComponent is the component name the processor registers under.
const ProcessorComponent = "duckdb.processor"

// Defaults that keep a transform's memory bounded; DuckDB spills to its temp directory
// beyond the limit. A step may raise them with memory_limit and threads.
const (
	defaultMemoryLimit = "64MB"
	defaultThreads     = 2
)

func init() {
	drivers.Register(ProcessorComponent, func() drivers.Driver { return &Processor{} })
}

// Processor runs one SQL query per step over the step's inputs.
type Processor struct{}

// tempDirer is implemented by run environments that give each step a scratch directory
// the run removes afterwards.
type tempDirer interface{ TempDir() string }

// Run loads every input, starts the query and returns its result as a stream. The
// database lives until the stream is closed.
func (p *Processor) Run(ctx context.Context, req drivers.Request) (_ drivers.Result, err error) {
	query, _ := req.Config["query"].(string)
	if strings.TrimSpace(query) == "" {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
			"Step %s: 'query' is required", req.StepID)
	}
	memoryLimit, _ := req.Config["memory_limit"].(string)
	if memoryLimit == "" {
		memoryLimit = defaultMemoryLimit
	}
	threads := int64(defaultThreads)
	if v, ok := asInt(req.Config["threads"]); ok && v > 0 {
		threads = v
	}
	logger := slog.New(slog.DiscardHandler)
	if req.Env != nil {
		logger = req.Env.Logger()
	}
	logger.Debug("duckdb query", "query", firstChars(query, 500))

	scratchParent := ""
	if td, ok := req.Env.(tempDirer); ok {
		scratchParent = td.TempDir()
	}
	scratch, err := os.MkdirTemp(scratchParent, "duckdb-"+safeName(req.StepID)+"-")
	if err != nil {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, err,
			"DuckDB transformation failed: cannot create a scratch directory: %v", err)
	}
	db := &database{scratch: scratch}
	defer func() {
		if err != nil {
			db.close()
		}
	}()

	started := time.Now()
	if req.Env != nil {
		req.Env.Event("transform.start", map[string]any{"step_id": req.StepID,
			"inputs": len(req.Inputs)})
	}
	if err := db.open(ctx, memoryLimit, threads); err != nil {
		return drivers.Result{}, transformError(req.StepID, err)
	}
	rowsRead, err := db.loadInputs(ctx, req.Inputs)
	if err != nil {
		return drivers.Result{}, transformError(req.StepID, err)
	}

	rows, err := db.conn.QueryContext(ctx, query)
	if err != nil {
		return drivers.Result{}, transformError(req.StepID, err)
	}
	db.rows = rows
	cols, err := resultColumns(rows)
	if err != nil {
		return drivers.Result{}, transformError(req.StepID, err)
	}
	return drivers.Result{Rows: &resultStream{db: db, cols: cols, step: req.StepID,
		env: req.Env, started: started, rowsRead: rowsRead}}, nil
}

func transformError(step string, err error) error {
	var de *drivers.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return drivers.Errorf(step, drivers.KindQuery, err, "DuckDB transformation failed: %s",
		cleanMessage(err))
}

// cleanMessage keeps DuckDB's own text (which names tables, columns and SQL positions)
// but drops the Go driver's prefixes.
func cleanMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"database/sql/driver: ", "duckdb: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

// database is one step's DuckDB instance and the files behind it.
type database struct {
	scratch   string
	connector *duckdb.Connector
	sqlDB     *sql.DB
	conn      *sql.Conn
	rows      *sql.Rows
}

func (d *database) open(ctx context.Context, memoryLimit string, threads int64) error {
	dsn := filepath.Join(d.scratch, "step.duckdb") + "?" + fmt.Sprintf(
		"memory_limit=%s&threads=%d&temp_directory=%s&preserve_insertion_order=true",
		urlValue(memoryLimit), threads, urlValue(filepath.Join(d.scratch, "spill")))
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return err
	}
	d.connector = connector
	d.sqlDB = sql.OpenDB(connector)
	d.conn, err = d.sqlDB.Conn(ctx)
	return err
}

func urlValue(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "#", "%23", " ", "%20").
		Replace(s)
}

// loadInputs creates one typed table per distinct upstream and appends its rows. Further
// keys for the same upstream (input_df beside df_<id>) become views of that table.
func (d *database) loadInputs(ctx context.Context, inputs []drivers.Input) (int64, error) {
	loaded := map[string]string{} // upstream step -> table name
	var total int64
	for _, in := range inputs {
		if in.Rows == nil {
			continue
		}
		origin := in.FromStep
		if origin == "" {
			origin = in.Key
		}
		if table, ok := loaded[origin]; ok {
			stmt := fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM %s", quoteIdent(in.Key),
				quoteIdent(table))
			if _, err := d.conn.ExecContext(ctx, stmt); err != nil {
				return total, err
			}
			continue
		}
		n, err := d.loadTable(ctx, in.Key, in.Rows)
		total += n
		if err != nil {
			return total, err
		}
		loaded[origin] = in.Key
	}
	return total, nil
}

func (d *database) loadTable(ctx context.Context, table string, rows drivers.Stream) (int64, error) {
	cols := rows.Columns()
	if len(cols) == 0 {
		// An upstream with no columns (an empty file) still gets a table, so a query
		// naming it fails on columns rather than on a missing table.
		_, err := d.conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE %s AS SELECT 1 AS _empty "+
			"WHERE false", quoteIdent(table)))
		if err != nil {
			return 0, err
		}
		_, err = drainCount(ctx, rows)
		return 0, err
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = quoteIdent(c.Name) + " " + sqlType(c.Type)
	}
	create := fmt.Sprintf("CREATE TABLE %s (%s)", quoteIdent(table), strings.Join(defs, ", "))
	if _, err := d.conn.ExecContext(ctx, create); err != nil {
		return 0, err
	}

	var count int64
	err := d.conn.Raw(func(raw any) error {
		dc, ok := raw.(driver.Conn)
		if !ok {
			return errors.New("unexpected DuckDB connection type")
		}
		appender, err := duckdb.NewAppenderFromConn(dc, "", table)
		if err != nil {
			return err
		}
		values := make([]driver.Value, len(cols))
		for {
			batch, err := rows.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				_ = appender.Close()
				return err
			}
			for _, row := range batch {
				for i := range values {
					values[i] = appendValue(row[i], cols[i].Type)
				}
				if err := appender.AppendRow(values...); err != nil {
					_ = appender.Close()
					return fmt.Errorf("load %s: %w", table, err)
				}
				count++
			}
		}
		return appender.Close()
	})
	return count, err
}

func drainCount(ctx context.Context, rows drivers.Stream) (int64, error) {
	var n int64
	for {
		batch, err := rows.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += int64(len(batch))
	}
}

// close releases the result, the connection, the database and its files.
func (d *database) close() {
	if d.rows != nil {
		_ = d.rows.Close()
	}
	if d.conn != nil {
		_ = d.conn.Close()
	}
	if d.sqlDB != nil {
		_ = d.sqlDB.Close() // closes the connector too
	} else if d.connector != nil {
		_ = d.connector.Close()
	}
	_ = os.RemoveAll(d.scratch)
}

// sqlType is the DuckDB column type for a stream type. Decimals arrive as exact text of
// unknown precision, so they load as VARCHAR; a query can CAST them.
func sqlType(t string) string {
	switch t {
	case drivers.TypeInt:
		return "BIGINT"
	case drivers.TypeUint:
		return "UBIGINT"
	case drivers.TypeFloat:
		return "DOUBLE"
	case drivers.TypeBool:
		return "BOOLEAN"
	case drivers.TypeTimestamp:
		return "TIMESTAMP"
	case drivers.TypeDate:
		return "DATE"
	case drivers.TypeBytes:
		return "BLOB"
	}
	return "VARCHAR"
}

// appendValue converts a stream value to what the Appender accepts for the column.
func appendValue(v any, typ string) driver.Value {
	switch t := v.(type) {
	case nil:
		return nil
	case drivers.Decimal:
		return string(t)
	case json.RawMessage:
		return string(t)
	case int:
		return int64(t)
	case int32:
		return int64(t)
	case float64:
		if math.IsNaN(t) {
			return nil
		}
		return t
	case string:
		return t
	case int64, uint64, bool, time.Time, []byte:
		if typ == drivers.TypeString || typ == drivers.TypeDecimal || typ == drivers.TypeJSON ||
			typ == drivers.TypeTime {
			return fmt.Sprint(t)
		}
		return t
	}
	return fmt.Sprint(v)
}

func resultColumns(rows *sql.Rows) ([]drivers.Column, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]drivers.Column, len(types))
	for i, ct := range types {
		src := ct.DatabaseTypeName()
		cols[i] = drivers.Column{Name: ct.Name(), Type: streamType(src), SourceType: src}
	}
	return cols, nil
}

// streamType maps a DuckDB result type name to a stream type.
func streamType(dbType string) string {
	t := strings.ToUpper(dbType)
	switch {
	case t == "BIGINT" || t == "INTEGER" || t == "SMALLINT" || t == "TINYINT" ||
		t == "UINTEGER" || t == "USMALLINT" || t == "UTINYINT":
		return drivers.TypeInt
	case t == "UBIGINT":
		return drivers.TypeUint
	case t == "HUGEINT" || t == "UHUGEINT" || strings.HasPrefix(t, "DECIMAL"):
		return drivers.TypeDecimal
	case t == "DOUBLE" || t == "FLOAT":
		return drivers.TypeFloat
	case t == "BOOLEAN":
		return drivers.TypeBool
	case t == "DATE":
		return drivers.TypeDate
	case strings.HasPrefix(t, "TIMESTAMP"):
		return drivers.TypeTimestamp
	case strings.HasPrefix(t, "TIME"):
		return drivers.TypeTime
	case t == "BLOB":
		return drivers.TypeBytes
	case t == "JSON" || strings.HasSuffix(t, "[]") || strings.HasPrefix(t, "STRUCT") ||
		strings.HasPrefix(t, "MAP") || strings.HasPrefix(t, "LIST") || strings.HasPrefix(t, "UNION"):
		return drivers.TypeJSON
	}
	return drivers.TypeString
}

// resultStream serves the query result in batches.
type resultStream struct {
	db       *database
	cols     []drivers.Column
	step     string
	env      drivers.StepEnv
	started  time.Time
	rowsRead int64
	written  int64
	done     bool
	closed   bool
}

func (s *resultStream) Columns() []drivers.Column { return s.cols }

func (s *resultStream) Next(ctx context.Context) ([][]any, error) {
	if s.done || s.closed {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := len(s.cols)
	batch := make([][]any, 0, 1024)
	for len(batch) < drivers.DefaultBatchSize {
		if !s.db.rows.Next() {
			if err := s.db.rows.Err(); err != nil {
				return nil, transformError(s.step, err)
			}
			s.finish()
			break
		}
		row := make([]any, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := s.db.rows.Scan(ptrs...); err != nil {
			return nil, transformError(s.step, err)
		}
		for i, v := range row {
			row[i] = streamValue(v, s.cols[i].Type)
		}
		batch = append(batch, row)
		s.written++
	}
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

func (s *resultStream) finish() {
	s.done = true
	if s.env == nil {
		return
	}
	ms := time.Since(s.started).Milliseconds()
	s.env.Metric("rows_read", s.rowsRead, "rows")
	s.env.Metric("rows_written", s.written, "rows")
	s.env.Metric("duration_ms", ms, "ms")
	s.env.Event("transform.complete", map[string]any{"step_id": s.step,
		"rows_read": s.rowsRead, "rows_written": s.written, "duration_ms": ms})
}

func (s *resultStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.db.close()
	return nil
}

// streamValue converts a scanned DuckDB value to the stream's Go types.
func streamValue(v any, typ string) any {
	switch t := v.(type) {
	case nil:
		return nil
	case int8:
		return int64(t)
	case int16:
		return int64(t)
	case int32:
		return int64(t)
	case uint8:
		return int64(t)
	case uint16:
		return int64(t)
	case uint32:
		return int64(t)
	case float32:
		return float64(t)
	case float64:
		if math.IsNaN(t) {
			return nil
		}
		return t
	case *big.Int:
		return drivers.Decimal(t.String())
	case duckdb.Decimal:
		return drivers.Decimal(t.String())
	case duckdb.UUID:
		return t.String()
	case *duckdb.UUID:
		return t.String()
	case time.Time:
		if typ == drivers.TypeTime {
			return t.Format("15:04:05.999999")
		}
		return t
	case string, int64, uint64, bool, []byte:
		if typ == drivers.TypeJSON {
			if s, ok := t.(string); ok {
				return json.RawMessage(s)
			}
		}
		return t
	}
	if typ == drivers.TypeJSON {
		if raw, err := json.Marshal(v); err == nil {
			return json.RawMessage(raw)
		}
	}
	return fmt.Sprint(v)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' ||
			r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func firstChars(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func asInt(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := t.Int64()
		return n, err == nil
	case int:
		return int64(t), true
	case int64:
		return t, true
	case float64:
		if t == math.Trunc(t) {
			return int64(t), true
		}
	}
	return 0, false
}
