package compile

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/osirisgo/osiris/internal/oml"
)

// paramDef is one declared param: {type, default, enum} or a bare default.
type paramDef struct {
	typ        string
	def        any
	hasDefault bool
	enum       []any
}

func declaredParams(doc *oml.Document) map[string]paramDef {
	out := map[string]paramDef{}
	params, _ := doc.Map()["params"].(map[string]any)
	for name, raw := range params {
		m, isDef := raw.(map[string]any)
		if isDef && isDefinition(m) {
			d := paramDef{}
			d.typ, _ = m["type"].(string)
			d.def, d.hasDefault = m["default"]
			d.enum, _ = m["enum"].([]any)
			out[name] = d
			continue
		}
		out[name] = paramDef{def: raw, hasDefault: true}
	}
	return out
}

// isDefinition tells a {type, default, enum} definition from a bare map default.
func isDefinition(m map[string]any) bool {
	for k := range m {
		switch k {
		case "type", "default", "enum", "description":
		default:
			return false
		}
	}
	return true
}

// effectiveParams merges, low to high: the OML default, profiles.<profile>.params,
// OSIRIS_PARAM_<NAME> and --param. Only params the document declares or uses take part,
// so unrelated environment variables do not change the build's fingerprint. Values from
// the environment and flags are converted to the declared type.
func effectiveParams(doc *oml.Document, profile string, flags map[string]string) (
	map[string]any, []oml.Issue, error) {
	declared := declaredParams(doc)
	relevant := map[string]bool{}
	for name := range declared {
		relevant[name] = true
	}
	for _, name := range doc.ParamNames() {
		relevant[name] = true
	}

	values := map[string]any{}
	for name, d := range declared {
		if d.hasDefault && d.def != nil {
			values[name] = d.def
		}
	}
	if profile != "" {
		profiles, _ := doc.Map()["profiles"].(map[string]any)
		prof, _ := profiles[profile].(map[string]any)
		overrides, _ := prof["params"].(map[string]any)
		for name, v := range overrides {
			values[name] = v
			relevant[name] = true
		}
	}

	for _, kv := range os.Environ() {
		key, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(key, "OSIRIS_PARAM_") || value == "" {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(key, "OSIRIS_PARAM_"))
		if relevant[name] {
			if err := setParam(values, declared, name, value, key); err != nil {
				return nil, nil, err
			}
		}
	}

	var warnings []oml.Issue
	names := make([]string, 0, len(flags))
	for name := range flags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !relevant[name] {
			warnings = append(warnings, oml.Issue{Type: "unused_param", Location: "params",
				Severity: oml.SeverityWarning, Line: 1, Column: 1,
				Message: fmt.Sprintf("--param %s is neither declared nor used", name)})
			continue
		}
		if err := setParam(values, declared, name, flags[name], "--param "+name); err != nil {
			return nil, nil, err
		}
	}

	for name, v := range values {
		d := declared[name]
		if len(d.enum) > 0 && !inEnum(v, d.enum) {
			return nil, nil, &Error{Type: "invalid_param", Msg: fmt.Sprintf(
				"param %s = %s is not one of %s", name, oml.ParamText(v), enumText(d.enum))}
		}
	}
	return values, warnings, nil
}

func setParam(values map[string]any, declared map[string]paramDef, name, text,
	source string) error {
	v, err := convertParam(declared[name].typ, text)
	if err != nil {
		return &Error{Type: "invalid_param", Msg: fmt.Sprintf("%s: %v", source, err)}
	}
	values[name] = v
	return nil
}

// convertParam reads a textual value as the declared type; undeclared types stay text.
func convertParam(typ, text string) (any, error) {
	switch typ {
	case "int":
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return i, nil
	case "number":
		t := strings.TrimSpace(text)
		if i, err := strconv.ParseInt(t, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return f, nil
	case "bool":
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", text)
		}
		return b, nil
	case "list", "map":
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, fmt.Errorf("%q is not a JSON %s", text, typ)
		}
		if _, isList := v.([]any); typ == "list" && !isList {
			return nil, fmt.Errorf("%q is not a JSON list", text)
		}
		if _, isMap := v.(map[string]any); typ == "map" && !isMap {
			return nil, fmt.Errorf("%q is not a JSON object", text)
		}
		return normaliseJSON(v), nil
	}
	return text, nil
}

// normaliseJSON gives decoded JSON the number types YAML values have (int64, float64).
func normaliseJSON(v any) any {
	switch t := v.(type) {
	case float64:
		if t == float64(int64(t)) && t < 1e15 && t > -1e15 {
			return int64(t)
		}
		return t
	case []any:
		for i := range t {
			t[i] = normaliseJSON(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = normaliseJSON(t[k])
		}
	}
	return v
}

func inEnum(v any, enum []any) bool {
	for _, e := range enum {
		if oml.ParamText(e) == oml.ParamText(v) {
			return true
		}
	}
	return false
}

func enumText(enum []any) string {
	var parts []string
	for _, e := range enum {
		parts = append(parts, oml.ParamText(e))
	}
	return strings.Join(parts, ", ")
}
