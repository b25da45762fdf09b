// Package sqltest holds what the MySQL and PostgreSQL driver tests share: admin
// connections to the local servers (a test fails without them in CI and skips elsewhere),
// waiting for a test's own sessions to close, searching output for secrets, and the
// failure scenarios every SQL driver must survive. Only tests import it.
package sqltest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
)

// Local servers the tests talk to, as the machine and CI provide them.
const (
	MariaDBAddr      = "127.0.0.1:3306"
	PostgresAdminDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5"
)

// Reachable opens connector and pings it. A server that does not answer fails the test
// when CI is set (the servers are part of the test environment there) and skips it
// elsewhere. The connection is closed when the test ends.
func Reachable(t testing.TB, what string, connector driver.Connector) *sql.DB {
	t.Helper()
	db := sql.OpenDB(connector)
	if err := db.Ping(); err != nil {
		_ = db.Close()
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", what, err)
		}
		t.Skipf("%s not reachable: %v", what, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// MariaDBRoot connects to the local MariaDB as root with multi-statement Exec, so that a
// test can set up its own database in one call.
func MariaDBRoot(t testing.TB) *sql.DB {
	t.Helper()
	cfg := gomysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = MariaDBAddr
	cfg.Timeout = 5 * time.Second
	cfg.MultiStatements = true
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Reachable(t, "MariaDB at "+MariaDBAddr, connector)
}

// PostgresAdmin connects to the local PostgreSQL's test database as postgres (trust
// authentication).
func PostgresAdmin(t testing.TB) *sql.DB {
	t.Helper()
	connector, err := pq.NewConnector(PostgresAdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	return Reachable(t, "PostgreSQL at 127.0.0.1:5432", connector)
}

// WaitNoSessions polls count until it reports no session. The server notices closed
// sockets a little later than the client closes them, so the wait is generous; sessions
// still there after it fail the test, naming what the test did (what) and whose
// sessions they are (whose).
func WaitNoSessions(t testing.TB, what, whose string, count func() int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := count()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d sessions %s still open", what, n, whose)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// AssertNoneOf fails the test for each needle (a password, user@host, host:port) found
// in text, which is named what in the failure.
func AssertNoneOf(t testing.TB, what, text string, needles ...string) {
	t.Helper()
	for _, needle := range needles {
		if strings.Contains(text, needle) {
			t.Errorf("%s contains %q:\n%s", what, needle, text)
		}
	}
}

// Transcript gathers everything a run of failure paths printed or reported: each error
// in every format a caller might print it, and each env's recorded logs, events and
// metrics. A test searches the whole of it for secrets at the end.
type Transcript struct {
	b strings.Builder
}

// Record adds an error (when not nil) in its %s, %+v and %v forms and, when env is not
// nil, all that env recorded.
func (tr *Transcript) Record(what string, err error, env interface{ Transcript() string }) {
	if err != nil {
		fmt.Fprintf(&tr.b, "%s: %s | %+v | %v\n", what, err.Error(), err, err)
	}
	if env != nil {
		tr.b.WriteString(env.Transcript())
	}
}

// Printf adds a line of the caller's own, such as a doctor result.
func (tr *Transcript) Printf(format string, args ...any) {
	fmt.Fprintf(&tr.b, format+"\n", args...)
}

// String returns everything recorded.
func (tr *Transcript) String() string { return tr.b.String() }

// FailingStream serves goodBatches batches of batchRows rows (row builds each from an id
// counting up from 1) and then fails, like an upstream step that breaks in the middle of
// a write.
func FailingStream(cols []drivers.Column, goodBatches, batchRows int,
	row func(id int64) []any) drivers.Stream {
	served := 0
	var id int64
	return &drivers.FuncStream{Cols: cols, NextFunc: func(context.Context) ([][]any, error) {
		if served == goodBatches {
			return nil, errors.New("upstream broke")
		}
		served++
		batch := make([][]any, batchRows)
		for i := range batch {
			id++
			batch[i] = row(id)
		}
		return batch, nil
	}}
}

// CancelMidExtraction starts an extraction under a context it cancels after the first
// batch, then reads on: the stream must end with an error, never as if the data were
// complete. It returns what closing the stream said.
func CancelMidExtraction(t testing.TB,
	extract func(ctx context.Context) (drivers.Result, error)) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := extract(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.Rows.Next(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		if _, err := res.Rows.Next(context.Background()); err != nil {
			if err == io.EOF {
				t.Error("a cancelled extraction ended as if complete")
			}
			break
		}
	}
	return res.Rows.Close()
}

// DiscoveredTable returns the named table's entry in a discovery (which also lists other
// tests' tables), failing the test when it is missing.
func DiscoveredTable(t testing.TB, d *drivers.Discovery, name string) drivers.TableInfo {
	t.Helper()
	for _, table := range d.Tables {
		if table.Name == name {
			return table
		}
	}
	t.Fatalf("%s not discovered: %+v", name, d.Tables)
	return drivers.TableInfo{}
}

// ColumnTypes lists a discovered table's columns as "name type", in order.
func ColumnTypes(table drivers.TableInfo) string {
	parts := make([]string, len(table.Columns))
	for i, c := range table.Columns {
		parts[i] = c.Name + " " + c.Type
	}
	return strings.Join(parts, ", ")
}

// AssertTable checks a discovered table's columns ("name type, ..."), primary key, row
// count and number of sample rows.
func AssertTable(t testing.TB, table drivers.TableInfo, columns string, keys []string,
	rowCount int64, samples int) {
	t.Helper()
	if got := ColumnTypes(table); got != columns {
		t.Errorf("%s columns %s, want %s", table.Name, got, columns)
	}
	if strings.Join(table.PrimaryKeys, ",") != strings.Join(keys, ",") {
		t.Errorf("%s primary keys %v, want %v", table.Name, table.PrimaryKeys, keys)
	}
	if table.RowCount == nil || *table.RowCount != rowCount {
		t.Errorf("%s row count %v, want %d", table.Name, table.RowCount, rowCount)
	}
	if len(table.SampleData) != samples {
		t.Fatalf("%s samples %v, want %d", table.Name, table.SampleData, samples)
	}
}
