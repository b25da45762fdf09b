package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
)

// The tests work in their own schema and tag their connections with a per-test
// application_name, so that they can count what they left open in pg_stat_activity.
const (
	testSchema   = "osiris_c"
	testPassword = "S3nt1nel@pw/osiris-c"
)

func adminPG(t *testing.T) *sql.DB {
	t.Helper()
	db := sqltest.PostgresAdmin(t)
	pgExec(t, db, "CREATE SCHEMA IF NOT EXISTS "+testSchema)
	var exists bool
	if err := db.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'osiris_c_nologin')").
		Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		// Another test process may create it at the same moment; either way it exists.
		_, _ = db.Exec("CREATE ROLE osiris_c_nologin NOLOGIN")
	}
	return db
}

func pgExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func appName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "osiris_c_" + hex.EncodeToString(b[:])
}

// pgConn is a resolved connection to the local server carrying the sentinel password
// (trust auth ignores it) and the test's application_name.
func pgConn(app string) map[string]any {
	return map[string]any{"host": "127.0.0.1", "port": 5432, "database": "test",
		"user": "postgres", "password": testPassword, "sslmode": "disable",
		"application_name": app}
}

func pgStep(app string, extra map[string]any) map[string]any {
	cfg := map[string]any{"resolved_connection": pgConn(app)}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func newEnv(t *testing.T) *sqlcommon.RecordingEnv {
	return sqlcommon.NewRecordingEnv(t.TempDir())
}

var (
	pgExtractor = Driver{family: familyPostgres}
	pgWriter    = Driver{family: familyPostgres, writer: true}
)

func pgWrite(t *testing.T, app string, input drivers.Stream, cfg map[string]any) (
	*sqlcommon.RecordingEnv, error) {
	t.Helper()
	env := newEnv(t)
	_, err := pgWriter.Run(context.Background(), drivers.Request{StepID: "load",
		Config: pgStep(app, cfg), Env: env,
		Inputs: []drivers.Input{{Key: "df_src", FromStep: "src", Rows: input}}})
	return env, err
}

func ourSessions(t *testing.T, admin *sql.DB, app string) int {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
		app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitNoSessions(t *testing.T, admin *sql.DB, app, what string) {
	t.Helper()
	sqltest.WaitNoSessions(t, what, "named "+app, func() int { return ourSessions(t, admin, app) })
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	sqltest.AssertNoneOf(t, what, text, testPassword, "S3nt1nel", "postgres@", "@127.0.0.1",
		"127.0.0.1:", "127.0.0.2", ":5432", "@localhost")
}
