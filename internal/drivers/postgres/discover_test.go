package postgres

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
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
	table := sqltest.DiscoveredTable(t, got, "disc_c")
	sqltest.AssertTable(t, table,
		"id bigint, price numeric(10,2), label character varying(20), doc jsonb",
		[]string{"id"}, 3, 2)
	first := table.SampleData[0]
	if first["id"] != int64(1) || first["price"] != drivers.Decimal("9.50") ||
		first["label"] != "a" || string(first["doc"].(json.RawMessage)) != `{"k": 1}` {
		t.Errorf("first sample %#v", first)
	}
	waitNoSessions(t, admin, app, "after discovery")
}
