package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

// TestDiscoverDescribesTablesWithTypedSamples checks a table's entry in discovery of the
// test schema: columns with their types, the primary key, the exact row count and
// sample rows typed the way the extractor types them.
func TestDiscoverDescribesTablesWithTypedSamples(t *testing.T) {
	admin := adminPG(t)
	app := appName(t)
	pgExec(t, admin, "DROP TABLE IF EXISTS "+testSchema+".disc_c",
		"CREATE TABLE "+testSchema+".disc_c (id bigint PRIMARY KEY, price numeric(10,2), "+
			"label varchar(20), doc jsonb)",
		"INSERT INTO "+testSchema+".disc_c VALUES (1, 9.50, 'a', '{\"k\": 1}'), "+
			"(2, NULL, 'b', NULL), (3, 1, 'c', NULL)")

	cfg := pgConn(app)
	cfg["schema"] = testSchema
	got, err := pgExtractor.Discover(context.Background(), cfg,
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
	if got, want := strings.Join(types, ", "),
		"id bigint, price numeric(10,2), label character varying(20), doc jsonb"; got != want {
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
	if first["id"] != int64(1) || first["price"] != drivers.Decimal("9.50") ||
		first["label"] != "a" || string(first["doc"].(json.RawMessage)) != `{"k": 1}` {
		t.Errorf("first sample %#v", first)
	}
	waitNoSessions(t, admin, app, "after discovery")
}
