package postgres

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

var itemCols = []drivers.Column{{Name: "id", Type: drivers.TypeInt},
	{Name: "name col", Type: drivers.TypeString}}

func items(pairs ...any) [][]any {
	var rows [][]any
	for i := 0; i < len(pairs); i += 2 {
		rows = append(rows, []any{int64(pairs[i].(int)), pairs[i+1]})
	}
	return rows
}

func tableContent(t *testing.T, table string) string {
	t.Helper()
	admin := adminPG(t)
	rows, err := admin.Query(`SELECT id || ':' || "name col" FROM ` + testSchema + "." + table +
		" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func TestWriterModes(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".items_c")
	base := map[string]any{"schema": testSchema, "table": "items_c", "primary_key": "id",
		"create_if_missing": true}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range base {
			out[key] = val
		}
		out[k] = v
		return out
	}

	env, err := pgWrite(t, app, drivers.NewSliceStream(itemCols,
		items(1, "a\tb", 2, "back\\slash", 3, "new\nline"), 2), base)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if got := tableContent(t, "items_c"); got != "1:a\tb,2:back\\slash,3:new\nline" {
		t.Errorf("after append: %q", got)
	}
	plan, err := os.ReadFile(filepath.Join(env.OutputDir(), "ddl_plan.sql"))
	if err != nil || !strings.Contains(string(plan), `PRIMARY KEY ("id")`) {
		t.Errorf("ddl_plan.sql = %q, %v", plan, err)
	}
	for _, name := range []string{"table.ddl_planned", "ddl_attempt", "ddl_succeeded",
		"table.ddl_executed", "write.load_path", "write.complete"} {
		if len(env.EventsNamed(name)) != 1 {
			t.Errorf("event %s: %d, want 1", name, len(env.EventsNamed(name)))
		}
	}

	// Upsert with the same key twice in the input: the last row wins.
	if _, err := pgWrite(t, app, drivers.NewSliceStream(itemCols,
		items(2, "first", 4, "four", 2, "second"), 0), with("write_mode", "upsert")); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	if got := tableContent(t, "items_c"); got != "1:a\tb,2:second,3:new\nline,4:four" {
		t.Errorf("after upsert: %q", got)
	}

	// Replace with a key: upsert, then rows whose key is not in the input go.
	if _, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, items(3, "three", 5, "five"), 0),
		with("write_mode", "replace")); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := tableContent(t, "items_c"); got != "3:three,5:five" {
		t.Errorf("after replace: %q", got)
	}

	// Replace without a key empties the table and loads the input.
	noKey := with("write_mode", "replace")
	delete(noKey, "primary_key")
	if _, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, items(9, "nine"), 0),
		noKey); err != nil {
		t.Fatalf("replace without key: %v", err)
	}
	if got := tableContent(t, "items_c"); got != "9:nine" {
		t.Errorf("after keyless replace: %q", got)
	}
	waitNoSessions(t, admin, app, "after writes")
}

func TestWriterMissingTableAndPlanOnly(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".absent_c")
	_, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, nil, 0),
		map[string]any{"schema": testSchema, "table": "absent_c"})
	if err == nil || err.Error() != "Table absent_c does not exist and create_if_missing is false" {
		t.Fatalf("err = %v", err)
	}

	env, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, items(1, "x"), 0),
		map[string]any{"schema": testSchema, "table": "absent_c", "create_if_missing": true,
			"ddl_plan_only": true})
	if err != nil {
		t.Fatal(err)
	}
	ev := env.EventsNamed("table.ddl_planned")
	if len(ev) != 1 || ev[0].Fields["reason"] != "DDL plan only" || ev[0].Fields["executed"] != false {
		t.Errorf("ddl_planned = %#v", ev)
	}
	var exists bool
	if err := admin.QueryRow("SELECT to_regclass('" + testSchema + ".absent_c') IS NOT NULL").
		Scan(&exists); err != nil || exists {
		t.Errorf("plan-only created the table (%v)", err)
	}
}

func TestWriterNULByte(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".nul_c")
	cfg := map[string]any{"schema": testSchema, "table": "nul_c", "create_if_missing": true}
	rows := items(1, "fine", 2, "bad\x00byte")
	_, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, rows, 0), cfg)
	want := "table nul_c, column name col, row 2 holds a NUL byte"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
	var created bool
	if err := admin.QueryRow("SELECT to_regclass('" + testSchema + ".nul_c') IS NOT NULL").
		Scan(&created); err != nil || created {
		t.Errorf("a failed write left its created table behind (%v)", err)
	}

	cfg["strip_nul"] = true
	env, err := pgWrite(t, app, drivers.NewSliceStream(itemCols, rows, 0), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := tableContent(t, "nul_c"); got != "1:fine,2:badbyte" {
		t.Errorf("strip_nul stored %q", got)
	}
	if w := env.EventsNamed("write.warning"); len(w) != 1 || w[0].Fields["values"] != int64(1) {
		t.Errorf("strip_nul warning = %#v", w)
	}
}

func TestExtractTypes(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".types_c",
		`CREATE TABLE `+testSchema+`.types_c (i bigint, s smallint, n numeric(20,4), f float8,
		 r real, b boolean, d date, ts timestamp, tz timestamptz, tm time, j jsonb, by bytea,
		 tx text, u uuid)`,
		`INSERT INTO `+testSchema+`.types_c VALUES (-9223372036854775808, 7, 1234567890123456.7891,
		 'NaN', 0.5, true, '2024-02-29', '2024-02-29 01:02:03.456789',
		 '2024-02-29 01:02:03+02', '13:14:15', '{"a": 1}', '\x00ff', 'duck 🦆',
		 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), (NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		 NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	env := newEnv(t)
	res, err := pgExtractor.Run(context.Background(), drivers.Request{StepID: "x",
		Config: pgStep(app, map[string]any{"schema": testSchema, "table": "types_c"}), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	cols := res.Rows.Columns()
	rows, err := drivers.ReadAll(context.Background(), res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	types := make([]string, len(cols))
	for i, c := range cols {
		types[i] = c.Type
	}
	want := "int64 int64 decimal float64 float64 bool date timestamp timestamp time json bytes string string"
	if strings.Join(types, " ") != want {
		t.Errorf("types = %v, want %s", types, want)
	}
	if cols[2].SourceType != "numeric(20,4)" {
		t.Errorf("numeric source type = %q", cols[2].SourceType)
	}
	r := rows[0]
	if r[0] != int64(-9223372036854775808) || r[2] != drivers.Decimal("1234567890123456.7891") ||
		r[3] != nil || r[5] != true || r[12] != "duck 🦆" {
		t.Errorf("row = %#v", r)
	}
	if tz := r[8].(time.Time); !tz.Equal(time.Date(2024, 2, 28, 23, 2, 3, 0, time.UTC)) ||
		tz.Location() != time.UTC {
		t.Errorf("timestamptz = %v", tz)
	}
	if js, ok := r[10].(json.RawMessage); !ok || string(js) != `{"a": 1}` {
		t.Errorf("jsonb = %#v", r[10])
	}
	if by, ok := r[11].([]byte); !ok || string(by) != "\x00\xff" {
		t.Errorf("bytea = %#v", r[11])
	}
	for i, v := range rows[1] {
		if v != nil {
			t.Errorf("null row column %d = %#v", i, v)
		}
	}
	waitNoSessions(t, admin, app, "after extract")
}
