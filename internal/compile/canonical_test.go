package compile

import (
	"encoding/json"
	"math"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{map[string]any{"b": 1, "a": []any{"x", nil, true}}, `{"a":["x",null,true],"b":1}`},
		{map[string]any{"Z": 1, "a": 2, "_": 3}, `{"Z":1,"_":3,"a":2}`},
		{"café <b> & \"q\"\n\t\\", `"café <b> & \"q\"\n\t\\"`},
		{"\x01", `"\u0001"`},
		{int64(-42), `-42`},
		{100.0, `100.0`},
		{0.1, `0.1`},
		{1234567.0, `1234567.0`},
		{1e16, `1e+16`},
		{0.00001, `1e-05`},
		{json.Number("12"), `12`},
		{json.Number("12345678901234567890"), `12345678901234567890`},
		{json.Number("2.50"), `2.5`},
		{struct {
			B string `json:"b"`
			A int    `json:"a"`
		}{"x", 1}, `{"a":1,"b":"x"}`},
		{map[string]any{}, `{}`},
		{[]any{}, `[]`},
	}
	for _, tc := range cases {
		got, err := CanonicalJSON(tc.in)
		if err != nil {
			t.Fatalf("%v: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("CanonicalJSON(%#v) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := CanonicalJSON(math.Inf(1)); err == nil {
		t.Error("infinity must be refused")
	}
}

func TestCanonicalYAML(t *testing.T) {
	got, err := CanonicalYAML(map[string]any{
		"steps": []any{map[string]any{"id": "a", "needs": []any{}}},
		"name":  "x",
		"n":     "10",
		"q":     "SELECT 1\nFROM t\n",
		"empty": map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "---\nempty: {}\nn: \"10\"\nname: x\nq: |\n  SELECT 1\n  FROM t\nsteps:\n" +
		"  - id: a\n    needs: []\n...\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}
