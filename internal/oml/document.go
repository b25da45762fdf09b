package oml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Version is the OML version this package reads and writes.
const Version = "0.1.0"

// Document is a parsed OML file. It keeps the YAML node tree (for key order and the line
// and column of every field) next to the plain values the validator and compiler read.
type Document struct {
	File string
	// Value is the whole document as plain values: map[string]any, []any, string, bool,
	// int64, float64 or nil. It is nil for an empty file.
	Value any
	root  *yaml.Node
}

// Map returns the top level when it is a mapping, else nil.
func (d *Document) Map() map[string]any {
	m, _ := d.Value.(map[string]any)
	return m
}

// Name returns the pipeline name, or "" when it is missing or not a string.
func (d *Document) Name() string {
	s, _ := d.Map()["name"].(string)
	return s
}

// Step is one entry of steps as the compiler needs it. Needs holds the effective
// dependencies: a step other than the first that has no needs key depends on the step
// declared before it.
type Step struct {
	Index     int
	ID        string
	Component string
	Mode      string // as written: read, write or transform
	Config    map[string]any
	Needs     []string
}

// Steps returns the steps in declaration order. Fields of the wrong type read as empty;
// call it on a document that passed Validate.
func (d *Document) Steps() []Step {
	list, _ := d.Map()["steps"].([]any)
	steps := make([]Step, 0, len(list))
	for i, item := range list {
		m, _ := item.(map[string]any)
		s := Step{Index: i, Config: map[string]any{}, Needs: []string{}}
		s.ID, _ = m["id"].(string)
		s.Component, _ = m["component"].(string)
		s.Mode, _ = m["mode"].(string)
		if cfg, ok := m["config"].(map[string]any); ok {
			s.Config = cfg
		}
		needs, given := m["needs"].([]any)
		switch {
		case given:
			for _, n := range needs {
				if id, ok := n.(string); ok {
					s.Needs = append(s.Needs, id)
				}
			}
		case i > 0:
			if prev, ok := list[i-1].(map[string]any); ok {
				if id, ok := prev["id"].(string); ok {
					s.Needs = []string{id}
				}
			}
		}
		steps = append(steps, s)
	}
	return steps
}

// Parse reads an OML document. YAML follows the 1.2 core schema: yes/no/on/off and dates
// stay strings, and key order is kept. A bare @family.alias reference (YAML reserves "@")
// is quoted before parsing. A file that is not YAML, holds more than one document or
// repeats a key returns a *ValidationError naming the line.
func Parse(file string, src []byte) (*Document, error) {
	quoted := QuoteReferences(src)

	dec := yaml.NewDecoder(bytes.NewReader(quoted))
	var top yaml.Node
	err := dec.Decode(&top)
	if errors.Is(err, io.EOF) {
		return &Document{File: file}, nil
	}
	if err != nil {
		return nil, parseError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, parseError(file, err)
		}
		return nil, &ValidationError{File: file, Issues: []Issue{{
			Type: "yaml_parse_error", Severity: SeverityError, Location: "root",
			Message: "YAML parse error: the file holds more than one YAML document",
			Line:    line, Column: 1,
		}}}
	}

	root := &top
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	conv := converter{file: file}
	value := conv.value(root, path{}, 0)
	if len(conv.issues) > 0 {
		return nil, &ValidationError{File: file, Issues: conv.issues}
	}
	return &Document{File: file, Value: value, root: root}, nil
}

var yamlErrLine = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)

func parseError(file string, err error) *ValidationError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	issue := Issue{
		Type: "yaml_parse_error", Severity: SeverityError, Location: "root",
		Message: "YAML parse error: " + msg, Line: 1, Column: 1,
	}
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		issue.Line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			issue.Column, _ = strconv.Atoi(m[2])
		}
	}
	return &ValidationError{File: file, Issues: []Issue{issue}}
}

// maxDepth stops alias bombs and absurd nesting from exhausting the stack.
const maxDepth = 200

// converter turns YAML nodes into plain values under the core schema.
type converter struct {
	file   string
	issues []Issue
	nodes  int
}

// maxNodes bounds the work an alias-heavy document ("billion laughs") can cause.
const maxNodes = 1_000_000

func (c *converter) fail(n *yaml.Node, p path, typ, msg string) {
	c.issues = append(c.issues, Issue{
		Type: typ, Severity: SeverityError, Location: p.String(), Message: msg,
		Line: n.Line, Column: n.Column,
	})
}

func (c *converter) value(n *yaml.Node, p path, depth int) any {
	c.nodes++
	if depth > maxDepth || c.nodes > maxNodes {
		if len(c.issues) == 0 {
			c.fail(n, p, "yaml_parse_error", "YAML parse error: document nests or aliases too deeply")
		}
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], p, depth+1)
	case yaml.AliasNode:
		return c.value(n.Alias, p, depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			out = append(out, c.value(item, p.idx(i), depth+1))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		seen := map[string]int{}
		c.mapping(n, p, depth, out, seen)
		return out
	case yaml.ScalarNode:
		v, err := scalar(n)
		if err != nil {
			c.fail(n, p, "yaml_parse_error", "YAML parse error: "+err.Error())
		}
		return v
	}
	return nil
}

