package oml

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/osirisgo/osiris/internal/registry"
	"github.com/osirisgo/osiris/internal/secrets"
)

// ReferencePattern is the form of config.connection: @family.alias.
var ReferencePattern = regexp.MustCompile(`^@[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// embeddedFamilies run without a connection when a step names none.
var embeddedFamilies = map[string]bool{"duckdb": true, "filesystem": true}

// knownWriteModes are the write modes any writer understands.
var knownWriteModes = map[string]bool{
	"append": true, "replace": true, "upsert": true, "truncate": true,
}

// ConnectionApplies reports whether a step gets a connection at run time: it names one,
// or its family is not an embedded one and so uses the family's default connection.
func ConnectionApplies(spec *registry.Spec, cfg map[string]any) bool {
	if _, named := cfg["connection"]; named {
		return true
	}
	return !embeddedFamilies[spec.Family()]
}

// IsInlineSecret reports whether a config value under key is a secret typed into the
// file: a secret-named key holding a string longer than four characters that is not an
// ${ENV} placeholder. Shorter values are taken as placeholders such as "xxx".
func IsInlineSecret(key string, value any) bool {
	s, ok := value.(string)
	if !ok || len(s) <= 4 || strings.HasPrefix(s, "${") {
		return false
	}
	return IsSecretName(key)
}

// IsSecretName reports whether a config key names a secret. The project-wide rule lives in
// internal/secrets; the exceptions here are config fields that only look like secrets.
func IsSecretName(key string) bool {
	switch strings.ToLower(key) {
	case "url", "primary_key", "auth_type", "auth_header_name":
		return false
	}
	return secrets.IsSecretKey(key)
}

func (v *validator) inlineSecrets(p path, value any) {
	switch t := value.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if IsInlineSecret(k, t[k]) {
				v.errorf("inline_secret", p.key(k),
					"Inline secret at %s: move it to osiris_connections.yaml or an "+
						"environment variable (${VAR})", p.key(k))
				continue
			}
			v.inlineSecrets(p.key(k), t[k])
		}
	case []any:
		for i, item := range t {
			v.inlineSecrets(p.idx(i), item)
		}
	}
}

func (v *validator) config(p path, id string, spec *registry.Spec, cfg map[string]any) {
	withConnection := ConnectionApplies(spec, cfg)
	v.connectionRef(p, spec, cfg)

	props := spec.Properties()
	for _, key := range sortedKeys(cfg) {
		if _, known := props[key]; !known && key != "connection" {
			v.add(SeverityError, "unknown_config_key", p.key(key), true,
				"step %q: %s has no config key %q; known keys: %s", id, spec.Name, key,
				strings.Join(sortedKeys(props), ", "))
		}
	}

	for _, key := range spec.Required() {
		if _, present := cfg[key]; present {
			continue
		}
		if _, fromConnection := spec.ConnectionField(key); fromConnection && withConnection {
			continue
		}
		v.errorf("missing_config_key", p.key(key), "step %q: %s needs config key %q", id,
			spec.Name, key)
	}

	if withConnection {
		for _, key := range sortedKeys(cfg) {
			field, isConnField := spec.ConnectionField(key)
			if !isConnField {
				continue
			}
			switch field.Override {
			case "forbidden":
				v.add(SeverityError, "forbidden_override", p.key(key), true,
					"step %q: %q comes from the connection and may not be set in the step", id, key)
			case "warning":
				v.add(SeverityWarning, "override_warning", p.key(key), true,
					"step %q: %q overrides the connection's value", id, key)
			}
		}
	}

	constrained := v.constraints(p, id, spec, cfg, withConnection)
	v.writeMode(p, id, spec, cfg, constrained)
	v.schema(p, id, spec, cfg)
	v.csv(p, spec, cfg)
}

func (v *validator) connectionRef(p path, spec *registry.Spec, cfg map[string]any) {
	raw, ok := cfg["connection"]
	if !ok {
		return
	}
	ref, isString := raw.(string)
	if isString && strings.Contains(ref, "${params.") {
		return // checked again once params are resolved
	}
	if !isString || !ReferencePattern.MatchString(ref) {
		v.errorf("invalid_connection_ref", p.key("connection"),
			"connection must be a reference like \"@mysql.main\" (@family.alias), got %v", raw)
		return
	}
	family, _, _ := strings.Cut(strings.TrimPrefix(ref, "@"), ".")
	if family != spec.Family() {
		v.errorf("invalid_connection_ref", p.key("connection"),
			"Connection family mismatch: step uses %s, ref is %s", spec.Family(), family)
	}
}

// constraints applies the spec's conditional requirements and returns the fields they
// cover, so the generic primary_key rule does not report them twice.
func (v *validator) constraints(p path, id string, spec *registry.Spec, cfg map[string]any,
	withConnection bool) map[string]bool {
	covered := map[string]bool{}
	for _, rule := range spec.Constraints {
		for field := range rule.Must {
			covered[field] = true
		}
		if withConnection && touchesConnectionFields(spec, rule) {
			continue
		}
		if !whenMatches(rule.When, cfg) {
			continue
		}
		for _, field := range sortedKeys(rule.Must) {
			fragment, _ := rule.Must[field].(map[string]any)
			value, present := cfg[field]
			if present && hasPlaceholder(value) {
				continue
			}
			if !present || registry.ValidateValue(fragment, value) != nil {
				msg := rule.Error
				if msg == "" {
					msg = fmt.Sprintf("%s does not satisfy the component's rules", field)
				}
				v.errorf("constraint_violation", p.key(field), "step %q: %s", id, msg)
			}
		}
	}
	return covered
}

func touchesConnectionFields(spec *registry.Spec, rule registry.Constraint) bool {
	for field := range rule.When {
		if _, ok := spec.ConnectionField(field); ok {
			return true
		}
	}
	for field := range rule.Must {
		if _, ok := spec.ConnectionField(field); ok {
			return true
		}
	}
	return false
}

func whenMatches(when map[string]any, cfg map[string]any) bool {
	for field, want := range when {
		got, present := cfg[field]
		if want == nil {
			if present {
				return false
			}
			continue
		}
		if !present || !equalValues(got, want) {
			return false
		}
	}
	return true
}

func equalValues(a, b any) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func (v *validator) writeMode(p path, id string, spec *registry.Spec, cfg map[string]any,
	constrained map[string]bool) {
	raw, ok := cfg["write_mode"]
	if !ok {
		return
	}
	mode, _ := raw.(string)
	prop, _ := spec.Properties()["write_mode"].(map[string]any)
	if _, hasEnum := prop["enum"]; !hasEnum && !knownWriteModes[mode] && !hasPlaceholder(raw) {
		v.warnf("unknown_write_mode", p.key("write_mode"),
			"step %q: write_mode %v is not one of append, replace, upsert, truncate", id, raw)
	}
	_, hasPK := spec.Properties()["primary_key"]
	if (mode == "replace" || mode == "upsert") && hasPK && !constrained["primary_key"] &&
		len(spec.Constraints) == 0 {
		if _, present := cfg["primary_key"]; !present {
			v.errorf("missing_required_field", p.key("primary_key"),
				"step %q: write_mode %s needs primary_key", id, mode)
		}
	}
}

func (v *validator) csv(p path, spec *registry.Spec, cfg map[string]any) {
	if spec.Family() != "filesystem" {
		return
	}
	if enc, ok := cfg["encoding"].(string); ok {
		switch strings.ToLower(enc) {
		case "utf-8", "utf8":
		default:
			v.warnf("unusual_encoding", p.key("encoding"),
				"encoding %q: files other than UTF-8 may not round-trip through other tools", enc)
		}
	}
}

// schema checks value types, enums, ranges and "one of" rules of the component's
// configSchema. Required and unknown keys are reported by config itself, and values
// holding ${params.*} are checked after the params are resolved.
func (v *validator) schema(p path, id string, spec *registry.Spec, cfg map[string]any) {
	sch, err := spec.Schema()
	if err != nil {
		v.errorf("compilation_error", p, "component %s has an unusable configSchema", spec.Name)
		return
	}
	instance := map[string]any{}
	for k, val := range cfg {
		if k != "connection" {
			instance[k] = val
		}
	}
	err = sch.Validate(jsonValue(instance))
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return
	}
	seen := map[string]bool{}
	for _, leaf := range schemaLeaves(verr) {
		issue := v.schemaIssue(p, id, leaf, cfg)
		if issue == nil || seen[issue.Location+issue.Message] {
			continue
		}
		seen[issue.Location+issue.Message] = true
		v.issues = append(v.issues, *issue)
	}
}

// schemaLeaves flattens a validation error to the errors that carry a reason; an anyOf
// or oneOf at the config's top level whose branches all miss a required key stays whole.
func schemaLeaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		if allRequired(e) {
			return []*jsonschema.ValidationError{e}
		}
		if len(e.InstanceLocation) > 0 {
			return []*jsonschema.ValidationError{e}
		}
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, schemaLeaves(c)...)
	}
	return out
}

func allRequired(e *jsonschema.ValidationError) bool {
	if len(e.Causes) == 0 {
		return false
	}
	for _, c := range e.Causes {
		if _, ok := c.ErrorKind.(*kind.Required); !ok {
			return false
		}
	}
	return true
}

func (v *validator) schemaIssue(p path, id string, e *jsonschema.ValidationError,
	cfg map[string]any) *Issue {
	at := p
	for _, seg := range e.InstanceLocation {
		at = at.key(seg)
	}
	// Array indexes come as strings; rebuild them as indexes for the location.
	at = fixIndexes(at, cfg, len(p))
	if len(e.InstanceLocation) > 0 && hasPlaceholder(valueAt(cfg, at[len(p):])) {
		return nil // checked again once params are resolved
	}
	var typ, msg string
	switch k := e.ErrorKind.(type) {
	case *kind.Required, *kind.AdditionalProperties:
		return nil
	case *kind.AnyOf, *kind.OneOf:
		if allRequired(e) {
			var options []string
			for _, c := range e.Causes {
				options = append(options, strings.Join(c.ErrorKind.(*kind.Required).Missing, "+"))
			}
			typ = "missing_config_key"
			msg = fmt.Sprintf("step %q needs one of: %s", id, strings.Join(options, ", "))
		} else {
			typ = "invalid_config_value"
			msg = fmt.Sprintf("step %q: %s does not match any allowed form", id, at)
		}
	case *kind.Type:
		typ = "invalid_config_value"
		msg = fmt.Sprintf("step %q: %s must be %s, got %s", id, at,
			strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		typ = "invalid_config_value"
		var want []string
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		msg = fmt.Sprintf("step %q: %s is %v; allowed: %s", id, at, k.Got,
			strings.Join(want, ", "))
	default:
		typ = "invalid_config_value"
		msg = fmt.Sprintf("step %q: %s: %s", id, at, leafReason(e))
	}
	line, col := v.doc.position(at, false)
	return &Issue{Type: typ, Message: msg, Location: at.String(), Line: line, Column: col,
		Severity: SeverityError}
}

// leafReason is the validator's own sentence for one error, without its location prefix.
func leafReason(e *jsonschema.ValidationError) string {
	text := e.Error()
	if i := strings.LastIndex(text, ": "); i >= 0 {
		text = text[i+2:]
	}
	return strings.TrimSpace(text)
}

func fixIndexes(p path, cfg map[string]any, from int) path {
	out := append(path{}, p[:from]...)
	var cur any = cfg
	for _, seg := range p[from:] {
		s, _ := seg.(string)
		switch t := cur.(type) {
		case []any:
			var i int
			if _, err := fmt.Sscan(s, &i); err == nil && i >= 0 && i < len(t) {
				out = append(out, i)
				cur = t[i]
				continue
			}
		case map[string]any:
			cur = t[s]
		}
		out = append(out, seg)
	}
	return out
}

func valueAt(cfg map[string]any, p path) any {
	var cur any = cfg
	for _, seg := range p {
		switch s := seg.(type) {
		case string:
			m, _ := cur.(map[string]any)
			cur = m[s]
		case int:
			l, _ := cur.([]any)
			if s >= len(l) {
				return nil
			}
			cur = l[s]
		}
	}
	return cur
}

// hasPlaceholder reports whether a value holds ${params.*} text anywhere.
func hasPlaceholder(v any) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, "${params.")
	case []any:
		for _, item := range t {
			if hasPlaceholder(item) {
				return true
			}
		}
	case map[string]any:
		for _, item := range t {
			if hasPlaceholder(item) {
				return true
			}
		}
	}
	return false
}

// jsonValue converts plain values to the shapes the JSON-Schema validator expects.
func jsonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = jsonValue(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = jsonValue(val)
		}
		return out
	case int64:
		return int(t)
	}
	return v
}
