package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

func init() {
	drivers.Register("mysql.extractor", func() drivers.Driver { return Extractor{} })
	drivers.Register("mysql.writer", func() drivers.Driver { return Writer{} })
}

// discardLogger is used where no step logger exists (discovery and doctor run outside a
// pipeline); the MySQL library's diagnostics are dropped there.
var discardLogger = slog.New(slog.DiscardHandler)

// Discover lists the current database's tables: columns in order with their declared
// types, primary keys, exact row counts and up to opts.Samples sample rows.
func (Extractor) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	return discover(ctx, cfg, opts)
}

// Discover is the writer's discovery: the same as the extractor's.
func (Writer) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	return discover(ctx, cfg, opts)
}

// Doctor tests the connection with SELECT 1.
func (Extractor) Doctor(ctx context.Context, conn map[string]any,
	timeout time.Duration) drivers.DoctorResult {
	return doctor(ctx, conn, timeout)
}

// Doctor tests the connection with SELECT 1.
func (Writer) Doctor(ctx context.Context, conn map[string]any,
	timeout time.Duration) drivers.DoctorResult {
	return doctor(ctx, conn, timeout)
}

func doctor(ctx context.Context, raw map[string]any, timeout time.Duration) drivers.DoctorResult {
	ctx, cancel, result := sqlcommon.StartDoctor(ctx, timeout, phrase)
	defer cancel()

	conn, err := readConn("doctor", map[string]any{"resolved_connection": raw})
	if err != nil {
		return result(drivers.CategoryConfig, "Connection settings incomplete")
	}
	conn.poolSize = 1
	db, err := conn.open(ctx, "doctor", discardLogger)
	if err != nil {
		return result(categoryOf(err), "")
	}
	defer db.Close()
	if err := sqlcommon.SelectOne(ctx, db); err != nil {
		return result(classify(err), "")
	}
	return result(drivers.CategoryOK, "")
}

func categoryOf(err error) string {
	if de, ok := err.(*drivers.Error); ok && de.Category != "" {
		return de.Category
	}
	return classify(err)
}

func discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	conn, err := readConn("discovery", sqlcommon.AsConnection(cfg))
	if err != nil {
		return nil, err
	}
	conn.poolSize = 1
	db, err := conn.open(ctx, "discovery", discardLogger)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	out, err := sqlcommon.DiscoverTables(ctx, db, func(table string) (drivers.TableInfo, error) {
		return describeTable(ctx, db, conn.database, table, opts.Samples)
	}, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`)
	if err != nil {
		return nil, conn.queryError("discovery", "discovery", err)
	}
	return out, nil
}

func describeTable(ctx context.Context, db *sql.DB, database, table string,
	samples int) (drivers.TableInfo, error) {
	info := drivers.TableInfo{Name: table}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
		ORDER BY ORDINAL_POSITION`, database, table)
	if err != nil {
		return info, err
	}
	for rows.Next() {
		var name, typ, nullable, key string
		if err := rows.Scan(&name, &typ, &nullable, &key); err != nil {
			_ = rows.Close()
			return info, err
		}
		isNullable := nullable == "YES"
		info.Columns = append(info.Columns, drivers.ColumnInfo{Name: name, Type: typ,
			Nullable: &isNullable})
		if key == "PRI" {
			info.PrimaryKeys = append(info.PrimaryKeys, name)
		}
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return info, err
	}

	var count int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+quoteIdent(table)).Scan(&count); err != nil {
		return info, err
	}
	info.RowCount = &count
	if samples > 0 {
		sample, err := sampleRows(ctx, db, database, table, samples)
		if err != nil {
			return info, err
		}
		info.SampleData = sample
	}
	return info, nil
}

// sampleRows reads up to n rows, typed the way the extractor types them.
func sampleRows(ctx context.Context, db *sql.DB, database, table string, n int) (
	[]map[string]any, error) {
	decls, err := columnDecls(ctx, db, database, table)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s LIMIT %d",
		quoteIdent(table), n))
	if err != nil {
		return nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		_ = rows.Close()
		return nil, err
	}
	r, cols := newRowReader(sqlcommon.NopEnv{}, "", rows, types, decls, n, time.Time{}, nil)
	return sqlcommon.SampleRows(ctx, r, cols)
}
