package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// recordingEnv keeps every event, metric and log line of a step, unredacted, so tests can
// prove the driver itself never hands a secret to them.
type recordingEnv struct {
	mu      sync.Mutex
	dir     string
	events  []recordedEvent
	metrics map[string]any
	logs    bytes.Buffer
	logger  *slog.Logger
}

type recordedEvent struct {
	Name   string         `json:"event"`
	Fields map[string]any `json:"fields"`
}

func newRecordingEnv(t *testing.T) *recordingEnv {
	e := &recordingEnv{dir: t.TempDir(), metrics: map[string]any{}}
	e.logger = slog.New(slog.NewJSONHandler(lockedWriter{e}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
	}))
	return e
}

type lockedWriter struct{ e *recordingEnv }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(p)
}

func (e *recordingEnv) OutputDir() string { return e.dir }
func (e *recordingEnv) BasePath() string  { return e.dir }

func (e *recordingEnv) Metric(name string, value any, _ string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics[name] = value
}

func (e *recordingEnv) Event(name string, fields map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, recordedEvent{Name: name, Fields: fields})
}

func (e *recordingEnv) Logger() *slog.Logger { return e.logger }

func (e *recordingEnv) eventsNamed(name string) []recordedEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []recordedEvent
	for _, ev := range e.events {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// everything is all the env saw, as text, for grepping.
func (e *recordingEnv) everything(t *testing.T) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	events, err := json.Marshal(e.events)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := json.Marshal(e.metrics)
	if err != nil {
		t.Fatal(err)
	}
	return string(events) + "\n" + string(metrics) + "\n" + e.logs.String()
}

// countingServer is an httptest server that knows how many client connections are open.
type countingServer struct {
	*httptest.Server
	open     atomic.Int64
	requests atomic.Int64
}

func newCountingServer(t *testing.T, handler http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			handler(w, r)
		}))
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// requireNoOpenConnections waits for the server to see every client connection closed.
// Closing is asynchronous on the server side, so it polls; the bound is generous and only
// guards against a hang.
func (s *countingServer) requireNoOpenConnections(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.open.Load(); n != 0 {
		t.Fatalf("%d client connection(s) still open on the server", n)
	}
}

// graphQLRequest is what the driver posts.
type graphQLRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
}

func decodeRequest(t *testing.T, r *http.Request) graphQLRequest {
	var req graphQLRequest
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request: %v", err)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("request is not JSON: %v: %s", err, body)
	}
	return req
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// relayPage answers a Relay connection query over total items, size per page, with
// cursors "c<index of last item>".
func relayPage(req graphQLRequest, total, size int) map[string]any {
	start := 0
	if after, ok := req.Variables["after"].(string); ok {
		fmt.Sscanf(after, "c%d", &start)
		start++
	}
	end := min(start+size, total)
	edges := []any{}
	for i := start; i < end; i++ {
		edges = append(edges, map[string]any{"node": map[string]any{
			"id": i, "name": fmt.Sprintf("item %d", i),
			"owner": map[string]any{"login": fmt.Sprintf("user%d", i%3)},
		}})
	}
	cursor := any(nil)
	if end > start {
		cursor = fmt.Sprintf("c%d", end-1)
	}
	return map[string]any{"data": map[string]any{"items": map[string]any{
		"edges":    edges,
		"pageInfo": map[string]any{"endCursor": cursor, "hasNextPage": end < total},
	}}}
}

// relayConfig is a paginated step config against url.
func relayConfig(url string) map[string]any {
	return map[string]any{
		"endpoint":           url,
		"query":              "query($after: String) { items(after: $after) { edges { node { id } } } }",
		"pagination_enabled": true,
		"pagination_path":    "data.items.pageInfo",
		"data_path":          "data.items.edges[*].node",
		"retry_delay":        0,
	}
}

func run(t *testing.T, ctx context.Context, env drivers.StepEnv, cfg map[string]any) (
	drivers.Stream, error) {
	t.Helper()
	res, err := (&Extractor{}).Run(ctx, drivers.Request{StepID: "extract_items", Config: cfg,
		Env: env})
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		t.Fatal("Run returned no stream")
	}
	return res.Rows, nil
}

func columnNames(cols []drivers.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name + ":" + c.Type
	}
	return strings.Join(names, ",")
}
