package discovery_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	gomysql "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/discovery/keys"
)

// osirisBin is the real osiris binary, built once for every test in this file.
var osirisBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "osiris-discovery-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	osirisBin = filepath.Join(dir, "osiris")
	build := exec.Command("go", "build", "-o", osirisBin, "github.com/osirisgo/osiris/cmd/osiris")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build osiris:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// project is a temporary Osiris project with one connections file.
type project struct {
	dir string
	env []string
}

func newProject(t *testing.T, connectionsYAML string) *project {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "osiris.yaml"), []byte("version: '2.0'\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"),
		[]byte(connectionsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return &project{dir: dir}
}

func (p *project) cacheDir() string { return filepath.Join(p.dir, ".osiris", "mcp", "logs", "cache") }

// result is one osiris process: its exit code, its parsed stdout document and stderr.
type result struct {
	exit   int
	doc    map[string]any
	stdout string
	stderr string
}

func (p *project) command(args ...string) *exec.Cmd {
	cmd := exec.Command(osirisBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(filteredEnv(), "OSIRIS_HOME="+p.dir)
	cmd.Env = append(cmd.Env, p.env...)
	return cmd
}

func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OSIRIS_") {
			out = append(out, kv)
		}
	}
	return out
}

func (p *project) run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := p.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		res.exit = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run osiris %v: %v", args, err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &res.doc); err != nil {
		t.Fatalf("osiris %v printed no JSON object (exit %d): %v\nstdout: %s\nstderr: %s",
			args, res.exit, err, stdout.String(), stderr.String())
	}
	return res
}

func (p *project) discover(t *testing.T, ref string, extra ...string) result {
	t.Helper()
	args := append([]string{"mcp", "discovery", "run", ref, "--json"}, extra...)
	return p.run(t, args...)
}

func mustSucceed(t *testing.T, r result) map[string]any {
	t.Helper()
	if r.exit != 0 || r.doc["status"] != "success" {
		t.Fatalf("exit %d: %s\nstderr: %s", r.exit, r.stdout, r.stderr)
	}
	return r.doc
}

func writeCSVDir(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const fsConnections = "connections:\n  filesystem:\n    local:\n      base_dir: data\n"

func csvRows(n int) string {
	var b strings.Builder
	b.WriteString("id,city,visited\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d,City %d,2024-01-%02d\n", i, i, i%28+1)
	}
	return b.String()
}

// assertSameEntry checks that a hit carries the first answer's id and TTL fields.
func assertSameEntry(t *testing.T, first, second map[string]any) {
	t.Helper()
	if first["cached"] != false || second["cached"] != true {
		t.Fatalf("cached = %v then %v, want false then true", first["cached"], second["cached"])
	}
	if first["discovery_id"] != second["discovery_id"] {
		t.Fatalf("discovery ids %v vs %v", first["discovery_id"], second["discovery_id"])
	}
	c1, c2 := first["cache"].(map[string]any), second["cache"].(map[string]any)
	for _, field := range []string{"created_at", "expires_at", "ttl_seconds"} {
		if c1[field] == nil || c1[field] != c2[field] {
			t.Fatalf("cache.%s: %v then %v", field, c1[field], c2[field])
		}
	}
}

