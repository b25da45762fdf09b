package sqlcommon

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// AsConnection returns a discovery's or doctor's configuration as a step configuration:
// the connection's fields under resolved_connection, unless they are there already, so
// that the step's connection reader serves them too.
func AsConnection(cfg map[string]any) map[string]any {
	if _, ok := cfg["resolved_connection"]; ok {
		return cfg
	}
	return map[string]any{"resolved_connection": cfg}
}

// StartDoctor begins a connection check: it bounds ctx by timeout (2 seconds when not
// positive) and returns the function that makes the result, timed from now. The result's
// message is message, or the category's phrase when message is empty.
func StartDoctor(ctx context.Context, timeout time.Duration, phrase func(string) string) (
	context.Context, context.CancelFunc, func(category, message string) drivers.DoctorResult) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	started := time.Now()
	result := func(category, message string) drivers.DoctorResult {
		ms := float64(time.Since(started).Microseconds()) / 1000
		if message == "" {
			message = phrase(category)
		}
		return drivers.DoctorResult{OK: category == drivers.CategoryOK,
			LatencyMS: math.Round(ms*100) / 100, Category: category, Message: message}
	}
	return ctx, cancel, result
}

// SelectOne is the doctor's probe: the server answers a trivial query.
func SelectOne(ctx context.Context, db *sql.DB) error {
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Strings runs a query whose rows hold one string each (table names, key columns).
func Strings(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DiscoverTables lists the tables that listQuery names (one a row, args its
// parameters) and describes each in turn. It stops at the first failure and returns it as
// it is, for the driver to word.
func DiscoverTables(ctx context.Context, db *sql.DB,
	describe func(table string) (drivers.TableInfo, error), listQuery string,
	args ...any) (*drivers.Discovery, error) {
	names, err := Strings(ctx, db, listQuery, args...)
	if err != nil {
		return nil, err
	}
	out := &drivers.Discovery{Tables: []drivers.TableInfo{}}
	for _, name := range names {
		info, err := describe(name)
		if err != nil {
			return nil, err
		}
		out.Tables = append(out.Tables, info)
	}
	return out, nil
}
