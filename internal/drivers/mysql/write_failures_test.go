package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

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

func TestWriterLoadDataReportsTheServersReason(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS reason_c", "CREATE TABLE reason_c (n BIGINT)")
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt},
		{Name: "extra", Type: drivers.TypeString}}
	var rows [][]any
	for i := range 5000 {
		rows = append(rows, []any{int64(i), "x"})
	}
	for _, method := range []string{"load_data", "insert"} {
		_, err := runWriter(t, drivers.NewSliceStream(cols, rows, 100),
			map[string]any{"table": "reason_c", "load_method": method})
		if err == nil {
			t.Fatalf("%s: a column the table lacks was accepted", method)
		}
		var de *drivers.Error
		if !errors.As(err, &de) || de.Kind != drivers.KindQuery {
			t.Errorf("%s: error kind of %v", method, err)
		}
		msg := err.Error()
		t.Logf("%s: %s", method, msg)
		if !strings.Contains(msg, "1054") || !strings.Contains(msg, "extra") ||
			strings.Contains(msg, "reading the input") {
			t.Errorf("%s: error %q does not carry the server's reason", method, msg)
		}
		assertNoSecret(t, "error", msg)
	}
}

// brokenStream serves one batch, then fails as an upstream step might.
type brokenStream struct {
	cols   []drivers.Column
	served bool
}

func (s *brokenStream) Columns() []drivers.Column { return s.cols }
func (s *brokenStream) Close() error              { return nil }
func (s *brokenStream) Next(context.Context) ([][]any, error) {
	if s.served {
		return nil, errors.New("upstream broke")
	}
	s.served = true
	return [][]any{{int64(1)}}, nil
}

func TestWriterLoadDataBlamesABrokenInput(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS broken_c", "CREATE TABLE broken_c (n BIGINT)")
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt}}
	for _, method := range []string{"load_data", "insert"} {
		_, err := runWriter(t, &brokenStream{cols: cols},
			map[string]any{"table": "broken_c", "load_method": method})
		var de *drivers.Error
		if !errors.As(err, &de) || de.Kind != drivers.KindIO ||
			!strings.Contains(err.Error(), "reading the input failed") {
			t.Errorf("%s: err = %v", method, err)
		}
		if n := countRows(t, admin, "broken_c"); n != 0 {
			t.Errorf("%s: %d rows stored by a failed write", method, n)
		}
	}
}
func TestWriterInsertErrorNamesTheInputRow(t *testing.T) {
	admin := adminDB(t)
	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt},
		{Name: "s", Type: drivers.TypeString}}
	var rows [][]any
	for i := 1; i <= 2500; i++ {
		s := "ok"
		if i == 2345 {
			s = "too long"
		}
		rows = append(rows, []any{int64(i), s})
	}
	for _, method := range []string{"load_data", "insert"} {
		exec(t, admin, "DROP TABLE IF EXISTS rowno_c", "CREATE TABLE rowno_c (n INT, s VARCHAR(3))")
		_, err := runWriter(t, drivers.NewSliceStream(cols, rows, 700),
			map[string]any{"table": "rowno_c", "load_method": method, "batch_size": 1000})
		if err == nil {
			t.Fatalf("%s: a value too long was accepted", method)
		}
		if !strings.Contains(err.Error(), "at row 2345") {
			t.Errorf("%s: error %q does not name input row 2345", method, err)
		}
	}
}

func TestAtInputRow(t *testing.T) {
	tooLong := &gomysql.MySQLError{Number: 1406, Message: "Data too long for column 's' at row 7"}
	got := atInputRow(tooLong, 2000)
	var myErr *gomysql.MySQLError
	if !errors.As(got, &myErr) || myErr.Number != 1406 ||
		myErr.Message != "Data too long for column 's' at row 2007" {
		t.Errorf("renumbered = %#v", got)
	}
	if tooLong.Message != "Data too long for column 's' at row 7" {
		t.Errorf("the server's error was changed in place: %q", tooLong.Message)
	}
	noRow := &gomysql.MySQLError{Number: 1054, Message: "Unknown column 'x' in 'INSERT INTO'"}
	if got := atInputRow(noRow, 5); got != error(noRow) {
		t.Errorf("an error without a row changed: %v", got)
	}
	other := errors.New("at row 3")
	if got := atInputRow(other, 5); got != other {
		t.Errorf("a non-server error changed: %v", got)
	}
}
