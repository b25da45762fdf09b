package postgres

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
	_ "github.com/osirisgo/osiris/internal/drivers/mysql"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
)

const mysqlDB = "osiris_c_test"

// mariaDB connects as root and makes the test database.
func mariaDB(t *testing.T) *sql.DB {
	t.Helper()
	db := sqltest.MariaDBRoot(t)
	if _, err := db.Exec("CREATE DATABASE IF NOT EXISTS " + mysqlDB + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	return db
}

func mysqlStep(extra map[string]any) map[string]any {
	cfg := map[string]any{"resolved_connection": map[string]any{"host": "127.0.0.1",
		"port": 3306, "database": mysqlDB, "user": "root", "password": ""}}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// moveTable extracts a MariaDB table with mysql.extractor and writes it with
// postgres.writer (create_if_missing), the two drivers connected by the stream.
func moveTable(t *testing.T, app, table string, extra map[string]any) (
	*sqlcommon.RecordingEnv, *sqlcommon.RecordingEnv, error) {
	t.Helper()
	factory, ok := drivers.Lookup("mysql.extractor")
	if !ok {
		t.Fatal("mysql.extractor not registered")
	}
	srcEnv := newEnv(t)
	res, err := factory().Run(context.Background(), drivers.Request{StepID: "src",
		Config: mysqlStep(map[string]any{"table": table}), Env: srcEnv})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Rows.Close()
	cfg := map[string]any{"schema": testSchema, "table": table, "create_if_missing": true}
	for k, v := range extra {
		cfg[k] = v
	}
	dstEnv, err := pgWrite(t, app, res.Rows, cfg)
	return srcEnv, dstEnv, err
}

// TestMySQLToPostgresTypeFidelity moves one row of every MySQL type through both drivers
// and checks each value as PostgreSQL stores it.
func TestMySQLToPostgresTypeFidelity(t *testing.T) {
	maria := mariaDB(t)
	pg := adminPG(t)
	app := appName(t)
	for _, s := range []string{"DROP TABLE IF EXISTS fidelity_c",
		`CREATE TABLE fidelity_c (id INT PRIMARY KEY, i BIGINT, imax BIGINT,
		 u BIGINT UNSIGNED, d DECIMAL(30,10), f DOUBLE, b TINYINT(1), bt BIT(1), bits BIT(12),
		 dt DATE, ts DATETIME(6), tst TIMESTAMP NULL, zd DATETIME, tm TIME(3), js JSON,
		 bl BLOB, en ENUM('red','green'), st SET('a','b','c'), tx TEXT) CHARACTER SET utf8mb4`,
		`SET SESSION sql_mode = ''; INSERT INTO fidelity_c VALUES (1, -9223372036854775808,
		 9223372036854775807, 18446744073709551615, -12345678901234567890.0123456789, 0.1, 1,
		 b'1', b'101', '2024-02-29', '2024-02-29 13:14:15.123456', '2024-03-01 00:00:01',
		 '0000-00-00 00:00:00', '12:34:56.789', '{"a": [1, 2]}', X'00FF10', 'green', 'a,c',
		 'emoji 🦆 ünïcödé')`,
		"INSERT INTO fidelity_c (id) VALUES (2)"} {
		if _, err := maria.Exec("USE " + mysqlDB + "; " + s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	pgExec(t, pg, "DROP TABLE IF EXISTS "+testSchema+".fidelity_c")

	srcEnv, _, err := moveTable(t, app, "fidelity_c", map[string]any{"primary_key": "id"})
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	if w := srcEnv.EventsNamed("extraction.warning"); len(w) != 1 || w[0].Fields["column"] != "zd" {
		t.Errorf("zero date warning = %#v", w)
	}

	checks := []struct{ expr, want string }{
		{"pg_typeof(i)::text || ' ' || i::text", "bigint -9223372036854775808"},
		{"imax::text", "9223372036854775807"},
		{"pg_typeof(u)::text || ' ' || u::text", "numeric 18446744073709551615"},
		{"format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '" + testSchema +
			".fidelity_c'::regclass AND attname = 'd' --", "numeric(30,10)"},
		{"d::text", "-12345678901234567890.0123456789"},
		{"pg_typeof(f)::text || ' ' || f::text", "double precision 0.1"},
		{"pg_typeof(b)::text || ' ' || b::text", "boolean true"},
		{"bt::text", "true"},
		{"bits::text", "5"},
		{"pg_typeof(dt)::text || ' ' || dt::text", "date 2024-02-29"},
		{"pg_typeof(ts)::text || ' ' || ts::text", "timestamp without time zone 2024-02-29 13:14:15.123456"},
		{"tst::text", "2024-03-01 00:00:01"},
		{"coalesce(zd::text, 'null')", "null"},
		{"pg_typeof(tm)::text || ' ' || tm::text", "time without time zone 12:34:56.789"},
		{"pg_typeof(js)::text || ' ' || (js->'a'->>1)", "jsonb 2"},
		{"pg_typeof(bl)::text || ' ' || encode(bl, 'hex')", "bytea 00ff10"},
		{"en || '|' || st", "green|a,c"},
		{"tx", "emoji 🦆 ünïcödé"},
	}
	for _, c := range checks {
		query := "SELECT " + c.expr + " FROM " + testSchema + ".fidelity_c WHERE id = 1"
		if strings.HasSuffix(c.expr, "--") {
			query = "SELECT " + c.expr
		}
		var got string
		if err := pg.QueryRow(query).Scan(&got); err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.expr, got, c.want)
		}
	}
	var nulls int
	if err := pg.QueryRow(`SELECT num_nulls(i, imax, u, d, f, b, bt, bits, dt, ts, tst, zd, tm,
		js, bl, en, st, tx) FROM ` + testSchema + ".fidelity_c WHERE id = 2").Scan(&nulls); err != nil ||
		nulls != 18 {
		t.Errorf("null row: %d nulls (%v), want 18", nulls, err)
	}
}

// TestMySQLTextWithNULToPostgres checks the clear error and the opt-in strip_nul.
func TestMySQLTextWithNULToPostgres(t *testing.T) {
	maria := mariaDB(t)
	pg := adminPG(t)
	app := appName(t)
	for _, s := range []string{"DROP TABLE IF EXISTS nul_src_c",
		"CREATE TABLE nul_src_c (id INT PRIMARY KEY, note TEXT)",
		"INSERT INTO nul_src_c VALUES (1, 'ok'), (2, 'ok too'), (3, CONCAT('a', CHAR(0), 'b'))"} {
		if _, err := maria.Exec("USE " + mysqlDB + "; " + s); err != nil {
			t.Fatal(err)
		}
	}
	pgExec(t, pg, "DROP TABLE IF EXISTS "+testSchema+".nul_src_c")
	_, _, err := moveTable(t, app, "nul_src_c", nil)
	want := "table nul_src_c, column note, row 3 holds a NUL byte"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	var created bool
	if err := pg.QueryRow("SELECT to_regclass('" + testSchema + ".nul_src_c') IS NOT NULL").
		Scan(&created); err != nil || created {
		t.Errorf("a failed load left its created table behind (%v)", err)
	}
	if _, _, err := moveTable(t, app, "nul_src_c", map[string]any{"strip_nul": true}); err != nil {
		t.Fatal(err)
	}
	var note string
	if err := pg.QueryRow("SELECT note FROM " + testSchema + ".nul_src_c WHERE id = 3").Scan(&note); err != nil ||
		note != "ab" {
		t.Errorf("stripped note = %q (%v)", note, err)
	}
}
