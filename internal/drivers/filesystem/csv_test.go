package filesystem

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/osirisgo/osiris/internal/drivers"
)

// testEnv records what a driver reports.
type testEnv struct {
	dir     string
	mu      sync.Mutex
	metrics map[string]any
	events  []string
}

func newEnv(t *testing.T) *testEnv {
	return &testEnv{dir: t.TempDir(), metrics: map[string]any{}}
}

func (e *testEnv) OutputDir() string { return e.dir }
func (e *testEnv) BasePath() string  { return e.dir }
func (e *testEnv) Metric(name string, value any, unit string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics[name] = value
}
func (e *testEnv) Event(name string, fields map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, name)
}
func (e *testEnv) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func writeFileT(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func extract(t *testing.T, env *testEnv, cfg map[string]any) ([]drivers.Column, [][]any, error) {
	t.Helper()
	res, err := (&CSVExtractor{}).Run(context.Background(),
		drivers.Request{StepID: "read", Config: cfg, Env: env})
	if err != nil {
		return nil, nil, err
	}
	cols := res.Rows.Columns()
	rows, err := drivers.ReadAll(context.Background(), res.Rows)
	return cols, rows, err
}

func types(cols []drivers.Column) []string {
	var out []string
	for _, c := range cols {
		out = append(out, c.Name+":"+c.Type)
	}
	return out
}

func TestInferenceNeverLosesText(t *testing.T) {
	env := newEnv(t)
	data := "id,code,price,ratio,flag,mixedbool,note\n" +
		"1,007,1.5,1,true,True,a\n" +
		"2,010,2.25,2.5,false,false,\n" +
		"3,100,3.50,1e3,true,true,NA\n"
	writeFileT(t, env.dir, "in.csv", []byte(data))

	cols, rows, err := extract(t, env, map[string]any{"path": "in.csv"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id:int64", "code:string", "price:string", "ratio:string",
		"flag:bool", "mixedbool:string", "note:string"}
	if diff := cmp.Diff(want, types(cols)); diff != "" {
		t.Fatalf("types (-want +got):\n%s", diff)
	}
	// In a string column "NA" stays text; only the empty field is missing.
	if rows[0][0] != int64(1) || rows[0][1] != "007" || rows[1][6] != nil || rows[2][6] != "NA" {
		t.Fatalf("rows: %v", rows)
	}
	if env.metrics["rows_read"] != int64(3) {
		t.Fatalf("rows_read metric = %v", env.metrics["rows_read"])
	}
}

func TestFloatColumnAndNulls(t *testing.T) {
	env := newEnv(t)
	writeFileT(t, env.dir, "in.csv", []byte("lat,n\n31.95376472,1\n-89.5,\n3,null\n"))
	cols, rows, err := extract(t, env, map[string]any{"path": "in.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"lat:float64", "n:int64"}, types(cols)); diff != "" {
		t.Fatal(diff)
	}
	want := [][]any{{31.95376472, int64(1)}, {-89.5, nil}, {float64(3), nil}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatal(diff)
	}
}

func TestRoundTripIsByteIdentical(t *testing.T) {
	env := newEnv(t)
	data := "iata,name,city,lat,count,flag\n" +
		"00M,\"Thigpen, Field\",Bay Springs,31.95376472,12,true\n" +
		"01G,\"Say \"\"hi\"\"\", leading space,-78.05208056,0,false\n" +
		"02X,\"two\nlines\",,0.5,-3,true\n"
	writeFileT(t, env.dir, "in.csv", []byte(data))

	res, err := (&CSVExtractor{}).Run(context.Background(),
		drivers.Request{StepID: "read", Config: map[string]any{"path": "in.csv"}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&CSVWriter{}).Run(context.Background(), drivers.Request{StepID: "write",
		Config: map[string]any{"path": "out/out.csv"}, Env: env,
		Inputs: []drivers.Input{{Key: "df_read", FromStep: "read", Rows: res.Rows}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(env.dir, "out", "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != data {
		t.Fatalf("round trip changed the file:\n got %q\nwant %q", got, data)
	}
	if env.metrics["rows_written"] != int64(3) {
		t.Fatalf("rows_written = %v", env.metrics["rows_written"])
	}
	assertNoTempFiles(t, filepath.Join(env.dir, "out"))
}

func TestRaggedRowNamesFileAndLine(t *testing.T) {
	env := newEnv(t)
	// The quoted field spans lines 3-4, so the ragged record starts on line 5.
	writeFileT(t, env.dir, "bad.csv", []byte("a,b\n1,2\n\"x\ny\",3\n4,5,6\n"))
	_, _, err := extract(t, env, map[string]any{"path": "bad.csv"})
	if err == nil {
		t.Fatal("want an error for a ragged row")
	}
	if !strings.Contains(err.Error(), "bad.csv line 5") ||
		!strings.Contains(err.Error(), "expected 2 fields, found 3") {
		t.Fatalf("error = %q", err)
	}

	_, rows, err := extract(t, env, map[string]any{"path": "bad.csv", "on_bad_lines": "skip"})
	if err != nil || len(rows) != 2 {
		t.Fatalf("skip: rows=%v err=%v", rows, err)
	}
}

func TestLateMisfitIsAnErrorNamingTheLine(t *testing.T) {
	env := newEnv(t)
	var b strings.Builder
	b.WriteString("n\n")
	for i := 0; i < 10; i++ {
		b.WriteString("5\n")
	}
	b.WriteString("five\n")
	writeFileT(t, env.dir, "late.csv", []byte(b.String()))

	_, _, err := extract(t, env, map[string]any{"path": "late.csv", "infer_rows": 5})
	if err == nil || !strings.Contains(err.Error(), "late.csv line 12") ||
		!strings.Contains(err.Error(), "dtype") {
		t.Fatalf("error = %v", err)
	}

	cols, rows, err := extract(t, env, map[string]any{"path": "late.csv", "infer_rows": 5,
		"dtype": map[string]any{"n": "string"}})
	if err != nil || cols[0].Type != drivers.TypeString || rows[10][0] != "five" {
		t.Fatalf("dtype string: cols=%v err=%v", cols, err)
	}
}

func TestOptions(t *testing.T) {
	env := newEnv(t)
	writeFileT(t, env.dir, "o.csv", []byte("# produced by a tool\nskip me\n"+
		"x;y;z\n1;'a;b';3\n\n4;'c';6\n7;'';9\n"))
	cols, rows, err := extract(t, env, map[string]any{
		"path": "o.csv", "skip_rows": 2, "delimiter": ";", "quote": "'",
		"columns": []any{"z", "y"}, "limit": 2, "na_values": []any{"c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"z:int64", "y:string"}, types(cols)); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff([][]any{{int64(3), "a;b"}, {int64(6), nil}}, rows); diff != "" {
		t.Fatal(diff)
	}

	writeFileT(t, env.dir, "nohdr.csv", []byte("1,2\n3,4\n"))
	cols, rows, err = extract(t, env, map[string]any{"path": "nohdr.csv", "header": false})
	if err != nil || cols[0].Name != "0" || cols[1].Name != "1" || len(rows) != 2 {
		t.Fatalf("header false: %v %v %v", cols, rows, err)
	}

	// Rows above the header row are dropped even when they have another width.
	writeFileT(t, env.dir, "hdr2.csv", []byte("title line\na,b\n1,2\n"))
	cols, rows, err = extract(t, env, map[string]any{"path": "hdr2.csv", "header": 1})
	if err != nil || cols[0].Name != "a" || len(rows) != 1 {
		t.Fatalf("header 1: %v %v %v", cols, rows, err)
	}

	_, _, err = extract(t, env, map[string]any{"path": "o.csv", "columns": []any{"nope"}})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestEncodings(t *testing.T) {
	env := newEnv(t)
	writeFileT(t, env.dir, "latin.csv", []byte("city\nS\xe3o Paulo\n"))
	_, rows, err := extract(t, env, map[string]any{"path": "latin.csv", "encoding": "latin-1"})
	if err != nil || rows[0][0] != "São Paulo" {
		t.Fatalf("latin-1: %v %v", rows, err)
	}
	_, _, err = extract(t, env, map[string]any{"path": "latin.csv"})
	if err == nil || !strings.Contains(err.Error(), "CSV encoding error (tried utf-8)") ||
		!strings.Contains(err.Error(), "line 2") {
		t.Fatalf("utf-8 on latin-1 bytes: %v", err)
	}

	var u bytes.Buffer
	u.Write([]byte{0xFF, 0xFE})
	for _, unit := range utf16.Encode([]rune("name\nZoë 😀\n")) {
		u.Write([]byte{byte(unit), byte(unit >> 8)})
	}
	writeFileT(t, env.dir, "u16.csv", u.Bytes())
	_, rows, err = extract(t, env, map[string]any{"path": "u16.csv", "encoding": "utf-16"})
	if err != nil || rows[0][0] != "Zoë 😀" {
		t.Fatalf("utf-16: %v %v", rows, err)
	}
}

func TestMissingAndEmptyFiles(t *testing.T) {
	env := newEnv(t)
	_, _, err := extract(t, env, map[string]any{"path": "nope.csv"})
	if err == nil || !strings.Contains(err.Error(), "CSV file not found") {
		t.Fatalf("missing: %v", err)
	}
	_, _, err = extract(t, env, map[string]any{"path": "."})
	if err == nil || !strings.Contains(err.Error(), "Path is not a file") {
		t.Fatalf("dir: %v", err)
	}
	writeFileT(t, env.dir, "empty.csv", nil)
	cols, rows, err := extract(t, env, map[string]any{"path": "empty.csv"})
	if err != nil || len(cols) != 0 || len(rows) != 0 {
		t.Fatalf("empty: %v %v %v", cols, rows, err)
	}
	writeFileT(t, env.dir, "hdr.csv", []byte("a,b\n"))
	cols, rows, err = extract(t, env, map[string]any{"path": "hdr.csv"})
	if err != nil || len(cols) != 2 || len(rows) != 0 {
		t.Fatalf("header only: %v %v %v", cols, rows, err)
	}
}

// failingStream yields one batch and then an error.
type failingStream struct{ sent bool }

func (f *failingStream) Columns() []drivers.Column {
	return []drivers.Column{{Name: "a", Type: drivers.TypeString}}
}
func (f *failingStream) Next(context.Context) ([][]any, error) {
	if !f.sent {
		f.sent = true
		return [][]any{{"x"}}, nil
	}
	return nil, errors.New("upstream broke")
}
func (f *failingStream) Close() error { return nil }

func TestWriterLeavesTargetUntouchedOnFailure(t *testing.T) {
	env := newEnv(t)
	target := writeFileT(t, env.dir, "keep.csv", []byte("old\n"))
	_, err := (&CSVWriter{}).Run(context.Background(), drivers.Request{StepID: "w",
		Config: map[string]any{"path": "keep.csv"}, Env: env,
		Inputs: []drivers.Input{{Key: "df_x", Rows: &failingStream{}}}})
	if err == nil {
		t.Fatal("want the upstream error")
	}
	got, _ := os.ReadFile(target)
	if string(got) != "old\n" {
		t.Fatalf("target changed: %q", got)
	}
	assertNoTempFiles(t, env.dir)
}

func TestWriterFormatsAndQuoting(t *testing.T) {
	env := newEnv(t)
	cols := []drivers.Column{{Name: "s", Type: drivers.TypeString},
		{Name: "n", Type: drivers.TypeInt}, {Name: "f", Type: drivers.TypeFloat},
		{Name: "d", Type: drivers.TypeDecimal}}
	rows := [][]any{{"a b", int64(1), 2.0, drivers.Decimal("1.10")}, {nil, nil, 0.25, nil}}
	_, err := (&CSVWriter{}).Run(context.Background(), drivers.Request{StepID: "w",
		Config: map[string]any{"path": "q.csv", "quoting": "nonnumeric", "newline": "crlf",
			"delimiter": "|"},
		Env: env, Inputs: []drivers.Input{{Key: "df", Rows: drivers.NewSliceStream(cols, rows, 1)}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(env.dir, "q.csv"))
	want := "\"s\"|\"n\"|\"f\"|\"d\"\r\n\"a b\"|1|2|1.10\r\n||0.25|\r\n"
	if string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temp file left behind: %s", e.Name())
		}
	}
}
