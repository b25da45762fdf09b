package graphql

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

// TestCredentialsNeverReachEventsLogsOrErrors runs steps whose server echoes every
// credential it receives back in its answers (retried 5xx, GraphQL errors), and greps
// everything the driver reported for the sentinel values.
func TestCredentialsNeverReachEventsLogsOrErrors(t *testing.T) {
	const (
		token    = "SENTINEL-tok-4242-abcdef"
		user     = "SENTINEL-user-77"
		header   = "SENTINEL-hdr-31337"
		urlToken = "SENTINEL-url-55aa"
	)
	configs := map[string]map[string]any{
		"bearer": {"auth_type": "bearer", "auth_token": token},
		"basic":  {"auth_type": "basic", "auth_username": user, "auth_token": token},
		"api_key": {"auth_type": "api_key", "auth_token": token,
			"headers": map[string]any{"X-Extra": header}},
		"connection": {"resolved_connection": map[string]any{"auth_token": token,
			"headers": map[string]any{"X-Extra": header}}},
	}
	for name, extra := range configs {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int64
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				req := decodeRequest(t, r)
				echo := fmt.Sprintf("auth=%s key=%s extra=%s url=%s",
					r.Header.Get("Authorization"), r.Header.Get("X-API-Key"),
					r.Header.Get("X-Extra"), r.URL.RawQuery)
				switch calls.Add(1) {
				case 1:
					writeJSON(w, http.StatusOK, relayPage(req, 10, 5))
				case 2:
					writeJSON(w, http.StatusServiceUnavailable,
						map[string]any{"errors": []any{map[string]any{"message": echo}}})
				default:
					writeJSON(w, http.StatusOK, map[string]any{
						"errors": []any{map[string]any{"message": echo}}})
				}
			})
			env := newRecordingEnv(t)
			cfg := relayConfig(srv.URL + "/graphql?api_key=" + urlToken)
			cfg["max_retries"] = 1
			for k, v := range extra {
				cfg[k] = v
			}

			stream, err := run(t, context.Background(), env, cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = drivers.ReadAll(context.Background(), stream)
			if err == nil || !strings.HasPrefix(err.Error(), "GraphQL errors: auth=") {
				t.Fatalf("err = %v, want the echoed GraphQL error", err)
			}

			seen := env.everything(t) + "\n" + err.Error() + fmt.Sprintf("\n%v\n%+v", err, err)
			for _, secret := range []string{token, user, header, urlToken} {
				if strings.Contains(seen, secret) {
					t.Errorf("%s appears in the driver's output:\n%s", secret, seen)
				}
			}
			if !strings.Contains(seen, "api_key=%2A%2A%2A") &&
				!strings.Contains(seen, "api_key=***") {
				t.Errorf("extraction.start should show the endpoint with its key masked")
			}
			srv.requireNoOpenConnections(t)
		})
	}
}

func TestConfigStructDoesNotPrintCredentials(t *testing.T) {
	c, err := parseConfig("s1", map[string]any{"endpoint": "http://127.0.0.1:1/",
		"query": "{ x }", "auth_type": "basic", "auth_username": "SENTINEL-u1",
		"auth_token": "SENTINEL-t1", "headers": map[string]any{"X-K": "SENTINEL-h1"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c),
		fmt.Sprintf("%#v", *c)} {
		if strings.Contains(text, "SENTINEL") {
			t.Errorf("config prints a credential: %s", text)
		}
	}
}