func TestFilesystemSecondProcessIsServedFromDiskWithoutTheDirectory(t *testing.T) {
	p := newProject(t, fsConnections)
	data := filepath.Join(p.dir, "data")
	writeCSVDir(t, data, map[string]string{"cities.csv": csvRows(20), "empty.csv": ""})

	first := mustSucceed(t, p.discover(t, "@filesystem.local", "--samples", "2"))
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	second := mustSucceed(t, p.discover(t, "@filesystem.local", "--samples", "2"))

	assertSameEntry(t, first, second)
	wantID := keys.DiscoveryID("@filesystem.local", "filesystem.csv_extractor", 2)
	if first["discovery_id"] != wantID {
		t.Fatalf("discovery_id %v, want %s", first["discovery_id"], wantID)
	}
	if first["tables_found"] != 2.0 || second["tables_found"] != 2.0 {
		t.Fatalf("tables_found %v / %v", first["tables_found"], second["tables_found"])
	}
	entry := readJSON(t, filepath.Join(p.cacheDir(), wantID+".json"))
	for _, field := range []string{"created_at", "expires_at", "ttl_seconds", "cache_key",
		"connection_id", "component_id", "samples", "data"} {
		if _, ok := entry[field]; !ok {
			t.Errorf("cache entry lacks %s", field)
		}
	}

	// Another idempotency key reaches the same entry, under its own cache_key.
	keyed := mustSucceed(t, p.discover(t, "@filesystem.local", "--samples", "2",
		"--idempotency-key", "req-42"))
	assertSameEntry(t, first, keyed)
	if keyed["cache"].(map[string]any)["cache_key"] !=
		keys.CacheKey("@filesystem.local", "filesystem.csv_extractor", 2, "req-42") {
		t.Fatalf("cache_key %v", keyed["cache"])
	}

	// The human command reads the same cache.
	human := mustSucceed(t, p.run(t, "discovery", "run", "@filesystem.local", "--samples", "2",
		"--json"))
	assertSameEntry(t, first, human)

	// --refresh goes back to the source, which is gone now.
	refreshed := p.discover(t, "@filesystem.local", "--samples", "2", "--refresh")
	if refreshed.exit != 1 || refreshed.doc["status"] != "error" {
		t.Fatalf("refresh without the directory: exit %d %s", refreshed.exit, refreshed.stdout)
	}
}

func TestDuckDBSecondProcessIsServedFromDiskWithoutTheFile(t *testing.T) {
	p := newProject(t, "connections:\n  duckdb:\n    warehouse:\n      path: wh.duckdb\n")
	dbPath := filepath.Join(p.dir, "wh.duckdb")
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), placed DATE)",
		"INSERT INTO orders SELECT i, i * 1.5, DATE '2024-01-01' + CAST(i AS INTEGER) FROM range(50) t(i)",
		"CREATE SCHEMA sales",
		"CREATE TABLE sales.regions (name VARCHAR)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(stmt, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	first := mustSucceed(t, p.discover(t, "@duckdb.warehouse", "--samples", "3"))
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	second := mustSucceed(t, p.discover(t, "@duckdb.warehouse", "--samples", "3"))
	assertSameEntry(t, first, second)

	tables := first["tables"].([]any)
	if len(tables) != 2 {
		t.Fatalf("tables %v", tables)
	}
	orders := tables[0].(map[string]any)
	if orders["name"] != "orders" || orders["row_count"] != 50.0 ||
		len(orders["sample_data"].([]any)) != 3 {
		t.Fatalf("orders %v", orders)
	}
	if keysOf := orders["primary_keys"].([]any); len(keysOf) != 1 || keysOf[0] != "id" {
		t.Fatalf("primary keys %v", orders["primary_keys"])
	}
	if tables[1].(map[string]any)["name"] != "sales.regions" {
		t.Fatalf("second table %v", tables[1])
	}

	id := first["discovery_id"].(string)
	samples := readJSON(t, filepath.Join(p.cacheDir(), id, "samples.json"))
	if samples["tables_with_samples"] != 1.0 {
		t.Fatalf("samples.json %v", samples)
	}
	rows := samples["samples"].([]any)[0].(map[string]any)
	if rows["count"] != 3.0 || len(rows["rows"].([]any)) != 3 {
		t.Fatalf("samples.json rows %v", rows)
	}
	artifacts := first["artifacts"].(map[string]any)
	if artifacts["tables"] != "osiris://mcp/discovery/"+id+"/tables.json" {
		t.Fatalf("artifacts %v", artifacts)
	}
	for _, name := range []string{"overview", "tables", "samples"} {
		readJSON(t, filepath.Join(p.cacheDir(), id, name+".json"))
	}
}

