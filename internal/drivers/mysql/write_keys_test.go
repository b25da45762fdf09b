package mysql

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

var keyedCols = []drivers.Column{{Name: "id", Type: drivers.TypeInt},
	{Name: "email", Type: drivers.TypeString}, {Name: "name", Type: drivers.TypeString}}

// countRows is the number of rows in a table of the test database.
func countRows(t *testing.T, admin *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM " + testDB + "." + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// tableExists says whether the test database holds the table.
func tableExists(t *testing.T, admin *sql.DB, table string) bool {
	t.Helper()
	var n int
	err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, testDB, table).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestWriterUpsertNeedsUniqueKeyOnExactlyTheKeys(t *testing.T) {
	admin := adminDB(t)
	rows := [][]any{{int64(1), "a@x", "one"}}
	cases := []struct {
		name, ddl string
		keys      []any
	}{
		{"no key at all", "CREATE TABLE upk_c (id INT, email VARCHAR(50), name TEXT)",
			[]any{"id"}},
		{"keys not a unique index", "CREATE TABLE upk_c (id INT, email VARCHAR(50), " +
			"name TEXT, UNIQUE KEY by_email (email))", []any{"id"}},
		{"keys a superset of the index", "CREATE TABLE upk_c (id INT PRIMARY KEY, " +
			"email VARCHAR(50), name TEXT)", []any{"id", "email"}},
		{"keys a subset of the index", "CREATE TABLE upk_c (id INT, email VARCHAR(50), " +
			"name TEXT, PRIMARY KEY (id, email))", []any{"email"}},
		{"keys only a plain index", "CREATE TABLE upk_c (id INT, email VARCHAR(50), " +
			"name TEXT, KEY by_id (id))", []any{"id"}},
	}
	for _, method := range []string{"load_data", "insert"} {
		for _, c := range cases {
			t.Run(method+"/"+c.name, func(t *testing.T) {
				exec(t, admin, "DROP TABLE IF EXISTS upk_c", c.ddl,
					"INSERT INTO upk_c VALUES (1, 'a@x', 'old')")
				env, err := runWriter(t, drivers.NewSliceStream(keyedCols, rows, 0),
					map[string]any{"table": "upk_c", "write_mode": "upsert",
						"upsert_keys": c.keys, "load_method": method})
				if err == nil {
					t.Fatalf("upsert accepted; table now holds %d rows",
						countRows(t, admin, "upk_c"))
				}
				var de *drivers.Error
				if !errors.As(err, &de) || de.Kind != drivers.KindConfig {
					t.Errorf("error kind: %#v", err)
				}
				msg := err.Error()
				t.Log(msg)
				for _, want := range []string{"upk_c", "upsert_keys", "PRIMARY KEY or UNIQUE",
					"ADD UNIQUE"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not say %q", msg, want)
					}
				}
				for _, k := range c.keys {
					if !strings.Contains(msg, k.(string)) {
						t.Errorf("error %q does not name key %v", msg, k)
					}
				}
				if n := countRows(t, admin, "upk_c"); n != 1 {
					t.Errorf("table holds %d rows after a refused upsert", n)
				}
				if len(env.EventsNamed("write.error")) != 1 {
					t.Errorf("no write.error event")
				}
			})
		}
	}
}

func TestWriterUpsertKeyChecksAccept(t *testing.T) {
	admin := adminDB(t)
	for _, method := range []string{"load_data", "insert"} {
		t.Run(method, func(t *testing.T) {
			// A unique index on the keys in another order and case is the same key.
			exec(t, admin, "DROP TABLE IF EXISTS upok_c", "CREATE TABLE upok_c (id INT, "+
				"email VARCHAR(50), name TEXT, UNIQUE KEY pair (EMAIL, id))",
				"INSERT INTO upok_c VALUES (1, 'a@x', 'old')")
			rows := [][]any{{int64(1), "a@x", "new"}, {int64(2), "b@x", "two"}}
			_, err := runWriter(t, drivers.NewSliceStream(keyedCols, rows, 0),
				map[string]any{"table": "upok_c", "write_mode": "upsert",
					"upsert_keys": []any{"id", "email"}, "load_method": method})
			if err != nil {
				t.Fatal(err)
			}
			var name string
			if err := admin.QueryRow("SELECT name FROM " + testDB +
				".upok_c WHERE id = 1").Scan(&name); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, admin, "upok_c"); n != 2 || name != "new" {
				t.Errorf("rows = %d, name of 1 = %q", n, name)
			}

			// A table the run creates gets its key with it.
			exec(t, admin, "DROP TABLE IF EXISTS upnew_c")
			_, err = runWriter(t, drivers.NewSliceStream(keyedCols, rows, 0),
				map[string]any{"table": "upnew_c", "write_mode": "upsert",
					"upsert_keys": []any{"id"}, "create_if_missing": true,
					"load_method": method})
			if err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, admin, "upnew_c"); n != 2 {
				t.Errorf("created table holds %d rows", n)
			}
		})
	}
}
