package compile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// CanonicalJSON encodes v the one way fingerprints and artifacts need: object keys sorted
// by byte order at every depth, list order kept, no spaces, raw UTF-8 (no \u escapes, no
// HTML escaping), integers as integers, floats in shortest round-trip form keeping ".0"
// when integral, no trailing newline. Structs are encoded through their json tags first.
func CanonicalJSON(v any) ([]byte, error) {
	plain, err := toPlain(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, plain); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toPlain turns structs and typed maps/slices into map[string]any / []any by a JSON round
// trip that keeps numbers exact.
func toPlain(v any) (any, error) {
	switch v.(type) {
	case nil, string, bool, int, int64, int32, uint64, float64, json.Number,
		map[string]any, []any, []string:
		return v, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array, reflect.Pointer:
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return v, nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	case string:
		writeString(buf, t)
	case int:
		buf.WriteString(strconv.Itoa(t))
	case int32:
		buf.WriteString(strconv.FormatInt(int64(t), 10))
	case int64:
		buf.WriteString(strconv.FormatInt(t, 10))
	case uint64:
		buf.WriteString(strconv.FormatUint(t, 10))
	case float64:
		s, err := formatFloat(t)
		if err != nil {
			return err
		}
		buf.WriteString(s)
	case json.Number:
		return writeNumber(buf, t)
	case []string:
		buf.WriteByte('[')
		for i, s := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, s)
		}
		buf.WriteByte(']')
	case []any:
		buf.WriteByte('[')
		for i, item := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, t[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		plain, err := toPlain(v)
		if err != nil {
			return err
		}
		if reflect.TypeOf(plain) == reflect.TypeOf(v) {
			writeString(buf, fmt.Sprint(v)) // other scalars are stringified
			return nil
		}
		return writeCanonical(buf, plain)
	}
	return nil
}

func writeNumber(buf *bytes.Buffer, n json.Number) error {
	if i, err := n.Int64(); err == nil {
		buf.WriteString(strconv.FormatInt(i, 10))
		return nil
	}
	if !strings.ContainsAny(string(n), ".eE") {
		buf.WriteString(string(n)) // an integer beyond int64 stays exact
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	s, err := formatFloat(f)
	if err != nil {
		return err
	}
	buf.WriteString(s)
	return nil
}

// formatFloat gives the shortest text that reads back as f: plain digits between 1e-4 and
// 1e16, exponent form outside, and ".0" on integral values (100.0, not 100).
func formatFloat(f float64) (string, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("canonical JSON: %v is not a JSON number", f)
	}
	abs := math.Abs(f)
	var s string
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		s = strconv.FormatFloat(f, 'e', -1, 64)
	} else {
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s, nil
}

func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			buf.WriteString(`\"`)
		case r == '\\':
			buf.WriteString(`\\`)
		case r == '\n':
			buf.WriteString(`\n`)
		case r == '\r':
			buf.WriteString(`\r`)
		case r == '\t':
			buf.WriteString(`\t`)
		case r == '\b':
			buf.WriteString(`\b`)
		case r == '\f':
			buf.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(buf, `\u%04x`, r)
		case r == utf8.RuneError && size == 1:
			buf.WriteString("\ufffd")
		default:
			buf.WriteString(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// CanonicalYAML writes v as the manifest's YAML: keys sorted like CanonicalJSON, block
// style, two-space indent, "---" first and "..." last, LF line ends, no trailing spaces.
func CanonicalYAML(v any) ([]byte, error) {
	plain, err := toPlain(v)
	if err != nil {
		return nil, err
	}
	node, err := yamlNode(plain)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("---\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	buf.WriteString("...\n")

	lines := strings.Split(buf.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return []byte(strings.Join(lines, "\n")), nil
}

func yamlNode(v any) (*yaml.Node, error) {
	scalarNode := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	switch t := v.(type) {
	case nil:
		return scalarNode("!!null", "null"), nil
	case bool:
		return scalarNode("!!bool", strconv.FormatBool(t)), nil
	case string:
		n := scalarNode("!!str", t)
		if strings.Contains(t, "\n") && !strings.ContainsAny(t, "\r\t") &&
			!strings.Contains(t, " \n") && !strings.HasSuffix(t, " ") {
			n.Style = yaml.LiteralStyle
		}
		return n, nil
	case int, int32, int64, uint64:
		return scalarNode("!!int", fmt.Sprint(t)), nil
	case float64:
		s, err := formatFloat(t)
		if err != nil {
			return nil, err
		}
		return scalarNode("!!float", s), nil
	case json.Number:
		var buf bytes.Buffer
		if err := writeNumber(&buf, t); err != nil {
			return nil, err
		}
		tag := "!!int"
		if strings.ContainsAny(buf.String(), ".eE") {
			tag = "!!float"
		}
		return scalarNode(tag, buf.String()), nil
	case []string:
		items := make([]any, len(t))
		for i, s := range t {
			items[i] = s
		}
		return yamlNode(items)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if len(t) == 0 {
			n.Style = yaml.FlowStyle
		}
		for _, item := range t {
			c, err := yamlNode(item)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if len(t) == 0 {
			n.Style = yaml.FlowStyle
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c, err := yamlNode(t[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalarNode("!!str", k), c)
		}
		return n, nil
	}
	return scalarNode("!!str", fmt.Sprint(v)), nil
}
