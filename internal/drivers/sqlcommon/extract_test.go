package sqlcommon

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

func TestSelectSQL(t *testing.T) {
	quote := func(s string) string { return "[" + s + "]" }
	for _, tc := range []struct {
		ex      Extraction
		noLimit string
		want    string
	}{
		{Extraction{Query: "SELECT 1", Limit: 5}, "", "SELECT 1"},
		{Extraction{Table: "t"}, "", "SELECT * FROM <t>"},
		{Extraction{Table: "t", Columns: []string{"a", "b c"}, Limit: 10, Offset: 20}, "",
			"SELECT [a], [b c] FROM <t> LIMIT 10 OFFSET 20"},
		{Extraction{Table: "t", Offset: 20}, "", "SELECT * FROM <t> OFFSET 20"},
		{Extraction{Table: "t", Offset: 20}, "99", "SELECT * FROM <t> LIMIT 99 OFFSET 20"},
	} {
		if got := tc.ex.SelectSQL("<"+tc.ex.Table+">", quote, tc.noLimit); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.ex, got, tc.want)
		}
	}
}

func TestReadExtractionRefusesBadSettings(t *testing.T) {
	for i, cfg := range []map[string]any{
		{},
		{"table": "t", "batch_size": 0},
		{"table": "t", "limit": -1},
		{"table": "t", "offset": "x"},
	} {
		if _, err := ReadExtraction("s"+strconv.Itoa(i), cfg); err == nil {
			t.Errorf("%v accepted", cfg)
		}
	}
	ex, err := ReadExtraction("s", map[string]any{"query": "  SELECT 2  "})
	if err != nil || ex.Query != "SELECT 2" || ex.BatchSize != drivers.DefaultBatchSize {
		t.Errorf("%+v, %v", ex, err)
	}
}

func TestStartDoctorDefaultsAndPhrases(t *testing.T) {
	ctx, cancel, result := StartDoctor(context.Background(), 0,
		func(c string) string { return "phrase " + c })
	defer cancel()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > 2*time.Second {
		t.Errorf("deadline %v, %v: want 2 s at most", deadline, ok)
	}
	if r := result(drivers.CategoryOK, ""); !r.OK || r.Message != "phrase ok" {
		t.Errorf("%+v", r)
	}
	if r := result(drivers.CategoryConfig, "own words"); r.OK || r.Message != "own words" {
		t.Errorf("%+v", r)
	}
}

func TestAsConnection(t *testing.T) {
	flat := map[string]any{"host": "h"}
	if got := AsConnection(flat)["resolved_connection"].(map[string]any); got["host"] != "h" {
		t.Errorf("flat config not wrapped: %v", got)
	}
	step := map[string]any{"resolved_connection": flat, "schema": "s"}
	if got := AsConnection(step); got["schema"] != "s" {
		t.Errorf("step config changed: %v", got)
	}
}