func TestExpiredEntriesAreRediscoveredByTheNextProcess(t *testing.T) {
	p := newProject(t, fsConnections)
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{"a.csv": csvRows(3)})

	p.env = []string{"OSIRIS_MCP_CACHE_TTL_HOURS=0.5"}
	first := mustSucceed(t, p.discover(t, "@filesystem.local"))
	if ttl := first["cache"].(map[string]any)["ttl_seconds"]; ttl != 1800.0 {
		t.Fatalf("ttl_seconds %v with 0.5 hours", ttl)
	}
	if second := mustSucceed(t, p.discover(t, "@filesystem.local")); second["cached"] != true {
		t.Fatal("fresh entry not served")
	}

	// A lifetime of zero has expired every entry already, the one above included.
	p.env = []string{"OSIRIS_MCP_CACHE_TTL_HOURS=0"}
	third := mustSucceed(t, p.discover(t, "@filesystem.local"))
	fourth := mustSucceed(t, p.discover(t, "@filesystem.local"))
	if third["cached"] != false || fourth["cached"] != false {
		t.Fatalf("expired entries served: %v %v", third["cached"], fourth["cached"])
	}
	if third["cache"].(map[string]any)["created_at"] ==
		first["cache"].(map[string]any)["created_at"] {
		t.Fatal("the expired entry was not rebuilt")
	}
}

func TestTwentyConcurrentProcessesLeaveOneValidEntry(t *testing.T) {
	p := newProject(t, fsConnections)
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{"a.csv": csvRows(500),
		"b.csv": csvRows(50)})

	const n = 20
	outputs := make([][]byte, n)
	exits := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := p.command("mcp", "discovery", "run", "@filesystem.local", "--samples", "4",
				"--json")
			out, err := cmd.Output()
			outputs[i] = out
			var exitErr *exec.ExitError
			if errors.As(err, &exitErr) {
				exits[i] = exitErr.ExitCode()
			} else if err != nil {
				exits[i] = -1
			}
		}()
	}
	wg.Wait()

	fresh := 0
	var createdAt any
	for i, out := range outputs {
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("process %d printed unparsable JSON: %v\n%s", i, err, out)
		}
		if exits[i] != 0 || doc["status"] != "success" {
			t.Fatalf("process %d: exit %d %s", i, exits[i], out)
		}
		if doc["cached"] == false {
			fresh++
		}
		c := doc["cache"].(map[string]any)["created_at"]
		if createdAt == nil {
			createdAt = c
		} else if c != createdAt {
			t.Fatalf("processes saw different entries: %v vs %v", c, createdAt)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d processes discovered; the others must wait and read the entry", fresh)
	}

	entries, _ := filepath.Glob(filepath.Join(p.cacheDir(), "disc_*.json"))
	if len(entries) != 1 {
		t.Fatalf("entries %v", entries)
	}
	entry := readJSON(t, entries[0])
	if entry["discovery_id"] != keys.DiscoveryID("@filesystem.local",
		"filesystem.csv_extractor", 4) {
		t.Fatalf("entry %v", entry["discovery_id"])
	}
	leftovers, _ := filepath.Glob(filepath.Join(p.cacheDir(), "*", ".*.tmp-*"))
	tops, _ := filepath.Glob(filepath.Join(p.cacheDir(), ".*.tmp-*"))
	if len(leftovers)+len(tops) != 0 {
		t.Fatalf("temp files left: %v %v", leftovers, tops)
	}
}

func TestCorruptCacheFileIsReplaced(t *testing.T) {
	p := newProject(t, fsConnections)
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{"a.csv": csvRows(3)})
	id := keys.DiscoveryID("@filesystem.local", "filesystem.csv_extractor", 0)
	if err := os.MkdirAll(p.cacheDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	entryPath := filepath.Join(p.cacheDir(), id+".json")
	if err := os.WriteFile(entryPath, []byte(`{"discovery_id": "`+id+`", "data": {`),
		0o600); err != nil {
		t.Fatal(err)
	}

	first := mustSucceed(t, p.discover(t, "@filesystem.local"))
	if first["cached"] != false {
		t.Fatal("a corrupt entry was served")
	}
	entry := readJSON(t, entryPath)
	if entry["discovery_id"] != id || entry["data"] == nil {
		t.Fatalf("entry not rebuilt: %v", entry)
	}
	if second := mustSucceed(t, p.discover(t, "@filesystem.local")); second["cached"] != true {
		t.Fatal("rebuilt entry not served")
	}
}

