package filesystem

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

func writeDiscoverFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDiscoverListsCSVFilesWithTypesCountsAndSamples(t *testing.T) {
	base := writeDiscoverFiles(t, map[string]string{
		"b.csv": "\xEF\xBB\xBFid,price,ok,seen,label,,label\n" +
			"1,2.5,true,2024-01-02 10:00:00,x,a,y\n" +
			"2,3,false,2024-01-03,NA,b,z\n" +
			"3,,TRUE,2024-01-04T05:06:07Z,z,c,w\n",
		"a.CSV":       "n\n",
		"notes.txt":   "not a table\n",
		".hidden.csv": "x\n1\n",
	})
	if err := os.Mkdir(filepath.Join(base, "sub.csv"), 0o755); err != nil {
		t.Fatal(err)
	}

	got, err := (&DirectoryDiscoverer{}).Discover(context.Background(),
		map[string]any{"resolved_connection": map[string]any{"base_dir": "."}},
		drivers.DiscoverOptions{Samples: 2, BasePath: base})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tables) != 2 || got.Tables[0].Name != "a.CSV" || got.Tables[1].Name != "b.csv" {
		t.Fatalf("tables %+v", got.Tables)
	}
	if rc := got.Tables[0].RowCount; rc == nil || *rc != 0 {
		t.Fatalf("a.CSV row count %v", rc)
	}

	b := got.Tables[1]
	if b.RowCount == nil || *b.RowCount != 3 {
		t.Fatalf("row count %v", b.RowCount)
	}
	wantCols := []string{"id:integer", "price:float", "ok:boolean", "seen:datetime",
		"label:string", "column_5:string", "label_2:string"}
	for i, c := range b.Columns {
		if c.Name+":"+c.Type != wantCols[i] {
			t.Errorf("column %d = %s:%s, want %s", i, c.Name, c.Type, wantCols[i])
		}
	}
	if len(b.SampleData) != 2 {
		t.Fatalf("%d sample rows, want 2", len(b.SampleData))
	}
	first, second := b.SampleData[0], b.SampleData[1]
	if first["id"] != int64(1) || first["price"] != 2.5 || first["ok"] != true ||
		second["label"] != nil || second["ok"] != false {
		t.Fatalf("sample rows %v %v", first, second)
	}
}

func TestDiscoverReportsABadFileAndKeepsTheOthers(t *testing.T) {
	base := writeDiscoverFiles(t, map[string]string{
		"bad.csv":  "a,b\n1,\"unterminated\n",
		"good.csv": "a\n1\n",
	})
	got, err := (&DirectoryDiscoverer{}).Discover(context.Background(),
		map[string]any{"base_dir": base}, drivers.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tables) != 2 || len(got.Warnings) != 1 ||
		!strings.HasPrefix(got.Warnings[0], "bad.csv: CSV parsing failed") {
		t.Fatalf("tables %+v warnings %v", got.Tables, got.Warnings)
	}
	if got.Tables[1].RowCount == nil || *got.Tables[1].RowCount != 1 {
		t.Fatal("the good file was not counted")
	}
}

func TestDiscoverStopsCountingWhenTheBudgetIsSpent(t *testing.T) {
	base := writeDiscoverFiles(t, map[string]string{"a.csv": "x\n1\n", "b.csv": "x\n1\n"})
	start := time.Now()
	calls := 0
	// The clock jumps past the budget after the first file.
	d := &DirectoryDiscoverer{now: func() time.Time {
		calls++
		if calls > 3 {
			return start.Add(rowCountBudget)
		}
		return start
	}}
	got, err := d.Discover(context.Background(), map[string]any{"base_dir": base},
		drivers.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tables[0].RowCount == nil || got.Tables[1].RowCount != nil {
		t.Fatalf("row counts %v %v; want a count, then unknown", got.Tables[0].RowCount,
			got.Tables[1].RowCount)
	}
	if len(got.Tables[1].Columns) != 1 {
		t.Fatal("columns are read even when counting is out of time")
	}
}

func TestDiscoverMissingDirectoryIsAConfigError(t *testing.T) {
	_, err := (&DirectoryDiscoverer{}).Discover(context.Background(),
		map[string]any{"base_dir": "nope"}, drivers.DiscoverOptions{BasePath: t.TempDir()})
	var de *drivers.Error
	if !errors.As(err, &de) || de.Kind != drivers.KindConfig ||
		!strings.Contains(de.Msg, "CSV directory not found") {
		t.Fatalf("error %v", err)
	}
}

func TestDiscoverIsRegisteredForTheCSVExtractor(t *testing.T) {
	d, ok := drivers.LookupDiscoverer("filesystem.csv_extractor")
	if _, isDir := d.(*DirectoryDiscoverer); !ok || !isDir {
		t.Fatalf("LookupDiscoverer gave %T", d)
	}
}
