package graphql

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

const introspectionAnswer = `{"data":{"__schema":{"queryType":{"name":"Query"},"types":[
 {"kind":"OBJECT","name":"Query","fields":[{"name":"airports","type":{"kind":"NON_NULL",
  "name":null,"ofType":{"kind":"OBJECT","name":"AirportConnection","ofType":null}}}]},
 {"kind":"OBJECT","name":"Airport","fields":[
  {"name":"iata","type":{"kind":"NON_NULL","name":null,"ofType":{"kind":"SCALAR","name":"ID"}}},
  {"name":"tags","type":{"kind":"LIST","name":null,"ofType":{"kind":"NON_NULL","name":null,
   "ofType":{"kind":"SCALAR","name":"String"}}}},
  {"name":"latitude","type":{"kind":"SCALAR","name":"Float","ofType":null}}]},
 {"kind":"SCALAR","name":"Float","fields":null},
 {"kind":"OBJECT","name":"__Type","fields":[]}
]}}}`

func TestDiscoverListsTypesAndFields(t *testing.T) {
	var query string
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		query = decodeRequest(t, r).Query
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(introspectionAnswer))
	})
	found, err := (&Extractor{}).Discover(context.Background(),
		map[string]any{"endpoint": srv.URL}, drivers.DiscoverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(query, "__schema") {
		t.Errorf("not an introspection query: %s", query)
	}
	var names []string
	for _, table := range found.Tables {
		names = append(names, table.Name)
	}
	if strings.Join(names, ",") != "Query,Airport" {
		t.Fatalf("types = %v, want the query type first, no scalars or __ types", names)
	}
	airport := found.Tables[1]
	var cols []string
	for _, c := range airport.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	if got := strings.Join(cols, ","); got != "iata ID!,tags [String!],latitude Float" {
		t.Errorf("Airport fields = %s", got)
	}
	if *airport.Columns[0].Nullable || !*airport.Columns[2].Nullable {
		t.Errorf("nullability wrong: %+v", airport.Columns)
	}
	srv.requireNoOpenConnections(t)
}

func TestDoctor(t *testing.T) {
	introspectionOff := `{"errors":[{"message":"GraphQL introspection is not allowed"}]}`
	cases := []struct {
		name     string
		status   int
		body     string
		conn     map[string]any
		category string
		message  string
	}{
		{"ok", 200, `{"data":{"__schema":{"queryType":{"name":"Query"}}}}`, nil,
			drivers.CategoryOK, "Connection test passed"},
		{"introspection disabled", 200, introspectionOff, nil,
			drivers.CategoryOK, "Connection test passed (introspection disabled)"},
		{"unauthorized", 401, `{}`, nil, drivers.CategoryAuth, "Authentication failed"},
		{"other graphql error", 200, `{"errors":[{"message":"boom"}]}`, nil,
			drivers.CategoryUnknown, "Connection test failed"},
		{"auth type without token", 200, `{}`, map[string]any{"auth_type": "bearer"},
			drivers.CategoryConfig, "Connection settings are incomplete or invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				_ = decodeRequest(t, r)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			})
			conn := map[string]any{"endpoint": srv.URL}
			for k, v := range tc.conn {
				conn[k] = v
			}
			res := (&Extractor{}).Doctor(context.Background(), conn, 2*time.Second)
			if res.Category != tc.category || res.Message != tc.message ||
				res.OK != (tc.category == drivers.CategoryOK) {
				t.Errorf("doctor = %+v, want %s %q", res, tc.category, tc.message)
			}
			srv.requireNoOpenConnections(t)
		})
	}
}

func TestDoctorUnreachableAndTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String() + "/graphql"
	_ = l.Close()
	res := (&Extractor{}).Doctor(context.Background(), map[string]any{"endpoint": closedURL},
		time.Second)
	if res.Category != drivers.CategoryNetwork || res.Message != "Cannot connect to server" {
		t.Errorf("unreachable: %+v", res)
	}

	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_ = decodeRequest(t, r)
		<-r.Context().Done()
	})
	res = (&Extractor{}).Doctor(context.Background(), map[string]any{"endpoint": srv.URL},
		50*time.Millisecond)
	if res.Category != drivers.CategoryTimeout || res.Message != "Connection timeout" {
		t.Errorf("timeout: %+v", res)
	}
	srv.requireNoOpenConnections(t)
}
