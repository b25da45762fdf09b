package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// TestDiscoverDescribesTablesWithTypedSamples checks a table's entry in discovery:
// columns in order with declared types, the primary key, the exact row count and sample
// rows typed the way the extractor types them.
func TestDiscoverDescribesTablesWithTypedSamples(t *testing.T) {
	admin := adminDB(t)
	exec(t, admin, "DROP TABLE IF EXISTS disc_c",
		"CREATE TABLE disc_c (id INT PRIMARY KEY, flag TINYINT(1), day DATE, note TEXT)",
		"INSERT INTO disc_c VALUES (1, 1, '2024-02-29', 'a'), (2, 0, NULL, 'b'), (3, 1, NULL, 'c')")

	got, err := Extractor{}.Discover(context.Background(), connCfg(),
		drivers.DiscoverOptions{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	var table *drivers.TableInfo
	for i := range got.Tables {
		if got.Tables[i].Name == "disc_c" {
			table = &got.Tables[i]
		}
	}
	if table == nil {
		t.Fatalf("disc_c not discovered: %+v", got.Tables)
	}
	var types []string
	for _, c := range table.Columns {
		types = append(types, c.Name+" "+c.Type)
	}
	if got, want := strings.Join(types, ", "), "id int(11), flag tinyint(1), day date, note text"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	if len(table.PrimaryKeys) != 1 || table.PrimaryKeys[0] != "id" {
		t.Errorf("primary keys %v", table.PrimaryKeys)
	}
	if table.RowCount == nil || *table.RowCount != 3 {
		t.Errorf("row count %v", table.RowCount)
	}
	if len(table.SampleData) != 2 {
		t.Fatalf("samples %v, want 2", table.SampleData)
	}
	first := table.SampleData[0]
	if first["id"] != int64(1) || first["flag"] != true || first["note"] != "a" ||
		!first["day"].(time.Time).Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first sample %#v", first)
	}
}
