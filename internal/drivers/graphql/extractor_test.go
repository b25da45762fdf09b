package graphql

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

func TestRelayPaginationOneRequestPerPageOneBatchPerPage(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, relayPage(decodeRequest(t, r), 10, 3))
	})
	env := newRecordingEnv(t)

	stream, err := run(t, context.Background(), env, relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.requests.Load(); got != 1 {
		t.Errorf("Run made %d requests before the first Next, want 1", got)
	}
	want := "id:int64,name:string,owner.login:string"
	if got := columnNames(stream.Columns()); got != want {
		t.Errorf("columns = %s, want %s", got, want)
	}

	var sizes []int
	var ids []int64
	for {
		batch, err := stream.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(batch))
		if got := srv.requests.Load(); got != int64(len(sizes)) {
			t.Errorf("after batch %d the server saw %d requests: pages must be fetched "+
				"one per Next", len(sizes), got)
		}
		for _, row := range batch {
			ids = append(ids, row[0].(int64))
		}
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}

	if got := srv.requests.Load(); got != 4 {
		t.Errorf("requests = %d, want 4 (one per page, pageInfo read from the same response)",
			got)
	}
	if len(sizes) != 4 || sizes[0] != 3 || sizes[3] != 1 {
		t.Errorf("batch sizes = %v, want [3 3 3 1]", sizes)
	}
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("ids = %v, want 0..9 in order", ids)
		}
	}
	if env.metrics["rows_read"] != 10 || env.metrics["pages_fetched"] != 4 ||
		env.metrics["requests_made"] != 4 {
		t.Errorf("metrics = %v", env.metrics)
	}
	complete := env.eventsNamed("extraction.complete")
	if len(complete) != 1 || complete[0].Fields["rows"] != 10 {
		t.Errorf("extraction.complete = %v", complete)
	}
	if pages := env.eventsNamed("extraction.page"); len(pages) != 4 ||
		pages[0].Fields["cursor"] != "c2" {
		t.Errorf("extraction.page events = %v", pages)
	}
	srv.requireNoOpenConnections(t)
}

func TestFailureOnPage3LeavesNoConnectionOpen(t *testing.T) {
	var calls atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		req := decodeRequest(t, r)
		if calls.Add(1) >= 3 {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "down"})
			return
		}
		writeJSON(w, http.StatusOK, relayPage(req, 100, 5))
	})
	env := newRecordingEnv(t)
	cfg := relayConfig(srv.URL)
	cfg["max_retries"] = 2

	stream, err := run(t, context.Background(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = drivers.ReadAll(context.Background(), stream)
	if err == nil {
		t.Fatal("want an error on page 3")
	}
	want := "GraphQL request failed: HTTP 503 (after 3 attempts)"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var de *drivers.Error
	if !errors.As(err, &de) || de.Step != "extract_items" {
		t.Errorf("error is not a *drivers.Error for the step: %#v", err)
	}
	if got := calls.Load(); got != 5 {
		t.Errorf("server calls = %d, want 2 pages + 3 attempts at page 3", got)
	}
	if n := len(env.eventsNamed("step_retry_attempt")); n != 2 {
		t.Errorf("step_retry_attempt events = %d, want 2", n)
	}
	if n := len(env.eventsNamed("step_retry_exhausted")); n != 1 {
		t.Errorf("step_retry_exhausted events = %d, want 1", n)
	}
	if n := len(env.eventsNamed("extraction.error")); n != 1 {
		t.Errorf("extraction.error events = %d, want 1", n)
	}
	srv.requireNoOpenConnections(t)
}

func TestCancelDuringAPageLeavesNoConnectionOpen(t *testing.T) {
	arrived := make(chan struct{})
	var calls atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		req := decodeRequest(t, r)
		if calls.Add(1) == 2 {
			close(arrived)
			<-r.Context().Done() // hold page 2 until the client gives up
			return
		}
		writeJSON(w, http.StatusOK, relayPage(req, 100, 5))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	stream, err := run(t, ctx, newRecordingEnv(t), relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Next(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-arrived
		cancel()
	}()
	_, err = stream.Next(ctx)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want an error wrapping context.Canceled", err)
	}
	if err.Error() != "GraphQL request cancelled" {
		t.Errorf("error = %q", err)
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	srv.requireNoOpenConnections(t)
}

func TestCancelBeforeRunLeavesNoConnectionOpen(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, relayPage(decodeRequest(t, r), 10, 3))
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := run(t, ctx, newRecordingEnv(t), relayConfig(srv.URL))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if srv.requests.Load() != 0 {
		t.Errorf("a cancelled step sent %d requests", srv.requests.Load())
	}
	srv.requireNoOpenConnections(t)
}

func TestGraphQLErrorsAreNotRetriedAndAreScrubbed(t *testing.T) {
	const token = "tok_SENTINEL_9f8e7d6c"
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = decodeRequest(t, r)
		writeJSON(w, http.StatusOK, map[string]any{
			"data": nil,
			"errors": []any{
				map[string]any{"message": "Cannot query field \"nope\" on type \"Query\"."},
				map[string]any{"message": "token " + r.Header.Get("Authorization") + " is odd"},
			},
		})
	})
	env := newRecordingEnv(t)
	cfg := relayConfig(srv.URL)
	cfg["auth_type"] = "bearer"
	cfg["auth_token"] = token
	cfg["max_retries"] = 3

	_, err := run(t, context.Background(), env, cfg)
	if err == nil {
		t.Fatal("want an error")
	}
	if srv.requests.Load() != 1 {
		t.Errorf("requests = %d, want 1: GraphQL errors are not retried", srv.requests.Load())
	}
	if !strings.HasPrefix(err.Error(), `GraphQL errors: Cannot query field "nope"`) {
		t.Errorf("error = %q", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error shows the token: %q", err)
	}
	if strings.Contains(env.everything(t), token) {
		t.Errorf("events or logs show the token")
	}
	var de *drivers.Error
	if !errors.As(err, &de) || de.Kind != drivers.KindQuery {
		t.Errorf("kind = %v, want query", de)
	}
	srv.requireNoOpenConnections(t)
}

