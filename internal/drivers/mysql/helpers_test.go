package mysql

import (
	"context"
	"database/sql"
	"io"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
)

// The tests use their own database and a dedicated user with a distinctive password
// (holding @ and /), so they can count their own server connections and search all
// output for the password.
const (
	testDB       = "osiris_c_test"
	testUser     = "osiris_c_app"
	testPassword = "S3nt1nel@pw/osiris-c"
)

// adminDB connects as root to set the test database and user up.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	db := sqltest.MariaDBRoot(t)
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS " + testDB + " CHARACTER SET utf8mb4",
		"CREATE USER IF NOT EXISTS '" + testUser + "'@'%' IDENTIFIED BY '" + testPassword + "'",
		"CREATE USER IF NOT EXISTS '" + testUser + "'@'localhost' IDENTIFIED BY '" +
			testPassword + "'",
		"GRANT ALL ON " + testDB + ".* TO '" + testUser + "'@'%'",
		"GRANT ALL ON " + testDB + ".* TO '" + testUser + "'@'localhost'",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return db
}

// exec runs admin statements in the test database.
func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec("USE " + testDB + "; " + s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// connCfg is the resolved connection of the test user.
func connCfg() map[string]any {
	return map[string]any{"host": "127.0.0.1", "port": 3306, "database": testDB,
		"user": testUser, "password": testPassword}
}

func stepConfig(extra map[string]any) map[string]any {
	cfg := map[string]any{"resolved_connection": connCfg()}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func newEnv(t *testing.T) *sqlcommon.RecordingEnv {
	return sqlcommon.NewRecordingEnv(t.TempDir())
}

// extractAll runs the extractor and reads its whole stream.
func extractAll(t *testing.T, cfg map[string]any) ([]drivers.Column, [][]any,
	*sqlcommon.RecordingEnv) {
	t.Helper()
	env := newEnv(t)
	res, err := Extractor{}.Run(context.Background(), drivers.Request{StepID: "extract",
		Config: stepConfig(cfg), Env: env})
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	cols := res.Rows.Columns()
	rows, err := drivers.ReadAll(context.Background(), res.Rows)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return cols, rows, env
}

// ourConnections counts the server sessions of the test user.
func ourConnections(t *testing.T, admin *sql.DB) int {
	t.Helper()
	var n int
	err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?",
		testUser).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitNoConnections waits for the server to notice closed sockets; it fails when our
// sessions are still there after a generous while.
func waitNoConnections(t *testing.T, admin *sql.DB, what string) {
	t.Helper()
	sqltest.WaitNoSessions(t, what, "of "+testUser, func() int { return ourConnections(t, admin) })
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	sqltest.AssertNoneOf(t, what, text, testPassword, "S3nt1nel", testUser+"@", "@127.0.0.1",
		"127.0.0.1:", ":3306", "@'localhost'", "@localhost")
}

var errEOF = io.EOF

func contains(s, sub string) bool { return strings.Contains(s, sub) }