func TestCacheCommands(t *testing.T) {
	p := newProject(t, fsConnections+"    other:\n      base_dir: data\n")
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{"a.csv": csvRows(3)})
	mustSucceed(t, p.discover(t, "@filesystem.local"))
	mustSucceed(t, p.discover(t, "@filesystem.local", "--samples", "1"))
	mustSucceed(t, p.discover(t, "@filesystem.other"))

	stats := mustSucceed(t, p.run(t, "mcp", "cache", "stats", "--json"))
	if stats["disk_files"] != 3.0 || stats["expired_entries"] != 0.0 ||
		stats["cache_directory"] != p.cacheDir() {
		t.Fatalf("stats %v", stats)
	}
	inv := mustSucceed(t, p.run(t, "mcp", "cache", "invalidate", "--connection",
		"@filesystem.local", "--json"))
	if inv["invalidated"] != 2.0 {
		t.Fatalf("invalidate %v", inv)
	}
	if again := mustSucceed(t, p.discover(t, "@filesystem.local")); again["cached"] != false {
		t.Fatal("invalidated entry served")
	}
	if other := mustSucceed(t, p.discover(t, "@filesystem.other")); other["cached"] != true {
		t.Fatal("invalidate dropped another connection's entry")
	}
	cleared := mustSucceed(t, p.run(t, "mcp", "cache", "clear", "--json"))
	if cleared["removed"] != 2.0 {
		t.Fatalf("clear %v", cleared)
	}
	if bad := p.run(t, "mcp", "cache", "invalidate", "--connection", "local", "--json"); bad.exit != 2 {
		t.Fatalf("malformed reference: exit %d", bad.exit)
	}
}

func TestExitCodes(t *testing.T) {
	p := newProject(t, fsConnections+"  mysql:\n    gone:\n      host: 127.0.0.1\n"+
		"      database: x\n      user: u\n      password: ${G_UNSET_PASSWORD}\n")
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{"a.csv": csvRows(3)})
	for _, tc := range []struct {
		args []string
		exit int
		kind string
	}{
		{[]string{"filesystem.local"}, 2, "invalid_reference"},
		{[]string{"@filesystem.local", "--component", "mysql.extractor"}, 2, "invalid_component"},
		{[]string{"@filesystem.local", "--component", "filesystem.csv_writer"}, 2,
			"invalid_component"},
		{[]string{"@filesystem.local", "--samples", "-1"}, 2, "invalid_samples"},
		{[]string{"@filesystem.nope"}, 1, "connection_not_found"},
		{[]string{"@posthog.main"}, 1, "connection_not_found"},
		{[]string{"@mysql.gone"}, 1, "missing_env"},
	} {
		r := p.discover(t, tc.args[0], tc.args[1:]...)
		if r.exit != tc.exit || r.doc["error_type"] != tc.kind {
			t.Errorf("%v: exit %d %v, want %d %s", tc.args, r.exit, r.doc["error_type"],
				tc.exit, tc.kind)
		}
	}
}

func TestSecretsNeverReachArtifactsOrOutput(t *testing.T) {
	const sentinel = "Sentinel-Pw@/discovery-g-42"
	p := newProject(t, "connections:\n  filesystem:\n    local:\n      base_dir: data\n"+
		"      password: ${G_DISCOVERY_SECRET}\n")
	p.env = []string{"G_DISCOVERY_SECRET=" + sentinel}
	writeCSVDir(t, filepath.Join(p.dir, "data"), map[string]string{
		"users.csv": "id,password,note\n1,hunter2-column,told " + sentinel + " to a friend\n",
	})

	r := p.discover(t, "@filesystem.local", "--samples", "5")
	doc := mustSucceed(t, r)
	hit := mustSucceed(t, p.discover(t, "@filesystem.local", "--samples", "5"))
	for _, out := range []string{r.stdout, r.stderr, fmt.Sprint(hit)} {
		if strings.Contains(out, sentinel) || strings.Contains(out, "hunter2-column") {
			t.Fatalf("output holds a secret: %s", out)
		}
	}
	grepTree(t, p.dir, sentinel, "osiris_connections.yaml", "users.csv")
	grepTree(t, p.cacheDir(), "hunter2-column")
	row := doc["tables"].([]any)[0].(map[string]any)["sample_data"].([]any)[0]
	if row.(map[string]any)["password"] != "***MASKED***" {
		t.Fatalf("password column %v", row)
	}
}