func TestHTTP400WithGraphQLErrorsIsAQueryError(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"errors": []any{map[string]any{"message": "Syntax Error: Unexpected Name"}},
		})
	})
	cfg := relayConfig(srv.URL)
	cfg["max_retries"] = 3
	_, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	if err == nil || err.Error() != "GraphQL errors: Syntax Error: Unexpected Name (HTTP 400)" {
		t.Fatalf("err = %v", err)
	}
	if srv.requests.Load() != 1 {
		t.Errorf("requests = %d, want 1", srv.requests.Load())
	}
}

func TestUnauthorizedIsNotRetried(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	cfg := relayConfig(srv.URL)
	cfg["max_retries"] = 3
	_, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Category != drivers.CategoryAuth ||
		de.Msg != "GraphQL request failed: HTTP 401" {
		t.Fatalf("err = %#v", err)
	}
	if srv.requests.Load() != 1 {
		t.Errorf("requests = %d, want 1", srv.requests.Load())
	}
	srv.requireNoOpenConnections(t)
}

func TestNetworkErrorIsRetried(t *testing.T) {
	var calls atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // the connection drops before any answer
			}
			return
		}
		writeJSON(w, http.StatusOK, relayPage(decodeRequest(t, r), 2, 5))
	})
	env := newRecordingEnv(t)
	stream, err := run(t, context.Background(), env, relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows = %d, err = %v", len(rows), err)
	}
	attempts := env.eventsNamed("step_retry_attempt")
	if len(attempts) != 1 ||
		attempts[0].Fields["error"] != "GraphQL request failed: cannot reach the server" {
		t.Errorf("retry events = %v", attempts)
	}
	srv.requireNoOpenConnections(t)
}

func TestTimeoutIsReportedAndReleased(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = decodeRequest(t, r) // the server notices a gone client only once the body is read
		<-r.Context().Done()
	})
	cfg := relayConfig(srv.URL)
	cfg["timeout"] = 0.05
	cfg["max_retries"] = 1
	_, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Category != drivers.CategoryTimeout {
		t.Fatalf("err = %#v, want a timeout", err)
	}
	if want := "GraphQL request timed out after 50ms (after 2 attempts)"; de.Msg != want {
		t.Errorf("message = %q, want %q", de.Msg, want)
	}
	srv.requireNoOpenConnections(t)
}

