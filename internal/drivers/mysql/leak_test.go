package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
)

// TestFailurePathsReleaseConnectionsAndHideSecrets runs every failure path with the
// sentinel password, then checks the server holds no session of ours and that no error,
// log line or event carries the password, user@host or host:port.
func TestFailurePathsReleaseConnectionsAndHideSecrets(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS leak_c", "CREATE TABLE leak_c (n INT PRIMARY KEY, s TEXT)",
		"INSERT INTO leak_c SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000")
	var transcript sqltest.Transcript

	wrong := stepConfig(map[string]any{"table": "leak_c"})
	wrong["resolved_connection"].(map[string]any)["password"] = testPassword + "-wrong"
	for i := 0; i < 5; i++ {
		env := newEnv(t)
		_, err := Extractor{}.Run(context.Background(), drivers.Request{StepID: "wrongpw",
			Config: wrong, Env: env})
		var de *drivers.Error
		if !errors.As(err, &de) || de.Category != drivers.CategoryAuth {
			t.Fatalf("wrong password: err = %v, want auth category", err)
		}
		transcript.Record("wrong password", err, env)
	}
	waitNoConnections(t, admin, "after wrong passwords")

	closed := stepConfig(map[string]any{"table": "leak_c"})
	closed["resolved_connection"].(map[string]any)["port"] = 1
	for i := 0; i < 3; i++ {
		env := newEnv(t)
		_, err := Extractor{}.Run(context.Background(), drivers.Request{StepID: "closedport",
			Config: closed, Env: env})
		var de *drivers.Error
		if !errors.As(err, &de) || de.Category != drivers.CategoryNetwork {
			t.Fatalf("closed port: err = %v, want network category", err)
		}
		transcript.Record("closed port", err, env)
	}

	for _, tc := range []struct {
		conn map[string]any
		want string
	}{
		{wrong["resolved_connection"].(map[string]any), drivers.CategoryAuth},
		{closed["resolved_connection"].(map[string]any), drivers.CategoryNetwork},
		{connCfg(), drivers.CategoryOK},
	} {
		res := Extractor{}.Doctor(context.Background(), tc.conn, 2*time.Second)
		if res.Category != tc.want || res.OK != (tc.want == drivers.CategoryOK) {
			t.Errorf("doctor = %+v, want %s", res, tc.want)
		}
		transcript.Printf("doctor %+v", res)
	}
	_, err := Extractor{}.Discover(context.Background(), wrong["resolved_connection"].(map[string]any),
		drivers.DiscoverOptions{Samples: 2})
	if err == nil {
		t.Fatal("discovery with a wrong password succeeded")
	}
	transcript.Record("discovery", err, nil)

	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt}, {Name: "s", Type: drivers.TypeString}}
	for _, method := range []string{"load_data", "insert"} {
		exec(t, admin, "DROP TABLE IF EXISTS leak_w_c", "CREATE TABLE leak_w_c (n INT PRIMARY KEY, s TEXT)")
		input := sqltest.FailingStream(cols, 3, 500, func(id int64) []any { return []any{id, "v"} })
		env, err := runWriter(t, input, map[string]any{"table": "leak_w_c", "load_method": method})
		if err == nil {
			t.Fatalf("%s: a failing input did not fail the write", method)
		}
		transcript.Record("mid-stream "+method, err, env)
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM " + testDB + ".leak_w_c").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows left after a failed write, want 0", method, n)
		}
		waitNoConnections(t, admin, "after a failed "+method+" write")
	}

	env := newEnv(t)
	closeErr := sqltest.CancelMidExtraction(t, func(ctx context.Context) (drivers.Result, error) {
		return Extractor{}.Run(ctx, drivers.Request{StepID: "cancel",
			Config: stepConfig(map[string]any{"table": "leak_c", "batch_size": 1000}), Env: env})
	})
	if closeErr != nil {
		t.Errorf("close after cancel: %v", closeErr)
	}
	transcript.Record("cancelled extract", nil, env)
	waitNoConnections(t, admin, "after a cancelled extract")

	assertNoSecret(t, "failure transcript", transcript.String())
	if !strings.Contains(transcript.String(), "Authentication failed") {
		t.Errorf("transcript lacks the auth category wording:\n%s", transcript.String())
	}
}
