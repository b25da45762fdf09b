package oml

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// paramRef matches ${params.NAME}.
var paramRef = regexp.MustCompile(`\$\{params\.([A-Za-z0-9_.-]+)\}`)

// ParamNames lists the names of every ${params.NAME} the document's values use, sorted.
func (d *Document) ParamNames() []string {
	seen := map[string]bool{}
	walkStrings(d.Value, func(s string) {
		for _, m := range paramRef.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
	})
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func walkStrings(v any, fn func(string)) {
	switch t := v.(type) {
	case string:
		fn(t)
	case []any:
		for _, item := range t {
			walkStrings(item, fn)
		}
	case map[string]any:
		for _, item := range t {
			walkStrings(item, fn)
		}
	}
}

// WithParams returns a copy of the document with ${params.NAME} replaced in every value
// (keys stay as written), and the names it could not resolve. Replacement is textual;
// an unquoted scalar is then typed the way YAML types it (limit: ${params.n} with n = 5
// gives the integer 5), a quoted one stays a string. A placeholder that is the whole
// unquoted scalar takes a list or map value as is.
func (d *Document) WithParams(values map[string]any) (*Document, []string) {
	if d.root == nil {
		return d, nil
	}
	missing := map[string]bool{}
	root := cloneNode(d.root, map[*yaml.Node]*yaml.Node{})
	substituteNode(root, values, missing, map[*yaml.Node]bool{})

	conv := converter{file: d.File}
	value := conv.value(root, path{}, 0)
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	return &Document{File: d.File, Value: value, root: root}, names
}

func cloneNode(n *yaml.Node, seen map[*yaml.Node]*yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if c, ok := seen[n]; ok {
		return c
	}
	c := *n
	seen[n] = &c
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = cloneNode(child, seen)
	}
	c.Alias = cloneNode(n.Alias, seen)
	return &c
}

func substituteNode(n *yaml.Node, values map[string]any, missing map[string]bool,
	done map[*yaml.Node]bool) {
	if n == nil || done[n] {
		return
	}
	done[n] = true
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			substituteNode(c, values, missing, done)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			substituteNode(n.Content[i], values, missing, done)
		}
	case yaml.AliasNode:
		substituteNode(n.Alias, values, missing, done)
	case yaml.ScalarNode:
		substituteScalar(n, values, missing)
	}
}

func substituteScalar(n *yaml.Node, values map[string]any, missing map[string]bool) {
	if !paramRef.MatchString(n.Value) {
		return
	}
	plain := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|
		yaml.FoldedStyle) == 0
	if m := paramRef.FindStringSubmatch(n.Value); plain && m[0] == n.Value {
		if v, ok := values[m[1]]; ok {
			switch v.(type) {
			case []any, map[string]any:
				var repl yaml.Node
				if err := repl.Encode(v); err == nil {
					line, col := n.Line, n.Column
					*n = repl
					setPosition(n, line, col)
					return
				}
			}
		}
	}
	n.Value = paramRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := paramRef.FindStringSubmatch(ref)[1]
		v, ok := values[name]
		if !ok {
			missing[name] = true
			return ref
		}
		return ParamText(v)
	})
	if plain {
		n.Tag = ""
		n.Style &^= yaml.TaggedStyle
	}
}

// setPosition gives an inserted subtree the position of the placeholder it replaced,
// so issues about it point at the line the user wrote.
func setPosition(n *yaml.Node, line, col int) {
	n.Line, n.Column = line, col
	for _, c := range n.Content {
		setPosition(c, line, col)
	}
}

// ParamText renders a param value for textual substitution: strings as they are,
// numbers and booleans as YAML writes them, lists and maps as compact JSON.
func ParamText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	}
	buf, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(buf)
}
