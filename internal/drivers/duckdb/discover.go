//go:build !noduckdb

package duckdb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/osirisgo/osiris/internal/drivers"
)

// Discover lists the base tables of the DuckDB file (every schema of the file's own
// catalog, sorted), with their columns, primary keys, row counts and up to opts.Samples
// rows each. Tables of the main schema are named bare, others schema.table.
func (e *Extractor) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	path := extractorPath(cfg, opts.BasePath)
	db, err := openReadOnly(ctx, path)
	if err != nil {
		return nil, extractorError("", err)
	}
	defer db.Close()

	tables, err := listTables(ctx, db)
	if err != nil {
		return nil, extractorError("", err)
	}
	out := &drivers.Discovery{Tables: make([]drivers.TableInfo, 0, len(tables))}
	for _, t := range tables {
		info, err := describeTable(ctx, db, t, opts.Samples)
		if err != nil {
			return nil, extractorError("", err)
		}
		out.Tables = append(out.Tables, info)
	}
	return out, nil
}

// tableRef is one table of the file.
type tableRef struct{ schema, name string }

func (t tableRef) display() string {
	if t.schema == "main" {
		return t.name
	}
	return t.schema + "." + t.name
}

func (t tableRef) quoted() string { return quoteIdent(t.schema) + "." + quoteIdent(t.name) }

func listTables(ctx context.Context, db *sql.DB) ([]tableRef, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_schema, table_name
		FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_catalog = current_database()
		ORDER BY table_schema, table_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tableRef
	for rows.Next() {
		var t tableRef
		if err := rows.Scan(&t.schema, &t.name); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func describeTable(ctx context.Context, db *sql.DB, t tableRef,
	samples int) (drivers.TableInfo, error) {
	info := drivers.TableInfo{Name: t.display(), Columns: []drivers.ColumnInfo{}}

	cols, err := db.QueryContext(ctx, `SELECT column_name, data_type, is_nullable
		FROM information_schema.columns
		WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?
		ORDER BY ordinal_position`, t.schema, t.name)
	if err != nil {
		return info, err
	}
	for cols.Next() {
		var name, typ, nullable string
		if err := cols.Scan(&name, &typ, &nullable); err != nil {
			cols.Close()
			return info, err
		}
		isNullable := nullable == "YES"
		info.Columns = append(info.Columns,
			drivers.ColumnInfo{Name: name, Type: typ, Nullable: &isNullable})
	}
	cols.Close()
	if err := cols.Err(); err != nil {
		return info, err
	}

	if info.PrimaryKeys, err = primaryKeys(ctx, db, t); err != nil {
		return info, err
	}

	var count int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+t.quoted()).Scan(&count); err != nil {
		return info, err
	}
	info.RowCount = &count

	if samples > 0 {
		info.SampleData, err = sampleRows(ctx, db, t, samples)
	}
	return info, err
}

func primaryKeys(ctx context.Context, db *sql.DB, t tableRef) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT unnest(constraint_column_names)
		FROM duckdb_constraints()
		WHERE constraint_type = 'PRIMARY KEY' AND database_name = current_database()
		  AND schema_name = ? AND table_name = ?`, t.schema, t.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

func sampleRows(ctx context.Context, db *sql.DB, t tableRef, n int) ([]map[string]any, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s LIMIT %d", t.quoted(), n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := resultColumns(rows)
	if err != nil {
		return nil, err
	}
	batch, err := scanBatch(rows, cols, n)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, values := range batch {
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c.Name] = values[i]
		}
		out = append(out, row)
	}
	return out, nil
}
