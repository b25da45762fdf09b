// Package pipelinetest runs a real pipeline over both database drivers: bird strike
// records (column names with spaces and a $) loaded into MariaDB, extracted by
// mysql.extractor, passed through duckdb.processor and written by postgres.writer, all
// compiled from OML and run by the runner. It lives apart from the driver tests because
// it links DuckDB.
package pipelinetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osirisgo/osiris/internal/compile"
	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/drivers"
	_ "github.com/osirisgo/osiris/internal/drivers/all"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon/sqltest"
	"github.com/osirisgo/osiris/internal/registry"
	"github.com/osirisgo/osiris/internal/runner"
)

// birdstrikesCSV finds the real input: shared/data beside the repository (as on a
// developer's machine and in CI), or where OSIRIS_BIRDSTRIKES_CSV points.
func birdstrikesCSV(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("OSIRIS_BIRDSTRIKES_CSV"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			candidate := filepath.Join(filepath.Dir(dir), "shared", "data", "birdstrikes.csv")
			if _, err := os.Stat(candidate); err == nil {
				return candidate
			}
			break
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("birdstrikes.csv not found beside the repository (shared/data)")
	}
	t.Skip("birdstrikes.csv not found; set OSIRIS_BIRDSTRIKES_CSV")
	return ""
}

