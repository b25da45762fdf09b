package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
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
	table := sqltest.DiscoveredTable(t, got, "disc_c")
	sqltest.AssertTable(t, table,
		"id int(11), flag tinyint(1), day date, note text",
		[]string{"id"}, 3, 2)
	first := table.SampleData[0]
	if first["id"] != int64(1) || first["flag"] != true || first["note"] != "a" ||
		!first["day"].(time.Time).Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("first sample %#v", first)
	}
}
