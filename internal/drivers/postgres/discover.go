package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

var discardLogger = slog.New(slog.DiscardHandler)

// Doctor tests the connection with SELECT 1: ok, or the failure's category.
func (d Driver) Doctor(ctx context.Context, raw map[string]any,
	timeout time.Duration) drivers.DoctorResult {
	ctx, cancel, result := sqlcommon.StartDoctor(ctx, timeout, phrase)
	defer cancel()

	conn, err := readConn("doctor", d.family, map[string]any{"resolved_connection": raw})
	if err != nil {
		return result(drivers.CategoryConfig, "Connection settings incomplete")
	}
	db, err := conn.open(ctx, "doctor", discardLogger, 1)
	if err != nil {
		if de, ok := err.(*drivers.Error); ok && de.Category != "" {
			if de.Kind == drivers.KindConfig {
				return result(drivers.CategoryConfig, "Connection settings invalid")
			}
			return result(de.Category, "")
		}
		return result(classify(err), "")
	}
	defer db.Close()
	if err := sqlcommon.SelectOne(ctx, db); err != nil {
		return result(classify(err), "")
	}
	return result(drivers.CategoryOK, "")
}

// Discover lists a schema's tables (schema, default public): columns in order with their
// types, primary keys, exact row counts and up to opts.Samples sample rows.
func (d Driver) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	wrapped := sqlcommon.AsConnection(cfg)
	conn, err := readConn("discovery", d.family, wrapped)
	if err != nil {
		return nil, err
	}
	schema := sqlcommon.String(sqlcommon.Merged(wrapped), "schema")
	if schema == "" {
		schema = "public"
	}
	db, err := conn.open(ctx, "discovery", discardLogger, 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	out, err := sqlcommon.DiscoverTables(ctx, db, func(table string) (drivers.TableInfo, error) {
		return describeTable(ctx, db, schema, table, opts.Samples)
	}, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		return nil, conn.queryError("discovery", "discovery", err)
	}
	return out, nil
}

func describeTable(ctx context.Context, db *sql.DB, schema, table string,
	samples int) (drivers.TableInfo, error) {
	info := drivers.TableInfo{Name: table}
	rows, err := db.QueryContext(ctx, `SELECT column_name,
		CASE WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL
			THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')'
			WHEN data_type IN ('character varying', 'character')
				AND character_maximum_length IS NOT NULL
			THEN data_type || '(' || character_maximum_length || ')'
			ELSE data_type END,
		is_nullable
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
		ORDER BY ordinal_position`, schema, table)
	if err != nil {
		return info, err
	}
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			_ = rows.Close()
			return info, err
		}
		isNullable := nullable == "YES"
		info.Columns = append(info.Columns, drivers.ColumnInfo{Name: name, Type: typ,
			Nullable: &isNullable})
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return info, err
	}

	info.PrimaryKeys, err = sqlcommon.Strings(ctx, db, `SELECT k.column_name
		FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name
			AND k.constraint_schema = c.constraint_schema AND k.table_name = c.table_name
		WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = $1 AND c.table_name = $2
		ORDER BY k.ordinal_position`, schema, table)
	if err != nil {
		return info, err
	}

	var count int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+qualified(schema, table)).
		Scan(&count); err != nil {
		return info, err
	}
	info.RowCount = &count
	if samples > 0 {
		if info.SampleData, err = sampleRows(ctx, db, schema, table, samples); err != nil {
			return info, err
		}
	}
	return info, nil
}

func sampleRows(ctx context.Context, db *sql.DB, schema, table string, n int) (
	[]map[string]any, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s LIMIT %d",
		qualified(schema, table), n))
	if err != nil {
		return nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		_ = rows.Close()
		return nil, err
	}
	r, cols := newRowReader(sqlcommon.NopEnv{}, "", rows, types, n, time.Time{}, nil)
	return sqlcommon.SampleRows(ctx, r, cols)
}
