package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// failingStream serves good batches and then fails, like an upstream step that breaks
// in the middle of a write.
func failingStream(cols []drivers.Column, goodBatches int, row func(int64) []any) drivers.Stream {
	served := 0
	var id int64
	return &drivers.FuncStream{Cols: cols, NextFunc: func(ctx context.Context) ([][]any, error) {
		if served == goodBatches {
			return nil, errors.New("upstream broke")
		}
		served++
		batch := make([][]any, 500)
		for i := range batch {
			id++
			batch[i] = row(id)
		}
		return batch, nil
	}}
}

// TestFailurePathsReleaseConnectionsAndHideSecrets runs every failure path with the
// sentinel password, then checks the server holds no session of ours and that no error,
// log line or event carries the password, user@host or host:port.
func TestFailurePathsReleaseConnectionsAndHideSecrets(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS leak_c", "CREATE TABLE leak_c (n INT PRIMARY KEY, s TEXT)",
		"INSERT INTO leak_c SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000")
	var transcript strings.Builder
	record := func(what string, err error, env interface{ Transcript() string }) {
		if err != nil {
			fmt.Fprintf(&transcript, "%s error: %s\n%+v\n%v\n", what, err.Error(), err, err)
		}
		if env != nil {
			transcript.WriteString(env.Transcript())
		}
	}

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
		record("wrong password", err, env)
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
		record("closed port", err, env)
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
		fmt.Fprintf(&transcript, "doctor %+v\n", res)
	}
	_, err := Extractor{}.Discover(context.Background(), wrong["resolved_connection"].(map[string]any),
		drivers.DiscoverOptions{Samples: 2})
	if err == nil {
		t.Fatal("discovery with a wrong password succeeded")
	}
	record("discovery", err, nil)

	cols := []drivers.Column{{Name: "n", Type: drivers.TypeInt}, {Name: "s", Type: drivers.TypeString}}
	for _, method := range []string{"load_data", "insert"} {
		exec(t, admin, "DROP TABLE IF EXISTS leak_w_c", "CREATE TABLE leak_w_c (n INT PRIMARY KEY, s TEXT)")
		input := failingStream(cols, 3, func(id int64) []any { return []any{id, "v"} })
		env, err := runWriter(t, input, map[string]any{"table": "leak_w_c", "load_method": method})
		if err == nil {
			t.Fatalf("%s: a failing input did not fail the write", method)
		}
		record("mid-stream "+method, err, env)
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
	ctx, cancel := context.WithCancel(context.Background())
	res, err := Extractor{}.Run(ctx, drivers.Request{StepID: "cancel",
		Config: stepConfig(map[string]any{"table": "leak_c", "batch_size": 1000}), Env: env})
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
	if err := res.Rows.Close(); err != nil {
		t.Errorf("close after cancel: %v", err)
	}
	record("cancelled extract", nil, env)
	waitNoConnections(t, admin, "after a cancelled extract")

	assertNoSecret(t, "failure transcript", transcript.String())
	if !strings.Contains(transcript.String(), "Authentication failed") {
		t.Errorf("transcript lacks the auth category wording:\n%s", transcript.String())
	}
}
