package graphql

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/graphql/graphqltest"
)

const airportFields = "iata name city state country latitude longitude " +
	"location { latitude longitude }"

// checkAirports compares extracted rows (columns iata..longitude, location.*) with the CSV.
func checkAirports(t *testing.T, cols []drivers.Column, rows [][]any) {
	t.Helper()
	header, want := graphqltest.Airports(t)
	wantCols := "iata:string,name:string,city:string,state:string,country:string," +
		"latitude:float64,longitude:float64,location.latitude:float64,location.longitude:float64"
	if got := columnNames(cols); got != wantCols {
		t.Fatalf("columns = %s\nwant      %s", got, wantCols)
	}
	if len(rows) != 3376 || len(want) != 3376 {
		t.Fatalf("rows = %d, CSV rows = %d, want 3376", len(rows), len(want))
	}
	seen := map[string]bool{}
	for _, row := range rows {
		iata := row[0].(string)
		rec, ok := want[iata]
		if !ok || seen[iata] {
			t.Fatalf("row %v: unknown or repeated IATA code", row)
		}
		seen[iata] = true
		for i := 1; i < 5; i++ {
			if row[i] != rec[i] {
				t.Errorf("%s %s = %q, CSV has %q", iata, header[i], row[i], rec[i])
			}
		}
		for i, csvCol := range []int{5, 6, 5, 6} {
			f, err := strconv.ParseFloat(rec[csvCol], 64)
			if err != nil || row[5+i] != f {
				t.Errorf("%s column %d = %v, CSV has %s", iata, 5+i, row[5+i], rec[csvCol])
			}
		}
	}
}

func TestGraphQLJSServerRelayPagination(t *testing.T) {
	const token = "SENTINEL-node-token-8c1d2e"
	endpoint := graphqltest.Start(t, "REQUIRE_TOKEN="+token)
	env := newRecordingEnv(t)
	cfg := map[string]any{
		"endpoint": endpoint,
		"query": "query($first: Int, $after: String) { airports(first: $first, after: $after) " +
			"{ edges { node { " + airportFields + " } } pageInfo { endCursor hasNextPage } } }",
		"auth_type":          "bearer",
		"auth_token":         token,
		"pagination_enabled": true,
		"pagination_path":    "data.airports.pageInfo",
		"data_path":          "data.airports.edges[*].node",
		"page_size":          500,
	}
	stream, err := run(t, context.Background(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	batches := 0
	for {
		batch, err := stream.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		batches++
		for _, row := range batch {
			rows = append(rows, append([]any(nil), row...))
		}
	}
	_ = stream.Close()

	checkAirports(t, stream.Columns(), rows)
	if batches != 7 || env.metrics["pages_fetched"] != 7 || env.metrics["requests_made"] != 7 {
		t.Errorf("batches = %d, metrics = %v; want 7 pages of ≤500", batches, env.metrics)
	}
	if strings.Contains(env.everything(t), token) {
		t.Error("the token appears in events, metrics or logs")
	}
}

func TestGraphQLJSServerOffsetPagination(t *testing.T) {
	endpoint := graphqltest.Start(t)
	cfg := map[string]any{
		"endpoint": endpoint,
		"query": "query($offset: Int, $limit: Int) { airportList(offset: $offset, " +
			"limit: $limit) { " + airportFields + " } }",
		"pagination_enabled":      true,
		"pagination_mode":         "offset",
		"page_size":               1000,
		"page_size_variable_name": "limit",
		"data_path":               "data.airportList",
	}
	env := newRecordingEnv(t)
	stream, err := run(t, context.Background(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	checkAirports(t, stream.Columns(), rows)
	if env.metrics["pages_fetched"] != 4 {
		t.Errorf("pages = %v, want 4 (the fourth is short)", env.metrics["pages_fetched"])
	}
}

func TestGraphQLJSServerErrorsAndDiscovery(t *testing.T) {
	endpoint := graphqltest.Start(t)

	_, err := run(t, context.Background(), newRecordingEnv(t), map[string]any{
		"endpoint": endpoint, "query": "{ nope }", "max_retries": 3,
	})
	want := `GraphQL errors: Cannot query field "nope" on type "Query".`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}

	found, err := (&Extractor{}).Discover(context.Background(),
		map[string]any{"endpoint": endpoint}, drivers.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, table := range found.Tables {
		var fields []string
		for _, c := range table.Columns {
			fields = append(fields, c.Name+" "+c.Type)
		}
		types[table.Name] = strings.Join(fields, ", ")
	}
	if found.Tables[0].Name != "Query" {
		t.Errorf("first type = %s, want Query", found.Tables[0].Name)
	}
	if got := types["AirportConnection"]; got !=
		"totalCount Int!, edges [AirportEdge!]!, pageInfo PageInfo!" {
		t.Errorf("AirportConnection = %q", got)
	}

	res := (&Extractor{}).Doctor(context.Background(), map[string]any{"endpoint": endpoint},
		2*time.Second)
	if !res.OK || res.Message != "Connection test passed" {
		t.Errorf("doctor = %+v", res)
	}
}
