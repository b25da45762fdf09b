// Package pipelinetest runs a real pipeline from a real GraphQL server (graphql-js, in
// node) into PostgreSQL: compiled from OML, run by the runner, written by
// postgres.writer. It lives apart from the driver tests because the runner links DuckDB.
package pipelinetest

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/compile"
	"github.com/osirisgo/osiris/internal/config"
	_ "github.com/osirisgo/osiris/internal/drivers/all"
	"github.com/osirisgo/osiris/internal/drivers/graphql/graphqltest"
	"github.com/osirisgo/osiris/internal/registry"
	"github.com/osirisgo/osiris/internal/runner"
)

// token is the sentinel credential: the server demands it, the connections file holds it,
// and no file the run or the compiler writes may contain it.
const token = "SENTINEL-f-pipeline-token-5e6f7a8b"

const pipelineOML = `oml_version: "0.1.0"
name: airports-graphql-to-postgres
metadata: {intent: copy airports from a GraphQL API to PostgreSQL, owner: engineer-f}
steps:
  - id: extract-airports
    component: graphql.extractor
    mode: read
    config:
      connection: "@graphql.airports"
      query: |
        query($first: Int, $after: String) {
          airports(first: $first, after: $after) {
            edges { node { iata name city state country latitude longitude
                           location { latitude longitude } } }
            pageInfo { endCursor hasNextPage }
          }
        }
      pagination_enabled: true
      pagination_path: data.airports.pageInfo
      data_path: "data.airports.edges[*].node"
      page_size: 400
  - id: load-airports
    component: postgres.writer
    mode: write
    needs: [extract-airports]
    config:
      connection: "@postgres.local"
      schema: osiris_f
      table: airports_f
      write_mode: replace
      create_if_missing: true
`

func connectionsYAML(endpoint string) string {
	return `connections:
  graphql:
    airports:
      endpoint: ` + endpoint + `
      auth_type: bearer
      auth_token: ` + token + `
  postgres:
    local:
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      sslmode: disable
      application_name: osiris_f_pipeline
`
}

