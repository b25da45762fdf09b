package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
)

// TestFailurePathsReleaseSessionsAndHideSecrets runs the failure paths with the sentinel
// password and a tagged application_name. Authentication failures come from a role with
// LOGIN disabled (the local server trusts 127.0.0.1, so a wrong password alone does not
// fail) and from the fake server in fallback_test.go.
func TestFailurePathsReleaseSessionsAndHideSecrets(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".big_c",
		"CREATE TABLE "+testSchema+".big_c AS SELECT g AS id, repeat('x', 100) AS pad "+
			"FROM generate_series(1, 200000) g")
	var transcript sqltest.Transcript

	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"login disabled", func(c map[string]any) { c["user"] = "osiris_c_nologin" },
			drivers.CategoryAuth},
		{"no such database", func(c map[string]any) { c["database"] = "osiris_c_absent" },
			drivers.CategoryConfig},
		{"closed port", func(c map[string]any) { c["port"] = 1 }, drivers.CategoryNetwork},
		// Malformed DSNs fail before any dial; their parse errors would quote them.
		{"password in a malformed url dsn", func(c map[string]any) {
			c["dsn"] = "postgres://postgres:" + testPassword + "%zz@127.0.0.1:5432/test"
		}, ""},
		{"password in a malformed key=value dsn", func(c map[string]any) {
			c["dsn"] = "host=127.0.0.1 dbname=test user=postgres password=" + testPassword +
				" connect_timeout=soon"
		}, ""},
	}
	for _, tc := range cases {
		for i := 0; i < 3; i++ {
			cfg := pgStep(app, map[string]any{"schema": testSchema, "table": "big_c"})
			tc.edit(cfg["resolved_connection"].(map[string]any))
			env := newEnv(t)
			_, err := pgExtractor.Run(context.Background(), drivers.Request{StepID: "fail",
				Config: cfg, Env: env})
			var de *drivers.Error
			if !errors.As(err, &de) {
				t.Fatalf("%s: err = %v, want a *drivers.Error", tc.name, err)
			}
			if tc.want != "" && de.Category != tc.want {
				t.Errorf("%s: category %q, want %q (%v)", tc.name, de.Category, tc.want, err)
			}
			transcript.Record(tc.name, err, env)
			res := pgExtractor.Doctor(context.Background(), cfg["resolved_connection"].(map[string]any),
				2*time.Second)
			if res.OK {
				t.Errorf("%s: doctor said ok", tc.name)
			}
			transcript.Printf("doctor %+v", res)
		}
	}
	if res := pgExtractor.Doctor(context.Background(), pgConn(app), 2*time.Second); !res.OK {
		t.Errorf("doctor on a good connection = %+v", res)
	}
	waitNoSessions(t, admin, app, "after failed connects")

	// A write whose input breaks in the middle leaves no rows and no session.
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".broken_c",
		"CREATE TABLE "+testSchema+".broken_c (id bigint PRIMARY KEY, \"name col\" text)")
	for _, mode := range []string{"append", "upsert"} {
		input := sqltest.FailingStream(itemCols, 30, 1000,
			func(id int64) []any { return []any{id, "v"} })
		env, err := pgWrite(t, app, input, map[string]any{"schema": testSchema,
			"table": "broken_c", "write_mode": mode, "primary_key": "id"})
		if err == nil {
			t.Fatalf("%s: a broken input did not fail the write", mode)
		}
		transcript.Record("broken input "+mode, err, env)
		if got := tableContent(t, "broken_c"); got != "" {
			t.Errorf("%s: a failed write left rows", mode)
		}
		waitNoSessions(t, admin, app, "after a failed "+mode+" write")
	}

	// A cancelled extraction stops its query and closes its session.
	env := newEnv(t)
	closeErr := sqltest.CancelMidExtraction(t, func(ctx context.Context) (drivers.Result, error) {
		return pgExtractor.Run(ctx, drivers.Request{StepID: "cancel",
			Config: pgStep(app, map[string]any{"schema": testSchema, "table": "big_c",
				"batch_size": 1000}), Env: env})
	})
	if closeErr != nil {
		t.Errorf("close after cancel: %v", closeErr)
	}
	transcript.Record("cancelled", nil, env)
	waitNoSessions(t, admin, app, "after a cancelled extract")

	assertNoSecret(t, "failure transcript", transcript.String())
}