func TestOffsetPaginationStopsOnShortPage(t *testing.T) {
	var offsets []float64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		req := decodeRequest(t, r)
		offset := req.Variables["offset"].(float64)
		limit := req.Variables["limit"].(float64)
		offsets = append(offsets, offset)
		items := []any{}
		for i := int(offset); i < min(int(offset+limit), 7); i++ {
			items = append(items, map[string]any{"n": i, "tags": []any{"a", i}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"list": items}})
	})
	cfg := map[string]any{
		"endpoint": srv.URL,
		"query": "query($offset: Int, $limit: Int) " +
			"{ list(offset: $offset, limit: $limit) { n } }",
		"pagination_enabled":      true,
		"pagination_mode":         "offset",
		"page_size":               3,
		"page_size_variable_name": "limit",
		"data_path":               "$.data.list",
	}
	stream, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(stream.Columns()); got != "n:int64,tags:json" {
		t.Errorf("columns = %s", got)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 {
		t.Errorf("rows = %d, want 7", len(rows))
	}
	if got, _ := json.Marshal(offsets); string(got) != "[0,3,6]" {
		t.Errorf("offsets sent = %s, want [0,3,6]", got)
	}
	if string(rows[6][1].(json.RawMessage)) != `["a",6]` {
		t.Errorf("tags = %s", rows[6][1])
	}
	srv.requireNoOpenConnections(t)
}

func TestMaxPagesStopsEarly(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, relayPage(decodeRequest(t, r), 100, 4))
	})
	cfg := relayConfig(srv.URL)
	cfg["max_pages"] = 2
	stream, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil || len(rows) != 8 {
		t.Fatalf("rows = %d, err = %v; want 8", len(rows), err)
	}
	if srv.requests.Load() != 2 {
		t.Errorf("requests = %d, want 2", srv.requests.Load())
	}
}

func TestRepeatedCursorStops(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = decodeRequest(t, r)
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"items": map[string]any{
			"edges":    []any{map[string]any{"node": map[string]any{"id": 1}}},
			"pageInfo": map[string]any{"endCursor": "same", "hasNextPage": true},
		}}})
	})
	env := newRecordingEnv(t)
	stream, err := run(t, context.Background(), env, relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || srv.requests.Load() != 2 {
		t.Errorf("rows = %d, requests = %d; want 2 and 2", len(rows), srv.requests.Load())
	}
	if !strings.Contains(env.logs.String(), "already returned") {
		t.Errorf("no warning about the repeated cursor in the log")
	}
}

func TestLaterPageFieldsOutsideTheFirstPageAreDroppedWithAWarning(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		req := decodeRequest(t, r)
		node := map[string]any{"id": 1}
		info := map[string]any{"endCursor": "p1", "hasNextPage": true}
		if req.Variables["after"] == "p1" {
			node = map[string]any{"id": 2, "extra": "x"}
			info = map[string]any{"endCursor": "p2", "hasNextPage": false}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"items": map[string]any{
			"edges": []any{map[string]any{"node": node}}, "pageInfo": info,
		}}})
	})
	env := newRecordingEnv(t)
	stream, err := run(t, context.Background(), env, relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(rows[1]) != 1 || rows[1][0] != int64(2) {
		t.Errorf("rows = %v", rows)
	}
	if !strings.Contains(env.logs.String(), `"field":"extra"`) {
		t.Errorf("no warning naming the dropped field: %s", env.logs.String())
	}
}

func TestFlattenResultFalseKeepsNestedValuesAsJSON(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, relayPage(decodeRequest(t, r), 2, 5))
	})
	cfg := relayConfig(srv.URL)
	cfg["flatten_result"] = false
	stream, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(stream.Columns()); got != "id:int64,name:string,owner:json" {
		t.Errorf("columns = %s", got)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rows[1][2].(json.RawMessage)); got != `{"login":"user1"}` {
		t.Errorf("owner = %s", got)
	}
}

func TestSingleObjectResultIsOneRow(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"viewer": map[string]any{"login": "ada", "stats": map[string]any{"stars": 3.5}},
		}})
	})
	cfg := map[string]any{"endpoint": srv.URL, "query": "{ viewer { login } }",
		"data_path": "data.viewer"}
	stream, err := run(t, context.Background(), newRecordingEnv(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(stream.Columns()); got != "login:string,stats.stars:float64" {
		t.Errorf("columns = %s", got)
	}
	if len(rows) != 1 || rows[0][0] != "ada" || rows[0][1] != 3.5 {
		t.Errorf("rows = %v", rows)
	}
}

func TestDataPathMatchingNothingGivesNoRowsAndAWarning(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"other": 1}})
	})
	env := newRecordingEnv(t)
	cfg := map[string]any{"endpoint": srv.URL, "query": "{ other }", "data_path": "data.items"}
	stream, err := run(t, context.Background(), env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := drivers.ReadAll(context.Background(), stream)
	if err != nil || len(rows) != 0 || len(stream.Columns()) != 0 {
		t.Fatalf("rows = %v, columns = %v, err = %v", rows, stream.Columns(), err)
	}
	if !strings.Contains(env.logs.String(), "data_path matched nothing") {
		t.Errorf("no warning: %s", env.logs.String())
	}
}

