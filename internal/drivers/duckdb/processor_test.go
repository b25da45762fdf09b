//go:build !noduckdb

package duckdb

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osirisgo/osiris/internal/drivers"
)

type testEnv struct {
	tmp     string
	mu      sync.Mutex
	metrics map[string]any
}

func (e *testEnv) OutputDir() string { return e.tmp }
func (e *testEnv) BasePath() string  { return e.tmp }
func (e *testEnv) TempDir() string   { return e.tmp }
func (e *testEnv) Metric(name string, value any, unit string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics[name] = value
}
func (e *testEnv) Event(string, map[string]any) {}
func (e *testEnv) Logger() *slog.Logger         { return slog.New(slog.DiscardHandler) }

func TestProcessorJoinsTypedInputs(t *testing.T) {
	env := &testEnv{tmp: t.TempDir(), metrics: map[string]any{}}
	airports := drivers.NewSliceStream([]drivers.Column{
		{Name: "iata", Type: drivers.TypeString}, {Name: "state", Type: drivers.TypeString},
		{Name: "lat", Type: drivers.TypeFloat}, {Name: "big", Type: drivers.TypeBool},
	}, [][]any{
		{"AAA", "TX", 30.5, true}, {"BBB", "TX", 31.0, false}, {"CCC", "MS", nil, nil},
	}, 2)
	states := drivers.NewSliceStream([]drivers.Column{
		{Name: "code", Type: drivers.TypeString}, {Name: "since", Type: drivers.TypeDate},
	}, [][]any{{"TX", time.Date(1845, 12, 29, 0, 0, 0, 0, time.UTC)}}, 0)

	res, err := (&Processor{}).Run(context.Background(), drivers.Request{
		StepID: "t", Env: env,
		Config: map[string]any{"query": `SELECT a.state, COUNT(*) AS n, AVG(lat) AS avg_lat,
			COUNT(*) FILTER (WHERE big) AS big, MIN(s.since) AS since,
			CAST(SUM(lat) AS DECIMAL(10,2)) AS total
			FROM input_df a LEFT JOIN df_states s ON s.code = a.state
			GROUP BY a.state ORDER BY a.state`},
		Inputs: []drivers.Input{
			{Key: "df_airports", FromStep: "airports", Rows: airports},
			{Key: "input_df", FromStep: "airports", Rows: airports},
			{Key: "df_states", FromStep: "states", Rows: states},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, c := range res.Rows.Columns() {
		types = append(types, c.Name+":"+c.Type)
	}
	wantTypes := []string{"state:string", "n:int64", "avg_lat:float64", "big:int64",
		"since:date", "total:decimal"}
	if diff := cmp.Diff(wantTypes, types); diff != "" {
		t.Fatalf("types (-want +got):\n%s", diff)
	}
	rows, err := drivers.ReadAll(context.Background(), res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{
		{"MS", int64(1), nil, int64(0), nil, nil},
		{"TX", int64(2), 30.75, int64(1), time.Date(1845, 12, 29, 0, 0, 0, 0, time.UTC),
			drivers.Decimal("61.5")},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("rows (-want +got):\n%s", diff)
	}
	if env.metrics["rows_read"] != int64(4) || env.metrics["rows_written"] != int64(2) {
		t.Fatalf("metrics: %v", env.metrics)
	}
	assertEmpty(t, env.tmp)
}

func TestProcessorWithoutInputsAndBadSQL(t *testing.T) {
	env := &testEnv{tmp: t.TempDir(), metrics: map[string]any{}}
	res, err := (&Processor{}).Run(context.Background(), drivers.Request{StepID: "gen",
		Env: env, Config: map[string]any{"query": "SELECT * FROM range(25000) t(i)"}})
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for {
		batch, err := res.Rows.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) > drivers.DefaultBatchSize {
			t.Fatalf("batch of %d rows", len(batch))
		}
		total += len(batch)
	}
	_ = res.Rows.Close()
	if total != 25000 {
		t.Fatalf("rows = %d", total)
	}

	_, err = (&Processor{}).Run(context.Background(), drivers.Request{StepID: "bad", Env: env,
		Config: map[string]any{"query": "SELECT nope FROM missing_table"}})
	if err == nil || !strings.HasPrefix(err.Error(), "DuckDB transformation failed: ") ||
		!strings.Contains(err.Error(), "missing_table") {
		t.Fatalf("error = %v", err)
	}
	assertEmpty(t, env.tmp)
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("scratch files left in %s: %v", dir, entries)
	}
}
