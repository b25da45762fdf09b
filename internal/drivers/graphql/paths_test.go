package graphql

import (
	"testing"
	"time"
)

func TestGjsonPath(t *testing.T) {
	cases := map[string]string{
		"data":                          "data",
		"data.items.edges[*].node":      "data.items.edges.#.node",
		"$.data.items":                  "data.items",
		"$data.items":                   "data.items",
		"data.items[0]":                 "data.items.0",
		"data.a[*].b[12].c":             "data.a.#.b.12.c",
		"data.items.edges.#.node":       "data.items.edges.#.node",
		"$":                             "",
		" data.products.edges[*].node ": "data.products.edges.#.node",
	}
	for in, want := range cases {
		if got := gjsonPath(in); got != want {
			t.Errorf("gjsonPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSelectPath(t *testing.T) {
	body := []byte(`{"data":{"users":[
		{"name":"a","orders":[{"id":1},{"id":2}]},
		{"name":"b","orders":[{"id":3}]}
	],"edges":[{"node":{"id":"x"}},{"node":{"id":"y"}}]}}`)
	cases := map[string]string{
		"data.edges[*].node":         `[{"id":"x"},{"id":"y"}]`,
		"data.users[*].orders":       `[{"id":1},{"id":2},{"id":3}]`,
		"data.users[*].orders[*].id": `[1,2,3]`,
		"data.users[1].name":         `"b"`,
		"data.users[*].name":         `["a","b"]`,
	}
	for path, want := range cases {
		if got := selectPath(body, path).Raw; got != want {
			t.Errorf("selectPath(%q) = %s, want %s", path, got, want)
		}
	}
	if selectPath(body, "data.missing").Exists() {
		t.Error("a missing path must not exist")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Thu, 02 Jan 2025 03:04:15 GMT": 10 * time.Second,
		"Thu, 02 Jan 2025 03:04:00 GMT": 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
