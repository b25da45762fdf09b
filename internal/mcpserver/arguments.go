package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/osirisgo/osiris/internal/bridge"
)

// arguments are a call's checked and normalised values: strings, ints, bools, string
// lists, object lists, objects or nil. Only catalogue parameters are kept.
type arguments map[string]any

func (a arguments) str(name string) string {
	s, _ := a[name].(string)
	return s
}

func (a arguments) int(name string, def int) int {
	if n, ok := a[name].(int); ok {
		return n
	}
	return def
}

func (a arguments) boolean(name string, def bool) bool {
	if b, ok := a[name].(bool); ok {
		return b
	}
	return def
}

func (a arguments) strings(name string) []string {
	list, _ := a[name].([]string)
	return list
}

// list returns a list argument as a JSON array, [] when absent.
func (a arguments) list(name string) any {
	switch v := a[name].(type) {
	case []string:
		return v
	case []any:
		return v
	}
	return []any{}
}

func (a arguments) value(name string) any { return a[name] }

// decodeArguments parses the raw arguments of a call; absent arguments are an empty
// object. Numbers stay json.Number so that 3 and 3.5 can be told apart.
func decodeArguments(raw []byte) (map[string]any, *toolError) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, schemaError("OML005", "invalid type for arguments: not valid JSON", "")
	}
	object, ok := v.(map[string]any)
	if !ok {
		return nil, schemaError("OML005", "invalid type for arguments: expected an object", "")
	}
	return object, nil
}

// checkArguments validates raw against the tool's parameters, in catalogue order, and
// returns the normalised values. The first problem found is reported.
func checkArguments(t *Tool, raw map[string]any) (arguments, *toolError) {
	out := arguments{}
	for _, p := range t.Params {
		v, present := raw[p.Name]
		if !present || v == nil && p.Kind != kindObjectOrNil && p.Kind != kindStringOrNil {
			if p.Required {
				return nil, schemaError("OML004", "missing required field: "+p.Name, p.Name)
			}
			continue
		}
		value, err := p.check(v)
		if err != nil {
			return nil, err
		}
		out[p.Name] = value
	}
	return out, nil
}

func (p Param) check(v any) (any, *toolError) {
	wrongType := func() *toolError {
		return schemaError("OML005", fmt.Sprintf("invalid type for field %s: expected %s",
			p.Name, p.Kind), p.Name)
	}
	switch p.Kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		return p.checkString(s, p.Name)
	case kindStringOrNil:
		if v == nil {
			return nil, nil
		}
		s, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		return p.checkString(s, p.Name)
	case kindInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, wrongType()
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
			return nil, wrongType()
		}
		i := int(f)
		if p.HasRange && (i < p.Min || i > p.Max) {
			return nil, schemaError("OML006", fmt.Sprintf(
				"invalid format for field %s: %d is outside %d-%d", p.Name, i, p.Min, p.Max), p.Name)
		}
		return i, nil
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, wrongType()
		}
		return b, nil
	case kindStringList:
		items, ok := v.([]any)
		if !ok {
			return nil, wrongType()
		}
		out := make([]string, 0, len(items))
		for i, item := range items {
			s, ok := item.(string)
			if !ok {
				return nil, schemaError("OML005", fmt.Sprintf(
					"invalid type for field %s[%d]: expected string", p.Name, i), p.Name)
			}
			checked, err := p.checkString(s, fmt.Sprintf("%s[%d]", p.Name, i))
			if err != nil {
				return nil, err
			}
			out = append(out, checked.(string))
		}
		return out, nil
	case kindObjectList:
		items, ok := v.([]any)
		if !ok {
			return nil, wrongType()
		}
		for i, item := range items {
			if _, ok := item.(map[string]any); !ok {
				return nil, schemaError("OML005", fmt.Sprintf(
					"invalid type for field %s[%d]: expected object", p.Name, i), p.Name)
			}
		}
		return items, nil
	case kindObjectOrNil:
		if v == nil {
			return nil, nil
		}
		if _, ok := v.(map[string]any); !ok {
			return nil, wrongType()
		}
		return v, nil
	}
	return nil, wrongType()
}

func (p Param) checkString(s, field string) (any, *toolError) {
	if p.NonEmpty && strings.TrimSpace(s) == "" {
		return nil, schemaError("OML004", "missing required field: "+field+" (empty)", p.Name)
	}
	if p.AddAt && s != "" && !strings.HasPrefix(s, "@") {
		s = "@" + s
	}
	if p.Pattern != nil && !p.Pattern.MatchString(s) {
		return nil, schemaError("OML006", fmt.Sprintf("invalid format for field %s: %q is not a "+
			"valid %s", field, preview(s, 80), p.PatternName), p.Name)
	}
	if p.MaxLen > 0 && len([]rune(s)) > p.MaxLen {
		return nil, schemaError("OML006", fmt.Sprintf(
			"invalid format for field %s: longer than %d characters", field, p.MaxLen), p.Name)
	}
	if strings.ContainsRune(s, 0) {
		return nil, schemaError("OML006", "invalid format for field "+field+": contains NUL",
			p.Name)
	}
	return s, nil
}

// preview shortens s to at most n runes for an error message.
func preview(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// toolError is a problem the envelope reports as its error object.
type toolError struct {
	Code    string         `json:"code"`
	Family  string         `json:"family"`
	Message string         `json:"message"`
	Path    []string       `json:"path"`
	Suggest string         `json:"suggest,omitempty"`
	Details map[string]any `json:"details"`
}

func schemaError(suffix, message, field string) *toolError {
	path := []string{}
	details := map[string]any{}
	if field != "" {
		path = []string{field}
		details["field"] = field
	}
	return &toolError{
		Code: bridge.FamilySchema + "/" + suffix, Family: bridge.FamilySchema,
		Message: message, Path: path, Details: details,
		Suggest: "Check the tool's input schema in tools/list.",
	}
}

func fromFailure(f *bridge.Failure) *toolError {
	path := f.Path
	if path == nil {
		path = []string{}
	}
	details := f.Details
	if details == nil {
		details = map[string]any{}
	}
	return &toolError{
		Code: f.Code, Family: f.Family, Message: f.Message, Path: path, Suggest: f.Suggest,
		Details: details,
	}
}