func TestAuthHeadersAndCustomHeaders(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]any
		header string
		want   string
	}{
		{"bearer", map[string]any{"auth_type": "bearer", "auth_token": "t0ken-123"},
			"Authorization", "Bearer t0ken-123"},
		{"token without auth_type is bearer", map[string]any{"auth_token": "t0ken-123"},
			"Authorization", "Bearer t0ken-123"},
		{"basic", map[string]any{"auth_type": "basic", "auth_username": "ada",
			"auth_token": "pw"}, "Authorization", "Basic YWRhOnB3"},
		{"api key default header", map[string]any{"auth_type": "api_key",
			"auth_token": "k-1"}, "X-Api-Key", "k-1"},
		{"api key named header", map[string]any{"auth_type": "api_key",
			"auth_token": "k-1", "auth_header_name": "X-Token"}, "X-Token", "k-1"},
		{"custom header", map[string]any{"headers": map[string]any{"X-Tenant": "acme"}},
			"X-Tenant", "acme"},
		{"custom header wins over auth", map[string]any{"auth_token": "t0ken-123",
			"headers": map[string]any{"Authorization": "Token custom"}},
			"Authorization", "Token custom"},
		{"connection supplies the token", map[string]any{"resolved_connection": map[string]any{
			"auth_type": "api_key", "auth_token": "from-conn"}}, "X-Api-Key", "from-conn"},
		{"default user agent", map[string]any{}, "User-Agent", defaultUserAgent},
		{"default content type", map[string]any{}, "Content-Type", "application/json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get(tc.header)
				writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"x": 1}})
			})
			cfg := map[string]any{"endpoint": srv.URL, "query": "{ x }"}
			for k, v := range tc.config {
				cfg[k] = v
			}
			stream, err := run(t, context.Background(), newRecordingEnv(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			_ = stream.Close()
			if got != tc.want {
				t.Errorf("%s = %q, want %q", tc.header, got, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"query": "{ x }"}, "Step s1: 'endpoint' is required"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/graphql"},
			"Step s1: 'query' is required"},
		{map[string]any{"endpoint": "ftp://127.0.0.1/x", "query": "{ x }"},
			"Step s1: 'endpoint' must be an http:// or https:// URL"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"auth_type": "oauth"}, "Step s1: 'auth_type' must be one of none, bearer, basic, api_key"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"auth_type": "bearer"}, "Step s1: 'auth_token' is required"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"auth_type": "basic", "auth_token": "pw"}, "Step s1: 'auth_username' is required"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"max_pages": -1}, "Step s1: 'max_pages' must not be negative"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"page_size": 2.5}, "Step s1: 'page_size' must be a whole number"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"variables": "first=1"}, "Step s1: 'variables' must be an object"},
		{map[string]any{"endpoint": "http://127.0.0.1:1/", "query": "{ x }",
			"pagination_mode": "page"}, "Step s1: 'pagination_mode' must be cursor or offset"},
	}
	for _, tc := range cases {
		_, err := (&Extractor{}).Run(context.Background(),
			drivers.Request{StepID: "s1", Config: tc.config, Env: newRecordingEnv(t)})
		var de *drivers.Error
		if !errors.As(err, &de) || de.Kind != drivers.KindConfig || de.Msg != tc.want {
			t.Errorf("config %v: err = %v, want %q", tc.config, err, tc.want)
		}
	}
}

func TestColumnTypeConflictOnLaterPageIsADataError(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		req := decodeRequest(t, r)
		node := map[string]any{"price": 10}
		info := map[string]any{"endCursor": "p1", "hasNextPage": true}
		if req.Variables["after"] == "p1" {
			node = map[string]any{"price": 10.5}
			info = map[string]any{"endCursor": "p2", "hasNextPage": false}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"items": map[string]any{
			"edges": []any{map[string]any{"node": node}}, "pageInfo": info,
		}}})
	})
	stream, err := run(t, context.Background(), newRecordingEnv(t), relayConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = drivers.ReadAll(context.Background(), stream)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Kind != drivers.KindData ||
		!strings.Contains(de.Msg, `page 2, column "price"`) {
		t.Fatalf("err = %v", err)
	}
	srv.requireNoOpenConnections(t)
}
