// Package jsonvalue walks values shaped like decoded JSON or YAML (maps of string keys,
// slices, scalars). It uses only the standard library, so the MCP shim may import it too.
package jsonvalue

// MapStrings returns a deep copy of v in which every string, at any depth, is replaced
// by f(string). Map keys and other scalars are kept as they are.
func MapStrings(v any, f func(string) string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = MapStrings(val, f)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = MapStrings(val, f)
		}
		return out
	case string:
		return f(t)
	}
	return v
}
