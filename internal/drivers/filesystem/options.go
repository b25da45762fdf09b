package filesystem

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Step configs arrive from cfg/<step>.json decoded with UseNumber, or from tests as plain
// Go values, so every reader below accepts both json.Number and native numbers.

func cfgString(cfg map[string]any, key, def string) (string, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("'%s' must be a string", key)
	}
	return s, nil
}

func cfgInt(cfg map[string]any, key string, def int64) (int64, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	n, ok := asInt(v)
	if !ok {
		return 0, fmt.Errorf("'%s' must be an integer", key)
	}
	return n, nil
}

func asInt(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(t.String(), 10, 64)
		return n, err == nil
	case int:
		return int64(t), true
	case int64:
		return t, true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), true
		}
	}
	return 0, false
}

func cfgBool(cfg map[string]any, key string, def bool) (bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("'%s' must be true or false", key)
	}
	return b, nil
}

func cfgStrings(cfg map[string]any, key string) ([]string, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case []string:
		return t, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, item := range t {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("'%s' must be a list of strings", key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("'%s' must be a list of strings", key)
}

// cfgSingleByte reads a one-character option (delimiter, quote, comment). Only ASCII is
// accepted, because the reader splits records on bytes after decoding to UTF-8.
func cfgSingleByte(cfg map[string]any, key string, def byte) (byte, bool, error) {
	s, err := cfgString(cfg, key, string([]byte{def}))
	if err != nil {
		return 0, false, err
	}
	if s == "" {
		return 0, false, nil
	}
	if s == `\t` {
		s = "\t"
	}
	if len(s) != 1 || s[0] > 127 || s[0] == '\n' || s[0] == '\r' {
		return 0, false, fmt.Errorf("'%s' must be a single ASCII character, got %q", key, s)
	}
	return s[0], true, nil
}
