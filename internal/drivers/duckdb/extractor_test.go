//go:build !noduckdb

package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

// extractorEnv is a StepEnv that records metric names.
type extractorEnv struct {
	base    string
	metrics []string
}

func (e *extractorEnv) OutputDir() string                   { return e.base }
func (e *extractorEnv) BasePath() string                    { return e.base }
func (e *extractorEnv) Metric(name string, _ any, _ string) { e.metrics = append(e.metrics, name) }
func (e *extractorEnv) Event(string, map[string]any)        {}
func (e *extractorEnv) Logger() *slog.Logger                { return slog.New(slog.DiscardHandler) }

func makeDuckDBFile(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range stmts {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return path
}

func TestExtractorStreamsATableInBatches(t *testing.T) {
	path := makeDuckDBFile(t,
		"CREATE TABLE items (id BIGINT, price DECIMAL(8,2), name VARCHAR, uid UUID)",
		"INSERT INTO items SELECT i, i / 4, 'item ' || i, "+
			"'00000000-0000-0000-0000-00000000000' || (i % 10) FROM range(25) t(i)")
	env := &extractorEnv{base: filepath.Dir(path)}

	res, err := (&Extractor{}).Run(context.Background(), drivers.Request{StepID: "read",
		Env: env, Config: map[string]any{"table": "items", "batch_size": 10,
			"resolved_connection": map[string]any{"path": "wh.duckdb"}}})
	if err != nil {
		t.Fatal(err)
	}
	cols := res.Rows.Columns()
	if len(cols) != 4 || cols[1].Type != drivers.TypeDecimal || cols[3].Type != drivers.TypeString {
		t.Fatalf("columns %+v", cols)
	}
	first, err := res.Rows.Next(context.Background())
	if err != nil || len(first) != 10 {
		t.Fatalf("first batch %d rows, %v", len(first), err)
	}
	rest, err := drivers.ReadAll(context.Background(), res.Rows)
	if err != nil || len(rest) != 15 {
		t.Fatalf("rest %d rows, %v", len(rest), err)
	}
	if first[2][1] != drivers.Decimal("0.5") || first[3][3] != "00000000-0000-0000-0000-000000000003" {
		t.Fatalf("row %v", first[3])
	}
	if strings.Join(env.metrics, ",") != "rows_read,duration_ms" {
		t.Fatalf("metrics %v", env.metrics)
	}
}

func TestExtractorConfigErrors(t *testing.T) {
	path := makeDuckDBFile(t, "CREATE TABLE t (x INT)")
	for name, tc := range map[string]struct {
		cfg  map[string]any
		want string
	}{
		"neither": {map[string]any{"path": path}, "'table' or 'query' is required"},
		"both":    {map[string]any{"path": path, "table": "t", "query": "SELECT 1"}, "not both"},
		"no file": {map[string]any{"path": path + ".missing", "table": "t"}, "DuckDB file not found"},
		"bad sql": {map[string]any{"path": path, "query": "SELEC 1"}, "DuckDB query failed"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := (&Extractor{}).Run(context.Background(),
				drivers.Request{StepID: "s", Config: tc.cfg})
			var de *drivers.Error
			if !errors.As(err, &de) || !strings.Contains(de.Msg, tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExtractorOpensTheFileReadOnly(t *testing.T) {
	path := makeDuckDBFile(t, "CREATE TABLE t (x INT)")
	_, err := (&Extractor{}).Run(context.Background(), drivers.Request{StepID: "s",
		Config: map[string]any{"path": path, "query": "CREATE TABLE u (y INT)"}})
	if err == nil {
		t.Fatal("a query wrote to the connection's file")
	}
}

func TestDiscoverTablesColumnsKeysAndSamples(t *testing.T) {
	path := makeDuckDBFile(t,
		"CREATE TABLE b (id INTEGER PRIMARY KEY, note VARCHAR NOT NULL)",
		"INSERT INTO b VALUES (1, 'one'), (2, 'two'), (3, 'three')",
		"CREATE TABLE a (x DOUBLE)",
		"CREATE VIEW v AS SELECT * FROM b")

	got, err := (&Extractor{}).Discover(context.Background(),
		map[string]any{"path": filepath.Base(path)},
		drivers.DiscoverOptions{Samples: 2, BasePath: filepath.Dir(path)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tables) != 2 || got.Tables[0].Name != "a" || got.Tables[1].Name != "b" {
		t.Fatalf("tables %+v", got.Tables)
	}
	b := got.Tables[1]
	if *b.RowCount != 3 || len(b.SampleData) != 2 || b.SampleData[0]["note"] != "one" {
		t.Fatalf("b %+v", b)
	}
	if len(b.PrimaryKeys) != 1 || b.PrimaryKeys[0] != "id" {
		t.Fatalf("primary keys %v", b.PrimaryKeys)
	}
	if b.Columns[1].Type != "VARCHAR" || *b.Columns[1].Nullable {
		t.Fatalf("columns %+v", b.Columns)
	}
	if got.Tables[0].SampleData != nil {
		t.Fatal("an empty table has sample rows")
	}
}