// grepTree fails if any file under dir (except those named in skip) holds needle.
func grepTree(t *testing.T, dir, needle string, skip ...string) {
	t.Helper()
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || slices.Contains(skip, info.Name()) {
			return nil
		}
		raw, _ := os.ReadFile(path)
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("%s holds the secret", path)
		}
		return nil
	})
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// forwarder relays loopback TCP connections to a real server and counts them. Closing it
// makes the server unreachable through it without touching the server.
type forwarder struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			server, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				client.Close()
				continue
			}
			f.track(client, server)
			f.wg.Add(2)
			go f.pipe(client, server)
			go f.pipe(server, client)
		}
	}()
	t.Cleanup(f.Close)
	return f
}

func (f *forwarder) track(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns = append(f.conns, conns...)
}

func (f *forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (f *forwarder) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// Close stops accepting and cuts every relayed connection.
func (f *forwarder) Close() {
	f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// MariaDB fixtures: this file's own database and user, so other tests are not disturbed.
const (
	mysqlDB       = "osiris_g_discovery"
	mysqlUser     = "osiris_g_disc"
	mysqlPassword = "G-Disc@pw/sentinel-77"
)

func setUpMySQL(t *testing.T) {
	t.Helper()
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "tcp", "127.0.0.1:3306"
	cfg.Timeout = 5 * time.Second
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MariaDB at 127.0.0.1:3306 is required in CI: %v", err)
		}
		t.Skipf("MariaDB at 127.0.0.1:3306 not reachable: %v", err)
	}
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS " + mysqlDB,
		"CREATE USER IF NOT EXISTS '" + mysqlUser + "'@'%' IDENTIFIED BY '" + mysqlPassword + "'",
		"CREATE USER IF NOT EXISTS '" + mysqlUser + "'@'localhost' IDENTIFIED BY '" +
			mysqlPassword + "'",
		"GRANT ALL ON " + mysqlDB + ".* TO '" + mysqlUser + "'@'%'",
		"GRANT ALL ON " + mysqlDB + ".* TO '" + mysqlUser + "'@'localhost'",
		"DROP TABLE IF EXISTS " + mysqlDB + ".customers",
		"CREATE TABLE " + mysqlDB + ".customers (id INT PRIMARY KEY, email VARCHAR(80))",
		"INSERT INTO " + mysqlDB + ".customers VALUES (1,'a@example.com'),(2,'b@example.com')," +
			"(3,'c@example.com'),(4,'d@example.com')",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func TestMySQLSecondProcessIsServedFromDiskWithTheServerUnreachable(t *testing.T) {
	setUpMySQL(t)
	fwd := newForwarder(t, "127.0.0.1:3306")
	p := newProject(t, fmt.Sprintf("connections:\n  mysql:\n    shop:\n      host: 127.0.0.1\n"+
		"      port: %d\n      database: %s\n      user: %s\n      password: ${G_MYSQL_PW}\n",
		fwd.port(), mysqlDB, mysqlUser))
	p.env = []string{"G_MYSQL_PW=" + mysqlPassword}

	first := p.discover(t, "@mysql.shop", "--samples", "2")
	firstDoc := mustSucceed(t, first)
	if fwd.accepted.Load() == 0 {
		t.Fatal("the first discovery did not go through the forwarder")
	}
	fwd.Close()
	before := fwd.accepted.Load()

	second := p.discover(t, "@mysql.shop", "--samples", "2")
	assertSameEntry(t, firstDoc, mustSucceed(t, second))
	if fwd.accepted.Load() != before {
		t.Fatal("the cached discovery reached for the server")
	}
	table := firstDoc["tables"].([]any)[0].(map[string]any)
	if table["name"] != "customers" || table["row_count"] != 4.0 ||
		len(table["sample_data"].([]any)) != 2 {
		t.Fatalf("customers %v", table)
	}

	// With the server unreachable, --refresh fails cleanly and says nothing secret.
	refreshed := p.discover(t, "@mysql.shop", "--samples", "2", "--refresh")
	if refreshed.exit != 1 || refreshed.doc["status"] != "error" {
		t.Fatalf("refresh: exit %d %s", refreshed.exit, refreshed.stdout)
	}
	for _, r := range []result{first, second, refreshed} {
		for _, leak := range []string{mysqlPassword, mysqlUser + "@"} {
			if strings.Contains(r.stdout, leak) || strings.Contains(r.stderr, leak) {
				t.Fatalf("output holds %q: %s %s", leak, r.stdout, r.stderr)
			}
		}
	}
	if msg := fmt.Sprint(refreshed.doc["message"]); strings.Contains(msg, "127.0.0.1") ||
		strings.Contains(msg, fmt.Sprint(fwd.port())) {
		t.Fatalf("error names the server: %s", msg)
	}
	grepTree(t, p.dir, mysqlPassword, "osiris_connections.yaml")
}

// pgSchema is this file's own schema in the shared test database.
const pgSchema = "osiris_g_discovery"

func setUpPostgres(t *testing.T) {
	t.Helper()
	db, err := sql.Open("postgres",
		"host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL at 127.0.0.1:5432 is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL at 127.0.0.1:5432 not reachable: %v", err)
	}
	for _, stmt := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + pgSchema,
		"DROP TABLE IF EXISTS " + pgSchema + ".invoices",
		"CREATE TABLE " + pgSchema + ".invoices (id BIGINT PRIMARY KEY, total NUMERIC(10,2))",
		"INSERT INTO " + pgSchema + ".invoices SELECT g, g * 2.5 FROM generate_series(1, 30) g",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func TestPostgresSecondProcessIsServedFromDiskWithTheServerUnreachable(t *testing.T) {
	// The server trusts local connections, so any password works: it is the sentinel.
	const password = "Pg-Disc@pw/sentinel-g-91"
	setUpPostgres(t)
	fwd := newForwarder(t, "127.0.0.1:5432")
	p := newProject(t, fmt.Sprintf("connections:\n  postgres:\n    dw:\n      host: 127.0.0.1\n"+
		"      port: %d\n      database: test\n      user: postgres\n"+
		"      password: ${G_PG_PW}\n      sslmode: disable\n      schema: %s\n",
		fwd.port(), pgSchema))
	p.env = []string{"G_PG_PW=" + password}

	first := p.discover(t, "@postgres.dw", "--samples", "4")
	firstDoc := mustSucceed(t, first)
	if fwd.accepted.Load() == 0 {
		t.Fatal("the first discovery did not go through the forwarder")
	}
	fwd.Close()
	before := fwd.accepted.Load()

	second := p.discover(t, "@postgres.dw", "--samples", "4")
	assertSameEntry(t, firstDoc, mustSucceed(t, second))
	if fwd.accepted.Load() != before {
		t.Fatal("the cached discovery reached for the server")
	}
	if firstDoc["discovery_id"] != keys.DiscoveryID("@postgres.dw", "postgres.extractor", 4) {
		t.Fatalf("discovery_id %v", firstDoc["discovery_id"])
	}
	table := firstDoc["tables"].([]any)[0].(map[string]any)
	if table["name"] != "invoices" || table["row_count"] != 30.0 ||
		len(table["sample_data"].([]any)) != 4 {
		t.Fatalf("invoices %v", table)
	}
	for _, r := range []result{first, second} {
		if strings.Contains(r.stdout, password) || strings.Contains(r.stderr, password) {
			t.Fatal("output holds the password")
		}
	}
	grepTree(t, p.dir, password, "osiris_connections.yaml")
}
