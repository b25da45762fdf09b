package oml

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/osirisgo/osiris/internal/registry"
)

var (
	namePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	stepIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	kebabPattern  = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

// topLevelKeys are the keys OML v0.1.0 knows; run and schedule are accepted and ignored.
var topLevelKeys = map[string]bool{
	"oml_version": true, "name": true, "steps": true, "description": true,
	"metadata": true, "params": true, "profiles": true, "run": true, "schedule": true,
}

// forbiddenKeys belong to older pipeline formats; accepting them silently would run
// something other than what the author meant.
var forbiddenKeys = map[string]string{
	"version":    "use oml_version",
	"connectors": "put connections in osiris_connections.yaml and reference them as @family.alias",
	"tasks":      "use steps",
	"outputs":    "write outputs with a writer step",
}

// stepKeys are the step keys OML v0.1.0 uses or reserves (reserved ones are ignored).
var stepKeys = map[string]bool{
	"id": true, "component": true, "mode": true, "config": true, "needs": true,
	"description": true, "name": true, "when": true, "branch": true, "fan_out": true,
	"retry": true, "timeout": true, "inputs": true, "outputs": true, "labels": true,
}

// RuntimeModes maps the OML step modes to the modes drivers and specs use.
var RuntimeModes = map[string]string{"read": "extract", "write": "write", "transform": "transform"}

var paramTypes = map[string]bool{
	"string": true, "int": true, "number": true, "bool": true, "list": true, "map": true,
}

// Validate checks a parsed document against OML v0.1.0 and the component registry. It
// returns every issue found, errors and warnings, each with the field's location, line
// and column. reg may be nil, which skips the component checks.
func Validate(doc *Document, reg *registry.Registry) []Issue {
	v := &validator{doc: doc, reg: reg}
	v.document()
	sort.SliceStable(v.issues, func(i, j int) bool {
		a, b := v.issues[i], v.issues[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return v.issues
}

type validator struct {
	doc    *Document
	reg    *registry.Registry
	issues []Issue
}

func (v *validator) add(severity, typ string, p path, atKey bool, format string,
	args ...any) {
	line, col := v.doc.position(p, atKey)
	v.issues = append(v.issues, Issue{
		Type: typ, Message: fmt.Sprintf(format, args...), Location: p.String(),
		Line: line, Column: col, Severity: severity,
	})
}

func (v *validator) errorf(typ string, p path, format string, args ...any) {
	v.add(SeverityError, typ, p, false, format, args...)
}

func (v *validator) warnf(typ string, p path, format string, args ...any) {
	v.add(SeverityWarning, typ, p, false, format, args...)
}

func (v *validator) document() {
	top, ok := v.doc.Value.(map[string]any)
	if !ok {
		what := "empty"
		if v.doc.Value != nil {
			what = "a " + typeName(v.doc.Value)
		}
		v.errorf("invalid_type", path{}, "an OML document must be a mapping, this one is %s",
			what)
		return
	}

	for _, key := range sortedKeys(top) {
		switch {
		case forbiddenKeys[key] != "":
			v.add(SeverityError, "forbidden_key", path{key}, true,
				"key %q is not allowed in OML v0.1.0: %s", key, forbiddenKeys[key])
		case !topLevelKeys[key] && !strings.HasPrefix(key, "x-"):
			v.add(SeverityWarning, "unknown_key", path{key}, true,
				"unknown top-level key %q is ignored", key)
		}
	}
	for _, key := range []string{"oml_version", "name", "steps"} {
		if _, ok := top[key]; !ok {
			v.errorf("missing_required_key", path{key}, "missing required key %q", key)
		}
	}

	v.version(top)
	v.name(top)
	if md, ok := top["metadata"]; ok && md != nil {
		if _, ok := md.(map[string]any); !ok {
			v.errorf("invalid_type", path{"metadata"}, "metadata must be a mapping, got %s",
				typeName(md))
		}
	}
	if d, ok := top["description"]; ok && d != nil {
		if _, ok := d.(string); !ok {
			v.errorf("invalid_type", path{"description"}, "description must be a string, got %s",
				typeName(d))
		}
	}
	v.params(top)
	v.profiles(top)
	v.steps(top)
}

func (v *validator) version(top map[string]any) {
	raw, ok := top["oml_version"]
	if !ok {
		return
	}
	s, isString := raw.(string)
	if !isString {
		v.errorf("invalid_version_type", path{"oml_version"},
			"oml_version must be a quoted string such as \"0.1.0\", got %s", typeName(raw))
		return
	}
	major, _, _ := strings.Cut(s, ".")
	switch {
	case major != "0":
		v.errorf("unsupported_version", path{"oml_version"},
			"oml_version %q is not supported; this Osiris reads OML %s", s, Version)
	case s != Version:
		v.warnf("unsupported_version", path{"oml_version"},
			"oml_version %q is read as OML %s", s, Version)
	}
}

func (v *validator) name(top map[string]any) {
	raw, ok := top["name"]
	if !ok {
		return
	}
	s, isString := raw.(string)
	switch {
	case !isString:
		v.errorf("invalid_name_type", path{"name"}, "name must be a string, got %s",
			typeName(raw))
	case strings.TrimSpace(s) == "":
		v.errorf("empty_name", path{"name"}, "name must not be empty")
	case !namePattern.MatchString(s):
		v.warnf("naming_convention", path{"name"},
			"name %q should be lowercase letters, digits and hyphens (e.g. orders-etl)", s)
	}
}

func (v *validator) params(top map[string]any) {
	raw, ok := top["params"]
	if !ok || raw == nil {
		return
	}
	params, isMap := raw.(map[string]any)
	if !isMap {
		v.errorf("invalid_type", path{"params"}, "params must be a mapping of name to "+
			"definition, got %s", typeName(raw))
		return
	}
	for _, name := range sortedKeys(params) {
		def, isDef := params[name].(map[string]any)
		if !isDef {
			continue // a bare default value
		}
		p := path{"params", name}
		if t, ok := def["type"]; ok {
			ts, _ := t.(string)
			if !paramTypes[ts] {
				v.errorf("invalid_type", p.key("type"),
					"param %q has type %v; use string, int, number, bool, list or map", name, t)
				continue
			}
			if d, ok := def["default"]; ok && d != nil && !ParamTypeMatches(ts, d) {
				v.errorf("invalid_type", p.key("default"),
					"default of param %q is %s, not %s", name, typeName(d), ts)
			}
		}
		if e, ok := def["enum"]; ok {
			if _, isList := e.([]any); !isList {
				v.errorf("invalid_type", p.key("enum"), "enum of param %q must be a list", name)
			}
		}
	}
}

// ParamTypeMatches reports whether a value has a declared param type.
func ParamTypeMatches(typ string, value any) bool {
	switch typ {
	case "string":
		_, ok := value.(string)
		return ok
	case "int":
		_, ok := value.(int64)
		return ok
	case "number":
		switch value.(type) {
		case int64, float64:
			return true
		}
		return false
	case "bool":
		_, ok := value.(bool)
		return ok
	case "list":
		_, ok := value.([]any)
		return ok
	case "map":
		_, ok := value.(map[string]any)
		return ok
	}
	return true
}

func (v *validator) profiles(top map[string]any) {
	raw, ok := top["profiles"]
	if !ok || raw == nil {
		return
	}
	profiles, isMap := raw.(map[string]any)
	if !isMap {
		v.errorf("invalid_type", path{"profiles"}, "profiles must be a mapping, got %s",
			typeName(raw))
		return
	}
	for _, name := range sortedKeys(profiles) {
		p := path{"profiles", name}
		prof, isMap := profiles[name].(map[string]any)
		if !isMap {
			if profiles[name] != nil {
				v.errorf("invalid_type", p, "profile %q must be a mapping with params", name)
			}
			continue
		}
		if pp, ok := prof["params"]; ok && pp != nil {
			if _, isMap := pp.(map[string]any); !isMap {
				v.errorf("invalid_type", p.key("params"), "profiles.%s.params must be a mapping",
					name)
			}
		}
	}
}

func (v *validator) steps(top map[string]any) {
	raw, ok := top["steps"]
	if !ok {
		return
	}
	list, isList := raw.([]any)
	if !isList {
		v.errorf("invalid_steps_type", path{"steps"}, "steps must be a list, got %s",
			typeName(raw))
		return
	}
	if len(list) == 0 {
		v.errorf("empty_steps", path{"steps"}, "steps must hold at least one step")
		return
	}

	ids := map[string]int{} // id -> index of its first declaration
	for i, item := range list {
		p := path{"steps", i}
		step, isMap := item.(map[string]any)
		if !isMap {
			v.errorf("invalid_step_type", p, "step %d must be a mapping, got %s", i,
				typeName(item))
			continue
		}
		if id, ok := step["id"].(string); ok && id != "" {
			if first, dup := ids[id]; dup {
				v.errorf("duplicate_id", p.key("id"),
					"step id %q is already used by steps[%d]", id, first)
			} else {
				ids[id] = i
			}
		}
	}

	for i, item := range list {
		if step, isMap := item.(map[string]any); isMap {
			v.step(i, step, ids)
		}
	}
	v.cycles(list, ids)
}

func (v *validator) step(i int, step map[string]any, ids map[string]int) {
	p := path{"steps", i}
	for _, key := range sortedKeys(step) {
		if !stepKeys[key] && !strings.HasPrefix(key, "x-") {
			v.add(SeverityWarning, "unknown_key", p.key(key), true,
				"unknown step key %q is ignored", key)
		}
	}
	for _, key := range []string{"id", "component", "mode", "config"} {
		if _, ok := step[key]; !ok {
			v.errorf("missing_step_field", p.key(key), "step %d is missing required field %q",
				i, key)
		}
	}

	id := v.stepID(p, step)
	spec := v.component(p, id, step)
	v.mode(p, id, step, spec)
	v.needs(p, id, step, ids)

	cfgRaw, ok := step["config"]
	if !ok {
		return
	}
	cfg, isMap := cfgRaw.(map[string]any)
	if !isMap {
		v.errorf("invalid_config_type", p.key("config"),
			"config of step %q must be a mapping (use {} for none), got %s", id,
			typeName(cfgRaw))
		return
	}
	v.inlineSecrets(p.key("config"), cfg)
	if spec != nil {
		v.config(p.key("config"), id, spec, cfg)
	}
}

func (v *validator) stepID(p path, step map[string]any) string {
	raw, ok := step["id"]
	if !ok {
		return fmt.Sprintf("steps[%d]", p[1])
	}
	id, isString := raw.(string)
	switch {
	case !isString:
		v.errorf("invalid_id_type", p.key("id"), "step id must be a string, got %s",
			typeName(raw))
		return fmt.Sprintf("steps[%d]", p[1])
	case id == "" || id == "." || id == ".." || !stepIDPattern.MatchString(id):
		v.errorf("invalid_id", p.key("id"),
			"step id %q may hold only letters, digits, '.', '_' and '-'", id)
	case !kebabPattern.MatchString(id):
		v.warnf("naming_convention", p.key("id"),
			"step id %q should be kebab-case (e.g. load-orders)", id)
	}
	return id
}

func (v *validator) component(p path, id string, step map[string]any) *registry.Spec {
	raw, ok := step["component"]
	if !ok {
		return nil
	}
	name, isString := raw.(string)
	if !isString || name == "" {
		v.errorf("invalid_component_type", p.key("component"),
			"component of step %q must be a non-empty string such as mysql.extractor", id)
		return nil
	}
	if v.reg == nil {
		return nil
	}
	spec, known := v.reg.Get(name)
	if !known {
		v.warnf("unknown_component", p.key("component"),
			"step %q uses unknown component %q; 'osiris components list' shows the known ones",
			id, name)
		return nil
	}
	return spec
}

func (v *validator) mode(p path, id string, step map[string]any, spec *registry.Spec) {
	raw, ok := step["mode"]
	if !ok {
		return
	}
	mode, isString := raw.(string)
	if !isString {
		v.errorf("invalid_mode_type", p.key("mode"), "mode of step %q must be a string, got %s",
			id, typeName(raw))
		return
	}
	runtime, known := RuntimeModes[mode]
	if !known {
		v.errorf("invalid_mode", p.key("mode"),
			"step %q has mode %q; use read, write or transform", id, mode)
		return
	}
	if spec != nil && !spec.HasMode(runtime) {
		v.errorf("incompatible_mode", p.key("mode"),
			"Step '%s': mode '%s' not supported by component '%s'. Allowed: %s",
			id, mode, spec.Name, strings.Join(omlModes(spec), ", "))
	}
}

// omlModes lists the OML modes a component accepts, in the words users write.
func omlModes(spec *registry.Spec) []string {
	var out []string
	for _, m := range []string{"read", "write", "transform"} {
		if spec.HasMode(RuntimeModes[m]) {
			out = append(out, m)
		}
	}
	return out
}

func (v *validator) needs(p path, id string, step map[string]any, ids map[string]int) {
	raw, ok := step["needs"]
	if !ok {
		return
	}
	list, isList := raw.([]any)
	if !isList {
		v.errorf("invalid_needs_type", p.key("needs"),
			"needs of step %q must be a list of step ids, got %s", id, typeName(raw))
		return
	}
	for j, item := range list {
		dep, isString := item.(string)
		np := p.key("needs").idx(j)
		switch {
		case !isString:
			v.errorf("invalid_dependency_type", np, "needs entries must be step ids, got %s",
				typeName(item))
		case dep == id:
			v.errorf("self_dependency", np, "step %q cannot need itself", id)
		default:
			if _, known := ids[dep]; !known {
				v.errorf("unknown_dependency", np, "step %q needs %q, which names no step",
					id, dep)
			}
		}
	}
}

// cycles reports each dependency cycle once, at the needs of the step that closes it.
func (v *validator) cycles(list []any, ids map[string]int) {
	edges := make([][]int, len(list))
	for i, item := range list {
		step, _ := item.(map[string]any)
		needs, given := step["needs"].([]any)
		if _, has := step["needs"]; has && !given {
			continue
		}
		if !given && i > 0 {
			if _, prevIsStep := list[i-1].(map[string]any); prevIsStep {
				edges[i] = []int{i - 1}
			}
			continue
		}
		for _, n := range needs {
			if dep, ok := n.(string); ok {
				if j, known := ids[dep]; known && j != i {
					edges[i] = append(edges[i], j)
				}
			}
		}
	}

	const (
		unvisited = iota
		active
		done
	)
	state := make([]int, len(list))
	var stack []int
	var visit func(i int)
	visit = func(i int) {
		state[i] = active
		stack = append(stack, i)
		for _, j := range edges[i] {
			switch state[j] {
			case unvisited:
				visit(j)
			case active:
				v.reportCycle(list, stack, j)
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range list {
		if state[i] == unvisited {
			visit(i)
		}
	}
}

func (v *validator) reportCycle(list []any, stack []int, start int) {
	var names []string
	from := 0
	for k, i := range stack {
		if i == start {
			from = k
		}
	}
	for _, i := range stack[from:] {
		names = append(names, stepName(list, i))
	}
	names = append(names, stepName(list, start))
	closing := stack[len(stack)-1]
	p := path{"steps", closing, "needs"}
	if step, _ := list[closing].(map[string]any); step["needs"] == nil {
		p = path{"steps", closing}
	}
	// Report in the order the steps depend on each other: a needs b needs a.
	v.errorf("dependency_cycle", p, "dependency cycle: %s", strings.Join(names, " -> "))
}

func stepName(list []any, i int) string {
	step, _ := list[i].(map[string]any)
	if id, ok := step["id"].(string); ok {
		return id
	}
	return fmt.Sprintf("steps[%d]", i)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, int, uint64:
		return "integer"
	case float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
