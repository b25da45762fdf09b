package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

var writeCols = []drivers.Column{
	{Name: "id", Type: drivers.TypeInt}, {Name: "name col", Type: drivers.TypeString},
	{Name: "amount$", Type: drivers.TypeDecimal, SourceType: "decimal(12,2)"},
	{Name: "ok", Type: drivers.TypeBool}, {Name: "at", Type: drivers.TypeTimestamp},
	{Name: "day", Type: drivers.TypeDate}, {Name: "doc", Type: drivers.TypeJSON},
	{Name: "raw", Type: drivers.TypeBytes}, {Name: "big", Type: drivers.TypeUint},
	{Name: "f", Type: drivers.TypeFloat},
}

func writeRow(id int64, name string) []any {
	return []any{id, name, drivers.Decimal("1234567890.12"), id%2 == 0,
		time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC),
		time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), json.RawMessage(`{"k":"v"}`),
		[]byte{0, '\t', '\n', '\\', 0xff}, uint64(18446744073709551615), 0.1}
}

func runWriter(t *testing.T, input drivers.Stream, cfg map[string]any) (*sqlcommon.RecordingEnv,
	error) {
	t.Helper()
	env := newEnv(t)
	_, err := Writer{}.Run(context.Background(), drivers.Request{StepID: "write",
		Config: stepConfig(cfg), Env: env,
		Inputs: []drivers.Input{{Key: "df_src", FromStep: "src", Rows: input}}})
	return env, err
}

func TestWriterModesBothPaths(t *testing.T) {
	admin := adminDB(t)
	for _, method := range []string{"load_data", "insert"} {
		t.Run(method, func(t *testing.T) {
			table := "write_c_" + method
			exec(t, admin, "DROP TABLE IF EXISTS "+table)
			names := []string{"tab\there", "new\nline", "back\\slash", "nul\x00byte", "🦆 utf8mb4"}
			var rows [][]any
			for i, n := range names {
				rows = append(rows, writeRow(int64(i+1), n))
			}
			base := map[string]any{"table": table, "create_table": true, "load_method": method,
				"upsert_keys": []any{"id"}, "batch_size": 2}

			env, err := runWriter(t, drivers.NewSliceStream(writeCols, rows, 2), base)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			paths := env.EventsNamed("write.load_path")
			if len(paths) != 1 || paths[0].Fields["path"] != method {
				t.Errorf("load path events = %#v", paths)
			}
			if !strings.Contains(env.Transcript(), "path="+method) {
				t.Errorf("log does not name the load path:\n%s", env.Transcript())
			}
			_, back, _ := extractAll(t, map[string]any{"table": table})
			if len(back) != len(names) {
				t.Fatalf("rows back = %d", len(back))
			}
			for i, r := range back {
				want := writeRow(int64(i+1), names[i])
				for c := range want {
					if fmt.Sprint(r[c]) != fmt.Sprint(want[c]) {
						t.Errorf("row %d col %s = %#v, want %#v", i, writeCols[c].Name, r[c], want[c])
					}
				}
			}

			// upsert: one changed row, one new row.
			up := [][]any{writeRow(2, "changed"), writeRow(9, "nine")}
			upsert := copyMap(base, "write_mode", "upsert")
			if _, err := runWriter(t, drivers.NewSliceStream(writeCols, up, 0), upsert); err != nil {
				t.Fatalf("upsert: %v", err)
			}
			assertNames(t, admin, table, "1:tab\there,2:changed,3:back\\slash,4:nul\x00byte,"+
				"5:🦆 utf8mb4,9:nine")

			// replace: the table holds exactly the input afterwards.
			replace := copyMap(base, "write_mode", "replace")
			if _, err := runWriter(t, drivers.NewSliceStream(writeCols, [][]any{writeRow(7, "seven")}, 0),
				replace); err != nil {
				t.Fatalf("replace: %v", err)
			}
			assertNames(t, admin, table, "7:seven")
		})
	}
}

func copyMap(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// assertNames compares the table's "id:name" pairs, in id order, with want.
func assertNames(t *testing.T, admin *sql.DB, table, want string) {
	t.Helper()
	rows, err := admin.Query("SELECT id, `name col` FROM " + testDB + "." + table + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pairs []string
	for rows.Next() {
		var id int
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, fmt.Sprintf("%d:%s", id, name))
	}
	if got := strings.Join(pairs, ","); got != want {
		t.Errorf("table %s holds %q, want %q", table, got, want)
	}
}

func TestWriterRejectsValuesTheServerWouldTruncate(t *testing.T) {
	admin := adminDB(t)
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt}, {Name: "s", Type: drivers.TypeString}}
	for _, method := range []string{"load_data", "insert"} {
		exec(t, admin, "DROP TABLE IF EXISTS narrow_c",
			"CREATE TABLE narrow_c (n INT PRIMARY KEY, s VARCHAR(3))")
		rows := [][]any{{int64(1), "abc"}, {int64(2), "too long"}}
		_, err := runWriter(t, drivers.NewSliceStream(cols, rows, 0),
			map[string]any{"table": "narrow_c", "load_method": method})
		if err == nil {
			t.Fatalf("%s: a value too long for its column was accepted", method)
		}
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM " + testDB + ".narrow_c").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows stored by a failed write", method, n)
		}
		t.Logf("%s: %v", method, err)
		assertNoSecret(t, "error", err.Error())
	}
}

func TestWriterMissingTable(t *testing.T) {
	adminDB(t)
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt}}
	_, err := runWriter(t, drivers.NewSliceStream(cols, nil, 0), map[string]any{"table": "absent_c"})
	if err == nil || err.Error() != "Table absent_c does not exist and create_if_missing is false" {
		t.Fatalf("err = %v", err)
	}
}
