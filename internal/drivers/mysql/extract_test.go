package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// typesTable holds one row of every type the extractor maps, plus a row of nulls.
const typesTable = `CREATE TABLE types_c (
	id INT PRIMARY KEY,
	i BIGINT, u BIGINT UNSIGNED, d DECIMAL(30,10), f FLOAT, g DOUBLE, b TINYINT(1),
	bt BIT(1), bits BIT(12), dt DATE, ts DATETIME(6), tstamp TIMESTAMP NULL, zd DATE,
	tm TIME(3), js JSON, bl BLOB, en ENUM('red','green'), st SET('a','b','c'),
	tx TEXT, yr YEAR
) CHARACTER SET utf8mb4`

func setupTypes(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS types_c", typesTable,
		`SET SESSION sql_mode = ''; INSERT INTO types_c VALUES (1, -9223372036854775808,
		18446744073709551615, 12345678901234567890.0123456789, 0.1, 2.5e300, 1, b'1', b'101',
		'2024-02-29', '2024-02-29 13:14:15.123456', '2024-03-01 00:00:01', '0000-00-00',
		'-12:34:56.789', '{"a": [1, 2]}', X'00FF10', 'green', 'a,c',
		'emoji 🦆 and tab\there', 2024)`,
		`INSERT INTO types_c (id) VALUES (2)`)
}

func TestExtractTypes(t *testing.T) {
	setupTypes(t)
	cols, rows, env := extractAll(t, map[string]any{"table": "types_c"})

	wantTypes := map[string]string{"id": "int64", "i": "int64", "u": "uint64", "d": "decimal",
		"f": "float64", "g": "float64", "b": "bool", "bt": "bool", "bits": "int64", "dt": "date",
		"ts": "timestamp", "tstamp": "timestamp", "zd": "date", "tm": "time", "js": "json",
		"bl": "bytes", "en": "string", "st": "string", "tx": "string", "yr": "int64"}
	index := map[string]int{}
	for i, c := range cols {
		index[c.Name] = i
		if wantTypes[c.Name] != c.Type {
			t.Errorf("column %s: type %s, want %s (source %s)", c.Name, c.Type,
				wantTypes[c.Name], c.SourceType)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want 2", len(rows))
	}
	row := rows[0]
	get := func(name string) any { return row[index[name]] }
	checks := map[string]any{
		"i": int64(-9223372036854775808), "u": uint64(18446744073709551615),
		"d": drivers.Decimal("12345678901234567890.0123456789"), "f": 0.1, "g": 2.5e300,
		"b": true, "bt": true, "bits": int64(5), "dt": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"ts":     time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC),
		"tstamp": time.Date(2024, 3, 1, 0, 0, 1, 0, time.UTC), "zd": nil,
		"tm": "-12:34:56.789", "en": "green", "st": "a,c", "tx": "emoji 🦆 and tab\there",
		"yr": int64(2024),
	}
	for name, want := range checks {
		got := get(name)
		if wt, ok := want.(time.Time); ok {
			gt, isTime := got.(time.Time)
			if !isTime || !gt.Equal(wt) || gt.Location() != time.UTC {
				t.Errorf("%s = %#v, want %v", name, got, wt)
			}
			continue
		}
		if got != want {
			t.Errorf("%s = %#v (%T), want %#v", name, got, got, want)
		}
	}
	if js, ok := get("js").(json.RawMessage); !ok || !json.Valid(js) {
		t.Errorf("js = %#v, want valid json.RawMessage", get("js"))
	}
	if bl, ok := get("bl").([]byte); !ok || string(bl) != "\x00\xff\x10" {
		t.Errorf("bl = %#v", get("bl"))
	}
	for i, v := range rows[1] {
		if i != index["id"] && v != nil {
			t.Errorf("null row column %s = %#v", cols[i].Name, v)
		}
	}

	warnings := env.EventsNamed("extraction.warning")
	if len(warnings) != 1 || warnings[0].Fields["column"] != "zd" ||
		warnings[0].Fields["reason"] != "zero_date" {
		t.Errorf("zero date warning events = %#v", warnings)
	}
	if v, _ := env.MetricValue("rows_read"); v != int64(2) {
		t.Errorf("rows_read = %v", v)
	}
}

func TestExtractStreamsInBatches(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS seq_c", "CREATE TABLE seq_c (n INT PRIMARY KEY)",
		"INSERT INTO seq_c SELECT seq FROM seq_1_to_2500")
	env := newEnv(t)
	res, err := Extractor{}.Run(context.Background(), drivers.Request{StepID: "s",
		Config: stepConfig(map[string]any{"query": "SELECT n FROM seq_c ORDER BY n",
			"batch_size": 1000}), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Rows.Close()
	var sizes []int
	next := int64(1)
	for {
		batch, err := res.Rows.Next(context.Background())
		if err != nil {
			if !errors.Is(err, errEOF) {
				t.Fatal(err)
			}
			break
		}
		sizes = append(sizes, len(batch))
		for _, r := range batch {
			if r[0] != next {
				t.Fatalf("row %v, want %d", r[0], next)
			}
			next++
		}
	}
	if len(sizes) != 3 || sizes[0] != 1000 || sizes[2] != 500 {
		t.Errorf("batch sizes = %v, want [1000 1000 500]", sizes)
	}
	if n := len(env.EventsNamed("extraction.progress")); n != 2 {
		t.Errorf("progress events = %d, want 2", n)
	}
}

func TestExtractQueryError(t *testing.T) {
	adminDB(t)
	env := newEnv(t)
	_, err := Extractor{}.Run(context.Background(), drivers.Request{StepID: "bad",
		Config: stepConfig(map[string]any{"table": "no_such_table_c"}), Env: env})
	var de *drivers.Error
	if !errors.As(err, &de) || de.Kind != drivers.KindQuery {
		t.Fatalf("err = %v (%T), want a query *drivers.Error", err, err)
	}
	if got := err.Error(); got == "" || !contains(got, "no_such_table_c") {
		t.Errorf("error %q should name the table", got)
	}
	assertNoSecret(t, "error", err.Error())
}
