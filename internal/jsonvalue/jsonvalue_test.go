package jsonvalue

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMapStringsCopiesAndMapsEveryString(t *testing.T) {
	in := map[string]any{"a": "x", "n": 1, "list": []any{"y", true, map[string]any{"b": "z"}}}
	got := MapStrings(in, strings.ToUpper)
	want := map[string]any{"a": "X", "n": 1, "list": []any{"Y", true, map[string]any{"b": "Z"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if in["a"] != "x" || in["list"].([]any)[2].(map[string]any)["b"] != "z" {
		t.Fatal("the input was changed")
	}
}
