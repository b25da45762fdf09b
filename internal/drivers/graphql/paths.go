package graphql

import (
	"regexp"
	"strings"

	"github.com/tidwall/gjson"
)

var indexStep = regexp.MustCompile(`\[(\d+)\]`)

// gjsonPath turns a JSONPath-like path as pipelines write it (data.items.edges[*].node,
// $.data.items[0]) into gjson syntax (data.items.edges.#.node, data.items.0).
func gjsonPath(path string) string {
	p := strings.TrimSpace(path)
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	p = strings.ReplaceAll(p, "[*]", ".#")
	p = indexStep.ReplaceAllString(p, ".$1")
	return strings.TrimPrefix(p, ".")
}

// selectPath evaluates a pipeline path on a response body. With a wildcard the result is
// an array per wildcard level; where every element of such an array is itself an array,
// the levels are concatenated so that "data.users[*].orders" yields all orders.
func selectPath(body []byte, path string) gjson.Result {
	gp := gjsonPath(path)
	if gp == "" {
		return gjson.ParseBytes(body)
	}
	res := gjson.GetBytes(body, gp)
	for range strings.Count(gp, "#") {
		if !res.IsArray() || !allArrays(res) {
			break
		}
		res = concatenate(res)
	}
	return res
}

func allArrays(res gjson.Result) bool {
	elements := res.Array()
	if len(elements) == 0 {
		return false
	}
	for _, e := range elements {
		if !e.IsArray() {
			return false
		}
	}
	return true
}

func concatenate(res gjson.Result) gjson.Result {
	var b strings.Builder
	b.WriteByte('[')
	first := true
	for _, outer := range res.Array() {
		for _, inner := range outer.Array() {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(inner.Raw)
		}
	}
	b.WriteByte(']')
	return gjson.Parse(b.String())
}
