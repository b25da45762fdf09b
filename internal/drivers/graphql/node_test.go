package graphql

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// serverDir holds the graphql-js test server and its copy of airports.csv.
var serverDir = filepath.Join("..", "..", "..", "test", "js", "graphql-server")

// needNode skips without node or the installed npm packages, except under CI, where a
// missing server is a failure.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(serverDir, "node_modules", "graphql-http"))
	}
	if err != nil {
		msg := fmt.Sprintf("GraphQL test server unavailable (%v); run scripts/test-deps.sh", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// startGraphQLServer runs test/js/graphql-server on a free loopback port, waits until it
// says it is ready, and stops it when the test ends. It returns the endpoint URL.
func startGraphQLServer(t *testing.T, extraEnv ...string) string {
	t.Helper()
	node := needNode(t)
	var lastErr error
	for range 3 { // a port picked free can be taken before node binds it
		url, err := tryStartGraphQLServer(t, node, extraEnv)
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("start GraphQL test server: %v", lastErr)
	return ""
}

func tryStartGraphQLServer(t *testing.T, node string, extraEnv []string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	cmd := exec.Command(node, "server.js")
	cmd.Dir = serverDir
	cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port)},
		extraEnv...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ready := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if url, ok := strings.CutPrefix(scanner.Text(), "ready "); ok {
				ready <- url
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-ready:
		t.Cleanup(stop)
		return url, nil
	case <-exited:
		return "", fmt.Errorf("node exited before it was ready (port %d)", port)
	case <-time.After(30 * time.Second):
		stop()
		return "", fmt.Errorf("node not ready after 30 s")
	}
}

// airportsCSV reads the rows the server serves, keyed by IATA code.
func airportsCSV(t *testing.T) ([]string, map[string][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(serverDir, "airports.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byIATA := map[string][]string{}
	for _, rec := range records[1:] {
		byIATA[rec[0]] = rec
	}
	return records[0], byIATA
}

const airportFields = "iata name city state country latitude longitude " +
	"location { latitude longitude }"

// checkAirports compares extracted rows (columns iata..longitude, location.*) with the CSV.
func checkAirports(t *testing.T, cols []drivers.Column, rows [][]any) {
	t.Helper()
	header, want := airportsCSV(t)
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
	endpoint := startGraphQLServer(t, "REQUIRE_TOKEN="+token)
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
	endpoint := startGraphQLServer(t)
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
	endpoint := startGraphQLServer(t)

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
