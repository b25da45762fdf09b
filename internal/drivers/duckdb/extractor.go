//go:build !noduckdb

package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/secrets"
)

// ExtractorComponent is the component that reads a DuckDB database file.
const ExtractorComponent = "duckdb.extractor"

func init() {
	drivers.Register(ExtractorComponent, func() drivers.Driver { return &Extractor{} })
}

// Extractor reads a table or a query result from a DuckDB file (a duckdb connection's
// path) and streams it in batches. The file is opened read-only, so a pipeline can read
// a database that other readers have open too.
type Extractor struct{}

// Run opens the file, starts the query and returns a stream that owns the database until
// it is closed.
func (e *Extractor) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	query, err := extractorQuery(req.StepID, req.Config)
	if err != nil {
		return drivers.Result{}, err
	}
	basePath := ""
	if req.Env != nil {
		basePath = req.Env.BasePath()
	}
	path := extractorPath(req.Config, basePath)
	batchSize := drivers.DefaultBatchSize
	if n, ok := asInt(req.Config["batch_size"]); ok && n > 0 {
		batchSize = int(n)
	}

	if req.Env != nil {
		req.Env.Event("extraction.start", map[string]any{"step_id": req.StepID,
			"path": filepath.Base(path)})
	}
	started := time.Now()
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return drivers.Result{}, extractorError(req.StepID, err)
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		db.Close()
		return drivers.Result{}, extractorError(req.StepID, err)
	}
	cols, err := resultColumns(rows)
	if err != nil {
		rows.Close()
		db.Close()
		return drivers.Result{}, extractorError(req.StepID, err)
	}

	stream := &extractStream{db: db, rows: rows, cols: cols, step: req.StepID, env: req.Env,
		batchSize: batchSize, started: started}
	return drivers.Result{Rows: stream}, nil
}

// extractorQuery builds the step's SQL from query, or from table (optionally
// schema-qualified as schema.table).
func extractorQuery(step string, cfg map[string]any) (string, error) {
	query, _ := cfg["query"].(string)
	table, _ := cfg["table"].(string)
	switch {
	case strings.TrimSpace(query) != "" && table != "":
		return "", drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: set 'table' or 'query', not both", step)
	case strings.TrimSpace(query) != "":
		return query, nil
	case table != "":
		return "SELECT * FROM " + qualifiedName(table), nil
	}
	return "", drivers.Errorf(step, drivers.KindConfig, nil,
		"Step %s: 'table' or 'query' is required", step)
}

// qualifiedName quotes schema.table (or a bare table) as DuckDB identifiers.
func qualifiedName(table string) string {
	parts := strings.SplitN(table, ".", 2)
	if len(parts) == 2 && parts[0] != "" && parts[1] != "" {
		return quoteIdent(parts[0]) + "." + quoteIdent(parts[1])
	}
	return quoteIdent(table)
}

// extractorPath finds the database file: the step's path, else the connection's,
// relative to the project base path. An empty path or ":memory:" is an empty in-memory
// database (useful only for queries that need no tables).
func extractorPath(cfg map[string]any, basePath string) string {
	path, _ := cfg["path"].(string)
	if conn, ok := cfg["resolved_connection"].(map[string]any); ok && path == "" {
		path, _ = conn["path"].(string)
	}
	if path == "" || path == ":memory:" {
		return ":memory:"
	}
	if !filepath.IsAbs(path) && basePath != "" {
		path = filepath.Join(basePath, path)
	}
	return filepath.Clean(path)
}

// errNoDatabaseFile is a path that does not exist: opening it read-only would fail with
// a less helpful message, and opening it read-write would create it.
var errNoDatabaseFile = errors.New("DuckDB file not found")

func openReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	dsn := ""
	if path != ":memory:" {
		info, err := os.Stat(path)
		if err != nil || info.IsDir() {
			return nil, fmt.Errorf("%w: %s", errNoDatabaseFile, path)
		}
		dsn = path + "?access_mode=read_only"
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	// One connection: the stream's cursor and discovery's queries run one at a time.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func extractorError(step string, err error) error {
	var de *drivers.Error
	if errors.As(err, &de) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, errNoDatabaseFile) {
		return drivers.Errorf(step, drivers.KindConfig, err, "%s", err.Error())
	}
	return drivers.Errorf(step, drivers.KindQuery, err, "DuckDB query failed: %s",
		secrets.RedactText(cleanMessage(err)))
}

// extractStream serves the query result in batches and closes the database at the end.
type extractStream struct {
	db        *sql.DB
	rows      *sql.Rows
	cols      []drivers.Column
	step      string
	env       drivers.StepEnv
	batchSize int
	started   time.Time
	rowsRead  int64
	done      bool
	closed    bool
}

func (s *extractStream) Columns() []drivers.Column { return s.cols }

func (s *extractStream) Next(ctx context.Context) ([][]any, error) {
	if s.done || s.closed {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	batch, err := scanBatch(s.rows, s.cols, s.batchSize)
	if err != nil {
		return nil, extractorError(s.step, err)
	}
	s.rowsRead += int64(len(batch))
	if len(batch) < s.batchSize {
		s.finish()
	}
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

// scanBatch reads up to limit rows, converting values to stream types.
func scanBatch(rows *sql.Rows, cols []drivers.Column, limit int) ([][]any, error) {
	batch := make([][]any, 0, min(limit, 1024))
	for len(batch) < limit {
		if !rows.Next() {
			return batch, rows.Err()
		}
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range row {
			row[i] = extractValue(v, cols[i])
		}
		batch = append(batch, row)
	}
	return batch, nil
}

// extractValue is streamValue plus UUIDs, which the driver hands over as raw bytes.
func extractValue(v any, col drivers.Column) any {
	if b, ok := v.([]byte); ok && strings.EqualFold(col.SourceType, "UUID") && len(b) == 16 {
		var id duckdb.UUID
		copy(id[:], b)
		return id.String()
	}
	return streamValue(v, col.Type)
}

func (s *extractStream) finish() {
	s.done = true
	if s.env == nil {
		return
	}
	drivers.ReportExtracted(s.env, s.step, s.rowsRead, s.started)
}

// Close releases the cursor and the database; it is safe to call more than once.
func (s *extractStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.rows.Close(), s.db.Close())
}
