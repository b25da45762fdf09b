// Package sqlcommon holds what the MySQL and PostgreSQL drivers share: reading step
// configuration, scrubbing server text of users, hosts and addresses, and a stream that
// reads its source ahead in a goroutine so that extraction and loading overlap.
package sqlcommon

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Merged returns the step's connection view: the resolved connection's fields with the
// step's own keys laid over them, because a step may override what its connection says
// (host, port, schema) where the component allows it.
func Merged(cfg map[string]any) map[string]any {
	out := map[string]any{}
	if conn, ok := cfg["resolved_connection"].(map[string]any); ok {
		for k, v := range conn {
			out[k] = v
		}
	}
	for k, v := range cfg {
		if k == "resolved_connection" || v == nil {
			continue
		}
		out[k] = v
	}
	return out
}

// String returns the first non-empty string value among keys.
func String(cfg map[string]any, keys ...string) string {
	for _, key := range keys {
		switch v := cfg[key].(type) {
		case string:
			if v != "" {
				return v
			}
		case secrets.Secret:
			if v.Reveal() != "" {
				return v.Reveal()
			}
		case json.Number:
			return v.String()
		case int, int64, float64:
			return fmt.Sprint(v)
		}
	}
	return ""
}

// Secret returns the first non-empty value among keys as a Secret, so that it cannot be
// printed by accident on its way to the connector.
func Secret(cfg map[string]any, keys ...string) secrets.Secret {
	return secrets.Secret(String(cfg, keys...))
}

// Int reads an integer key (JSON numbers arrive as float64), or def when absent.
func Int(step string, cfg map[string]any, key string, def int) (int, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		if n == math.Trunc(n) {
			return int(n), nil
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return int(i), nil
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i, nil
		}
	}
	return 0, drivers.Errorf(step, drivers.KindConfig, nil,
		"Step %s: '%s' must be an integer", step, key)
}

// Bool reads a boolean key, or def when absent.
func Bool(step string, cfg map[string]any, key string, def bool) (bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		if parsed, err := strconv.ParseBool(b); err == nil {
			return parsed, nil
		}
	}
	return false, drivers.Errorf(step, drivers.KindConfig, nil,
		"Step %s: '%s' must be true or false", step, key)
}

// StringList reads a key that may be one string or a list of strings (primary_key: id or
// primary_key: [a, b]).
func StringList(cfg map[string]any, keys ...string) []string {
	for _, key := range keys {
		switch v := cfg[key].(type) {
		case string:
			if v != "" {
				return []string{v}
			}
		case []string:
			if len(v) > 0 {
				return append([]string(nil), v...)
			}
		case []any:
			var out []string
			for _, item := range v {
				if s, ok := item.(string); ok && s != "" {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

// Required reports the spec's validation error for a missing key.
func Required(step, key string) error {
	return drivers.Errorf(step, drivers.KindConfig, nil, "Step %s: '%s' is required", step, key)
}

// FirstInput returns the stream a writer reads: the first input in needs order.
func FirstInput(req drivers.Request) (drivers.Stream, error) {
	for _, in := range req.Inputs {
		if in.Rows != nil {
			return in.Rows, nil
		}
	}
	return nil, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
		"Step %s: a writer needs an upstream step (needs) that produces rows", req.StepID)
}

// WriteMode reads write_mode (or its alias mode) and checks it.
func WriteMode(step string, cfg map[string]any) (string, error) {
	mode := String(cfg, "write_mode", "mode")
	switch mode {
	case "":
		return "append", nil
	case "append", "replace", "upsert":
		return mode, nil
	case "insert":
		return "append", nil
	}
	return "", drivers.Errorf(step, drivers.KindConfig, nil,
		"Step %s: write_mode must be append, replace or upsert", step)
}
