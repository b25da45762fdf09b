package sqlcommon

import (
	"context"
	"errors"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

func TestReportWrite(t *testing.T) {
	env := NewRecordingEnv(t.TempDir())
	err := ReportWrite(env, "load", "t", map[string]any{"mode": "append"},
		func() (int64, map[string]any, error) { return 7, map[string]any{"load_path": "x"}, nil })
	if err != nil {
		t.Fatal(err)
	}
	start := env.EventsNamed("write.start")
	done := env.EventsNamed("write.complete")
	if len(start) != 1 || start[0].Fields["mode"] != "append" || start[0].Fields["table"] != "t" {
		t.Errorf("write.start %v", start)
	}
	if len(done) != 1 || done[0].Fields["rows_written"] != int64(7) ||
		done[0].Fields["load_path"] != "x" || done[0].Fields["step_id"] != "load" {
		t.Errorf("write.complete %v", done)
	}
	if v, ok := env.MetricValue("rows_written"); !ok || v != int64(7) {
		t.Errorf("rows_written metric %v", v)
	}

	failed := NewRecordingEnv(t.TempDir())
	err = ReportWrite(failed, "load", "t", nil,
		func() (int64, map[string]any, error) { return 3, nil, errors.New("broke") })
	if err == nil || len(failed.EventsNamed("write.error")) != 1 ||
		len(failed.EventsNamed("write.complete")) != 0 {
		t.Errorf("failed write: err %v, events %v", err, failed.Events())
	}
	if _, ok := failed.MetricValue("rows_written"); ok {
		t.Error("a failed write reported rows_written")
	}
}

func TestDrain(t *testing.T) {
	rows := drivers.NewSliceStream(nil, [][]any{{1}, {2}, {3}}, 1)
	if err := Drain(context.Background(), rows); err != nil {
		t.Fatal(err)
	}
	broken := &drivers.FuncStream{NextFunc: func(context.Context) ([][]any, error) {
		return nil, errors.New("upstream broke")
	}}
	if err := Drain(context.Background(), broken); err == nil {
		t.Error("a failing stream drained without error")
	}
}

func TestCreateTableSQL(t *testing.T) {
	cols := []drivers.Column{{Name: "id", Type: drivers.TypeInt},
		{Name: "s", Type: drivers.TypeString}}
	quote := func(s string) string { return "[" + s + "]" }
	typ := func(c drivers.Column, key bool) string {
		if key {
			return "KEY-" + c.Type
		}
		return c.Type
	}
	got := CreateTableSQL("<t>", cols, []string{"id"}, quote, typ, " OPTS")
	want := "CREATE TABLE IF NOT EXISTS <t> (\n  [id] KEY-int64,\n  [s] string,\n" +
		"  PRIMARY KEY ([id])\n) OPTS"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