func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	c, err := pq.NewConnector("postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	var db *sql.DB
	if err == nil {
		db = sql.OpenDB(c)
		err = db.Ping()
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 not reachable: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAirportsFromGraphQLToPostgres moves every airport through the pipeline and
// compares each value in PostgreSQL with the CSV the server read.
func TestAirportsFromGraphQLToPostgres(t *testing.T) {
	pg := openPostgres(t)
	endpoint := graphqltest.Start(t, "REQUIRE_TOKEN="+token)
	for _, s := range []string{"CREATE SCHEMA IF NOT EXISTS osiris_f",
		"DROP TABLE IF EXISTS osiris_f.airports_f"} {
		if _, err := pg.Exec(s); err != nil {
			t.Fatal(err)
		}
	}

	dir := writeProject(t, map[string]string{
		"osiris.yaml":              "version: '2.0'\n",
		config.ConnectionsFileName: connectionsYAML(endpoint),
		"pipelines/airports.yaml":  pipelineOML,
	})
	project, err := config.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	built, err := compile.Compile(context.Background(), compile.Options{Project: project,
		Registry: reg, File: filepath.Join(dir, "pipelines/airports.yaml")})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	var sink, progress bytes.Buffer
	res, err := runner.Run(context.Background(), runner.Options{Project: project,
		ManifestPath: built.ManifestPath, TempDir: t.TempDir(), EventSink: &sink,
		Progress: &progress})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != "success" {
		t.Fatalf("run %s: %+v", res.Status, res.Err)
	}

	checkTable(t, pg)
	checkRunRecords(t, res.RunDir)
	requireNoToken(t, dir, sink.String()+progress.String())
}

func checkTable(t *testing.T, pg *sql.DB) {
	t.Helper()
	header, want := graphqltest.Airports(t)
	rows, err := pg.Query(`SELECT iata, name, city, state, country, latitude, longitude,
		"location.latitude", "location.longitude" FROM osiris_f.airports_f`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var text [5]string
		var nums [4]float64
		if err := rows.Scan(&text[0], &text[1], &text[2], &text[3], &text[4], &nums[0],
			&nums[1], &nums[2], &nums[3]); err != nil {
			t.Fatal(err)
		}
		rec, ok := want[text[0]]
		if !ok || seen[text[0]] {
			t.Fatalf("row %v: unknown or repeated IATA code", text)
		}
		seen[text[0]] = true
		for i := 1; i < 5; i++ {
			if text[i] != rec[i] {
				t.Errorf("%s %s = %q, CSV has %q", text[0], header[i], text[i], rec[i])
			}
		}
		for i, csvCol := range []int{5, 6, 5, 6} {
			f, err := strconv.ParseFloat(rec[csvCol], 64)
			if err != nil || nums[i] != f {
				t.Errorf("%s number %d = %v, CSV has %s", text[0], i, nums[i], rec[csvCol])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3376 || len(want) != 3376 {
		t.Fatalf("PostgreSQL has %d airports, the CSV %d; want 3376", len(seen), len(want))
	}
}

func checkRunRecords(t *testing.T, runDir string) {
	t.Helper()
	events, err := os.ReadFile(filepath.Join(runDir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"extraction.start"`, `"extraction.page"`,
		`"extraction.complete"`} {
		if !bytes.Contains(events, []byte(name)) {
			t.Errorf("events.jsonl has no %s event", name)
		}
	}
	if n := bytes.Count(events, []byte(`"extraction.page"`)); n != 9 {
		t.Errorf("extraction.page events = %d, want 9 (3376 rows in pages of 400)", n)
	}
	metrics, err := os.ReadFile(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(metrics, []byte(`"pages_fetched"`)) ||
		!bytes.Contains(metrics, []byte(`"rows_read"`)) {
		t.Errorf("metrics.jsonl lacks the extractor's metrics:\n%s", metrics)
	}
}

// requireNoToken greps every file of the project (run directory, manifest, compiled
// configs, artifacts, index) except the connections file that holds the token by design,
// and the text the run printed.
func requireNoToken(t *testing.T, dir, printed string) {
	t.Helper()
	if strings.Contains(printed, token) {
		t.Errorf("the token appears in the run's event stream or progress output")
	}
	files, mentions := 0, 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 ||
			d.Name() == config.ConnectionsFileName {
			return err // links point at files the walk reads anyway
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("extract-airports")) {
			mentions++ // proves the walk reads the records that name the step
		}
		if bytes.Contains(data, []byte(token)) {
			rel, _ := filepath.Rel(dir, path)
			t.Errorf("the token appears in %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 || mentions < 3 {
		t.Errorf("only %d files checked, %d naming the step; the run left fewer records "+
			"than expected", files, mentions)
	}
}

// TestStepEndpointOverridesTheDefaultConnection runs a step that names no connection, so
// the family's default connection applies (a step without one needs it), and writes its
// own endpoint, which wins over the default's dead one.
func TestStepEndpointOverridesTheDefaultConnection(t *testing.T) {
	pg := openPostgres(t)
	endpoint := graphqltest.Start(t)
	if _, err := pg.Exec("CREATE SCHEMA IF NOT EXISTS osiris_f"); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Exec("DROP TABLE IF EXISTS osiris_f.airports_inline_f"); err != nil {
		t.Fatal(err)
	}
	oml := `oml_version: "0.1.0"
name: airports-inline
steps:
  - id: extract-airports
    component: graphql.extractor
    mode: read
    config:
      endpoint: ` + endpoint + `
      query: >-
        query($offset: Int, $limit: Int)
        { airportList(offset: $offset, limit: $limit) { iata name } }
      pagination_enabled: true
      pagination_mode: offset
      page_size: 1000
      page_size_variable_name: limit
      data_path: data.airportList
  - id: load-airports
    component: postgres.writer
    mode: write
    needs: [extract-airports]
    config:
      connection: "@postgres.local"
      schema: osiris_f
      table: airports_inline_f
      write_mode: replace
      create_if_missing: true
`
	full := connectionsYAML(endpoint)
	conns := "connections:\n  graphql:\n    default:\n      endpoint: http://127.0.0.1:9/dead\n" +
		full[strings.Index(full, "  postgres:"):]
	dir := writeProject(t, map[string]string{
		"osiris.yaml":              "version: '2.0'\n",
		config.ConnectionsFileName: conns,
		"pipelines/inline.yaml":    oml,
	})
	project, err := config.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	built, err := compile.Compile(context.Background(), compile.Options{Project: project,
		Registry: reg, File: filepath.Join(dir, "pipelines/inline.yaml")})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	res, err := runner.Run(context.Background(), runner.Options{Project: project,
		ManifestPath: built.ManifestPath, TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var n int
	if err := pg.QueryRow("SELECT COUNT(*) FROM osiris_f.airports_inline_f").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if res.Status != "success" || n != 3376 {
		t.Fatalf("status %s, rows %d; want success and 3376", res.Status, n)
	}
}
