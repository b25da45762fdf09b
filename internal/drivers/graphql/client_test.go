package graphql

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// clientFor builds a client for a step config, with sleeps recorded instead of slept.
func clientFor(t *testing.T, cfg map[string]any, env *recordingEnv) (*client,
	*[]time.Duration) {
	t.Helper()
	c, err := parseConfig("s1", cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(c, env.Event)
	var slept []time.Duration
	cl.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return ctx.Err()
	}
	t.Cleanup(cl.close)
	return cl, &slept
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var calls atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"x": 1}})
	})
	env := newRecordingEnv(t)
	cl, slept := clientFor(t, map[string]any{"endpoint": srv.URL, "query": "{ x }"}, env)

	if _, err := cl.post(context.Background(), "{ x }", nil); err != nil {
		t.Fatal(err)
	}
	if len(*slept) != 1 || (*slept)[0] != 7*time.Second {
		t.Errorf("slept %v, want [7s] from Retry-After", *slept)
	}
	attempts := env.eventsNamed("step_retry_attempt")
	if len(attempts) != 1 || attempts[0].Fields["next_delay_ms"] != int64(7000) ||
		attempts[0].Fields["error"] != "GraphQL request failed: HTTP 429" {
		t.Errorf("retry events = %v", attempts)
	}
}

func TestBackoffDoublesWithJitterAndCap(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	env := newRecordingEnv(t)
	cl, slept := clientFor(t, map[string]any{"endpoint": srv.URL, "query": "{ x }",
		"max_retries": 7, "retry_delay": 1.0}, env)

	_, err := cl.post(context.Background(), "{ x }", nil)
	if err == nil || err.Error() != "GraphQL request failed: HTTP 502 (after 8 attempts)" {
		t.Fatalf("err = %v", err)
	}
	base := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	if len(*slept) != len(base) {
		t.Fatalf("slept %v, want %d delays", *slept, len(base))
	}
	for i, d := range *slept {
		want := base[i] * time.Second
		low, high := want*9/10, want*11/10
		if d < low || d > high {
			t.Errorf("delay %d = %v, want %v ±10%%", i+1, d, want)
		}
	}
	if srv.requests.Load() != 8 {
		t.Errorf("requests = %d, want 8 (max_retries 7 + 1)", srv.requests.Load())
	}
}

func TestCancelDuringBackoffStops(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c, err := parseConfig("s1", map[string]any{"endpoint": srv.URL, "query": "{ x }",
		"retry_delay": 3600.0}, true)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(c, nil)
	defer cl.close()
	ctx, cancel := context.WithCancel(context.Background())
	cl.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepContext(ctx, d)
	}
	_, err = cl.post(ctx, "{ x }", nil)
	if err == nil || err.Error() != "GraphQL request cancelled" {
		t.Fatalf("err = %v", err)
	}
	if srv.requests.Load() != 1 {
		t.Errorf("requests = %d, want 1", srv.requests.Load())
	}
}