// loadBirdstrikes creates osiris_c_test.birdstrikes_c from the CSV, keeping its header
// names exactly (spaces, $).
func loadBirdstrikes(t *testing.T) *sql.DB {
	t.Helper()
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", sqltest.MariaDBAddr
	cfg.Timeout = 5 * time.Second
	cfg.MultiStatements = true
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	maria := sqltest.Reachable(t, "MariaDB at "+sqltest.MariaDBAddr, connector)
	data := birdstrikesCSV(t)
	gomysql.RegisterLocalFile(data)
	t.Cleanup(func() { gomysql.DeregisterLocalFile(data) })
	for _, s := range []string{
		"CREATE DATABASE IF NOT EXISTS osiris_c_test CHARACTER SET utf8mb4",
		"DROP TABLE IF EXISTS osiris_c_test.birdstrikes_c",
		"CREATE TABLE osiris_c_test.birdstrikes_c (`Airport Name` VARCHAR(100), " +
			"`Aircraft Make Model` VARCHAR(100), `Effect Amount of damage` VARCHAR(40), " +
			"`Flight Date` DATE, `Aircraft Airline Operator` VARCHAR(100), " +
			"`Origin State` VARCHAR(60), `Phase of flight` VARCHAR(40), " +
			"`Wildlife Size` VARCHAR(20), `Wildlife Species` VARCHAR(100), " +
			"`Time of day` VARCHAR(20), `Cost Other` BIGINT, `Cost Repair` BIGINT, " +
			"`Cost Total $` BIGINT, `Speed IAS in knots` INT) CHARACTER SET utf8mb4",
		"LOAD DATA LOCAL INFILE '" + strings.ReplaceAll(data, "'", "\\'") + "' INTO TABLE osiris_c_test.birdstrikes_c " +
			"CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' " +
			"IGNORE 1 LINES",
	} {
		if _, err := maria.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return maria
}

const pipelineOML = `oml_version: "0.1.0"
name: birdstrikes-to-postgres
metadata: {intent: copy bird strike records from MariaDB to PostgreSQL, owner: engineer-c}
steps:
  - id: extract-strikes
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.local"
      table: birdstrikes_c
      batch_size: 1000
  - id: tag-costs
    component: duckdb.processor
    mode: transform
    needs: [extract-strikes]
    config:
      query: |
        SELECT *, "Cost Total $" > 0 AS "Has Cost $"
        FROM df_extract_strikes
  - id: load-strikes
    component: postgres.writer
    mode: write
    needs: [tag-costs]
    config:
      connection: "@postgres.local"
      schema: osiris_c
      table: birdstrikes_c
      write_mode: replace
      create_if_missing: true
`

const connectionsYAML = `connections:
  mysql:
    local:
      host: 127.0.0.1
      port: 3306
      database: osiris_c_test
      user: root
      password: ""
  postgres:
    local:
      host: 127.0.0.1
      port: 5432
      database: test
      user: postgres
      sslmode: disable
      application_name: osiris_c_pipeline
`

// TestBirdstrikesMySQLThroughDuckDBToPostgres compiles and runs the pipeline, then
// compares row counts and a checksum of every value on both ends.
func TestBirdstrikesMySQLThroughDuckDBToPostgres(t *testing.T) {
	maria := loadBirdstrikes(t)
	pg := sqltest.PostgresAdmin(t)
	for _, s := range []string{"CREATE SCHEMA IF NOT EXISTS osiris_c",
		"DROP TABLE IF EXISTS osiris_c.birdstrikes_c"} {
		if _, err := pg.Exec(s); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	for name, text := range map[string]string{
		"osiris.yaml":                "version: '2.0'\n",
		config.ConnectionsFileName:   connectionsYAML,
		"pipelines/birdstrikes.yaml": pipelineOML,
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	project, err := config.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	built, err := compile.Compile(context.Background(), compile.Options{Project: project,
		Registry: reg, File: filepath.Join(dir, "pipelines/birdstrikes.yaml")})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	res, err := runner.Run(context.Background(), runner.Options{Project: project,
		ManifestPath: built.ManifestPath, TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != "success" {
		t.Fatalf("run %s: %+v", res.Status, res.Err)
	}

	events, err := os.ReadFile(filepath.Join(res.RunDir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(events), `"write.load_path"`) ||
		!strings.Contains(string(events), `"path":"copy"`) {
		t.Errorf("events.jsonl does not say which load path ran")
	}

	var source, target int
	if err := maria.QueryRow("SELECT COUNT(*) FROM osiris_c_test.birdstrikes_c").Scan(&source); err != nil {
		t.Fatal(err)
	}
	if err := pg.QueryRow("SELECT COUNT(*) FROM osiris_c.birdstrikes_c").Scan(&target); err != nil {
		t.Fatal(err)
	}
	if source != 10000 || target != source {
		t.Fatalf("rows: MariaDB %d, PostgreSQL %d, want 10000 on both", source, target)
	}

	columns := []string{"Airport Name", "Aircraft Make Model", "Effect Amount of damage",
		"Flight Date", "Aircraft Airline Operator", "Origin State", "Phase of flight",
		"Wildlife Size", "Wildlife Species", "Time of day", "Cost Other", "Cost Repair",
		"Cost Total $", "Speed IAS in knots"}
	want := checksum(t, "mysql.extractor", map[string]any{"resolved_connection": map[string]any{
		"host": "127.0.0.1", "port": 3306, "database": "osiris_c_test", "user": "root"},
		"table": "birdstrikes_c", "columns": toAny(columns)})
	got := checksum(t, "postgres.extractor", map[string]any{"resolved_connection": map[string]any{
		"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres",
		"sslmode": "disable"}, "schema": "osiris_c", "table": "birdstrikes_c",
		"columns": toAny(columns)})
	t.Logf("checksum of both ends: %s", want)
	if got != want {
		t.Errorf("value checksum: PostgreSQL %s, MariaDB %s", got, want)
	}

	var withCost, costRows int
	if err := pg.QueryRow(`SELECT COUNT(*) FILTER (WHERE "Has Cost $"),
		COUNT(*) FILTER (WHERE "Cost Total $" > 0) FROM osiris_c.birdstrikes_c`).
		Scan(&withCost, &costRows); err != nil || withCost != costRows {
		t.Errorf("computed column: %d flagged, %d with cost (%v)", withCost, costRows, err)
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// checksum reads a table through a driver and hashes its rows, each rendered value by
// value and sorted, so the order the databases return rows in does not matter.
func checksum(t *testing.T, component string, cfg map[string]any) string {
	t.Helper()
	factory, ok := drivers.Lookup(component)
	if !ok {
		t.Fatalf("%s not registered", component)
	}
	res, err := factory().Run(context.Background(), drivers.Request{StepID: "check",
		Config: cfg, Env: sqlcommon.NewRecordingEnv(t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), res.Rows)
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(rows))
	for i, row := range rows {
		parts := make([]string, len(row))
		for j, v := range row {
			switch x := v.(type) {
			case time.Time:
				parts[j] = x.Format("2006-01-02")
			case nil:
				parts[j] = "<null>"
			default:
				parts[j] = fmt.Sprint(x)
			}
		}
		lines[i] = strings.Join(parts, "\x1f")
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return fmt.Sprintf("%d:%s", len(rows), hex.EncodeToString(sum[:]))
}