func (c *converter) mapping(n *yaml.Node, p path, depth int, out map[string]any,
	seen map[string]int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			c.merge(v, p, depth, out, seen)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.fail(k, p, "yaml_parse_error", "YAML parse error: mapping keys must be scalars")
			continue
		}
		if line, dup := seen[k.Value]; dup && line > 0 {
			c.fail(k, p.key(k.Value), "duplicate_key", fmt.Sprintf(
				"key %q appears twice (first at line %d)", k.Value, line))
			continue
		}
		seen[k.Value] = k.Line
		out[k.Value] = c.value(v, p.key(k.Value), depth+1)
	}
}

// merge applies a "<<" merge key: keys already present win over merged ones.
func (c *converter) merge(v *yaml.Node, p path, depth int, out map[string]any,
	seen map[string]int) {
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	sources := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		sources = v.Content
	}
	for _, src := range sources {
		if src.Kind == yaml.AliasNode {
			src = src.Alias
		}
		if src.Kind != yaml.MappingNode {
			c.fail(v, p, "yaml_parse_error", "YAML parse error: << needs a mapping")
			return
		}
		merged := map[string]any{}
		c.mapping(src, p, depth+1, merged, map[string]int{})
		for k, val := range merged {
			if _, ok := out[k]; !ok {
				out[k] = val
				seen[k] = 0
			}
		}
	}
}

var (
	coreInt   = regexp.MustCompile(`^[-+]?[0-9]+$`)
	coreOct   = regexp.MustCompile(`^0o[0-7]+$`)
	coreHex   = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)
	coreFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)
)

// scalar resolves a scalar by the YAML 1.2 core schema. Quoted and block scalars are
// strings; an explicit tag (!!str, !!int) is honoured.
func scalar(n *yaml.Node) (any, error) {
	explicit := n.Style&yaml.TaggedStyle != 0
	plain := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|
		yaml.FoldedStyle) == 0
	if !explicit {
		// A plain scalar the YAML library already typed as a string (or one built by
		// encoding a Go string) stays a string.
		if !plain || n.Tag == "!!str" {
			return n.Value, nil
		}
		return resolvePlain(n.Value), nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("line %d: %q is not a boolean", n.Line, n.Value)
	case "!!int", "!!float":
		v := resolvePlain(n.Value)
		switch v.(type) {
		case int64, float64:
			return v, nil
		}
		return nil, fmt.Errorf("line %d: %q is not a number", n.Line, n.Value)
	}
	return n.Value, nil
}

// resolvePlain types an unquoted scalar: null, bool, int, float, else string.
func resolvePlain(s string) any {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		return math.Inf(1)
	case "-.inf", "-.Inf", "-.INF":
		return math.Inf(-1)
	case ".nan", ".NaN", ".NAN":
		return math.NaN()
	}
	switch {
	case coreInt.MatchString(s):
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case coreOct.MatchString(s):
		if i, err := strconv.ParseInt(s[2:], 8, 64); err == nil {
			return i
		}
	case coreHex.MatchString(s):
		if i, err := strconv.ParseInt(s[2:], 16, 64); err == nil {
			return i
		}
	case coreFloat.MatchString(s):
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return s
}

// lookup finds the key and value nodes of a path; missing parts return the deepest node
// that exists, so an issue about a missing field points at its parent.
func (d *Document) lookup(p path) (key, value *yaml.Node) {
	n := d.root
	if n == nil {
		return nil, nil
	}
	for _, seg := range p {
		n = deref(n)
		next, nextKey := child(n, seg)
		if next == nil {
			return nil, n
		}
		key, n = nextKey, next
	}
	return key, deref(n)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func child(n *yaml.Node, seg any) (value, key *yaml.Node) {
	switch s := seg.(type) {
	case int:
		if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
			return n.Content[s], nil
		}
	case string:
		if n.Kind != yaml.MappingNode {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s {
				return n.Content[i+1], n.Content[i]
			}
		}
		// A key that came in through a merge: look in the merged mappings.
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "<<" {
				if v, k := child(deref(n.Content[i+1]), seg); v != nil {
					return v, k
				}
			}
		}
	}
	return nil, nil
}

// Position returns the 1-based line and column of a path's value (or of its nearest
// existing parent); 1:1 when nothing is known.
func (d *Document) position(p path, atKey bool) (int, int) {
	key, value := d.lookup(p)
	n := value
	if atKey && key != nil {
		n = key
	}
	if n == nil || n.Line == 0 {
		return 1, 1
	}
	return n.Line, n.Column
}

// IssueAt builds an issue located at a field given as path segments (string keys, int
// list indexes), with that field's line and column. The compiler uses it for findings of
// its own, so they read like the validator's.
func (d *Document) IssueAt(severity, typ, message string, segments ...any) Issue {
	p := path(segments)
	line, col := d.position(p, false)
	return Issue{Type: typ, Message: message, Location: p.String(), Line: line, Column: col,
		Severity: severity}
}
