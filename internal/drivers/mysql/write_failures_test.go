package mysql

import (
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

func TestWriterDropsTheTableItCreatedWhenTheLoadFails(t *testing.T) {
	admin := adminDB(t)
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt},
		{Name: "d", Type: drivers.TypeDate}}
	// The date column is DATE; a text that is not a date makes the server refuse it.
	bad := [][]any{{int64(1), "not a date"}}
	for _, method := range []string{"load_data", "insert"} {
		t.Run(method, func(t *testing.T) {
			exec(t, admin, "DROP TABLE IF EXISTS dropnew_c")
			env, err := runWriter(t, drivers.NewSliceStream(cols, bad, 0),
				map[string]any{"table": "dropnew_c", "create_if_missing": true,
					"load_method": method})
			if err == nil {
				t.Fatal("a bad date was accepted")
			}
			if tableExists(t, admin, "dropnew_c") {
				t.Errorf("the table this run created is still there after: %v", err)
			}
			dropped := env.EventsNamed("table.dropped")
			if len(dropped) != 1 || dropped[0].Fields["table"] != "dropnew_c" ||
				!strings.Contains(dropped[0].Fields["reason"].(string), "failed") {
				t.Errorf("table.dropped events = %#v", dropped)
			} else {
				assertNoSecret(t, "table.dropped reason", dropped[0].Fields["reason"].(string))
			}

			// A table that was there before stays, whatever the outcome.
			exec(t, admin, "DROP TABLE IF EXISTS dropnew_c", "CREATE TABLE dropnew_c (n BIGINT, d DATE)")
			env, err = runWriter(t, drivers.NewSliceStream(cols, bad, 0),
				map[string]any{"table": "dropnew_c", "create_if_missing": true,
					"load_method": method})
			if err == nil {
				t.Fatal("a bad date was accepted")
			}
			if !tableExists(t, admin, "dropnew_c") {
				t.Errorf("a table the run did not create was dropped")
			}
			if n := len(env.EventsNamed("table.dropped")); n != 0 {
				t.Errorf("%d table.dropped events for a table the run did not create", n)
			}
		})
	}
}
