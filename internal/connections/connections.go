// Package connections reads osiris_connections.yaml, substitutes ${ENV} placeholders and
// resolves @family.alias references. Resolved values are only ever handed to drivers at
// run time; everything printed goes through Masked.
package connections

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/internal/jsonvalue"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Error is a bad reference or an unusable connection; the CLI maps Kind to an exit code.
type Error struct {
	Kind string // not_found, invalid_reference, missing_env, config
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Error kinds.
const (
	KindNotFound         = "not_found"
	KindInvalidReference = "invalid_reference"
	KindMissingEnv       = "missing_env"
	KindConfig           = "config"
)

// Alias is one configured connection, in file order within its family.
type Alias struct {
	Family  string
	Name    string
	Default bool           // default: true in the file
	Raw     map[string]any // as written, placeholders unresolved, without "default"
}

// File is a parsed connections file.
type File struct {
	Path     string
	Families []string            // in file order
	Aliases  map[string][]*Alias // family -> aliases in file order
}

// ReferencePattern is the accepted form of a reference: @family.alias.
var ReferencePattern = regexp.MustCompile(`^@([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$`)

var aliasPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ParseReference splits "@family.alias". A reference without alias ("@family") is not
// accepted here; use Resolve with an empty alias for the family default.
func ParseReference(ref string) (family, alias string, err error) {
	m := ReferencePattern.FindStringSubmatch(strings.TrimSpace(ref))
	if m == nil {
		return "", "", &Error{Kind: KindInvalidReference, Msg: fmt.Sprintf(
			"invalid connection reference %q: expected @family.alias", ref)}
	}
	return m[1], m[2], nil
}

// Load reads the connections file. A missing file is an empty set.
func Load(path string) (*File, error) {
	f := &File{Path: path, Aliases: map[string][]*Alias{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf("read %s: %v", path, err)}
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf("%s: invalid YAML: %s", path,
			strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	conns := mapValue(doc.Content[0], "connections")
	if conns == nil {
		return f, nil
	}
	if conns.Kind != yaml.MappingNode {
		return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
			"%s:%d: connections must be a mapping of families", path, conns.Line)}
	}
	familyLines := map[string]int{}
	for i := 0; i+1 < len(conns.Content); i += 2 {
		family, aliases := conns.Content[i].Value, conns.Content[i+1]
		if first, dup := familyLines[family]; dup {
			return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
				"%s:%d: family %q is defined twice (first at line %d)", path,
				conns.Content[i].Line, family, first)}
		}
		familyLines[family] = conns.Content[i].Line
		if aliases.Kind != yaml.MappingNode {
			return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
				"%s:%d: connections.%s must be a mapping of aliases", path, aliases.Line, family)}
		}
		f.Families = append(f.Families, family)
		aliasLines := map[string]int{}
		for j := 0; j+1 < len(aliases.Content); j += 2 {
			name, body := aliases.Content[j].Value, aliases.Content[j+1]
			if first, dup := aliasLines[name]; dup {
				return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
					"%s:%d: alias %s.%s is defined twice (first at line %d)", path,
					aliases.Content[j].Line, family, name, first)}
			}
			aliasLines[name] = aliases.Content[j].Line
			if !aliasPattern.MatchString(name) {
				return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
					"%s:%d: alias %q may only hold letters, digits, '_' and '-'", path,
					aliases.Content[j].Line, name)}
			}
			var fields map[string]any
			if err := body.Decode(&fields); err != nil || fields == nil {
				return nil, &Error{Kind: KindConfig, Msg: fmt.Sprintf(
					"%s:%d: connections.%s.%s must be a mapping of fields", path, body.Line,
					family, name)}
			}
			alias := &Alias{Family: family, Name: name, Raw: fields}
			if d, ok := fields["default"].(bool); ok {
				alias.Default = d
			}
			delete(fields, "default")
			f.Aliases[family] = append(f.Aliases[family], alias)
		}
	}
	return f, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// DefaultAlias picks the family's default: the first alias with default: true in file
// order (a second one gives a warning), else the alias named "default".
func (f *File) DefaultAlias(family string) (*Alias, []string, error) {
	aliases := f.Aliases[family]
	var chosen *Alias
	var warnings []string
	for _, a := range aliases {
		if a.Default {
			if chosen == nil {
				chosen = a
			} else {
				warnings = append(warnings, fmt.Sprintf(
					"several aliases of %s are marked default; using %s", family, chosen.Name))
			}
		}
	}
	if chosen != nil {
		return chosen, warnings, nil
	}
	for _, a := range aliases {
		if a.Name == "default" {
			return a, warnings, nil
		}
	}
	return nil, warnings, &Error{Kind: KindNotFound, Msg: fmt.Sprintf(
		"No default connection for family '%s'. Available aliases: %s", family,
		strings.Join(f.aliasNames(family), ", "))}
}

func (f *File) aliasNames(family string) []string {
	var names []string
	for _, a := range f.Aliases[family] {
		names = append(names, a.Name)
	}
	return names
}

// Find returns an alias; an empty alias name selects the family default.
func (f *File) Find(family, alias string) (*Alias, error) {
	if len(f.Families) == 0 {
		return nil, &Error{Kind: KindNotFound, Msg: "No connections configured (" +
			f.Path + " is missing or empty)"}
	}
	if _, ok := f.Aliases[family]; !ok {
		return nil, &Error{Kind: KindNotFound, Msg: fmt.Sprintf(
			"Connection family '%s' not found. Available families: %s", family,
			strings.Join(f.Families, ", "))}
	}
	if alias == "" {
		a, _, err := f.DefaultAlias(family)
		return a, err
	}
	for _, a := range f.Aliases[family] {
		if a.Name == alias {
			return a, nil
		}
	}
	return nil, &Error{Kind: KindNotFound, Msg: fmt.Sprintf(
		"Connection alias '%s' not found in family '%s'. Available aliases: %s", alias, family,
		strings.Join(f.aliasNames(family), ", "))}
}

// Resolve finds an alias and substitutes its ${ENV} placeholders. A placeholder whose
// variable is unset is an error naming the variable and field, never its value.
func (f *File) Resolve(family, alias string) (map[string]any, *Alias, error) {
	a, err := f.Find(family, alias)
	if err != nil {
		return nil, nil, err
	}
	resolved := Substitute(a.Raw).(map[string]any)
	if field, name, ok := firstPlaceholder(resolved, ""); ok {
		return nil, a, &Error{Kind: KindMissingEnv, Msg: fmt.Sprintf(
			"Environment variable '%s' not set for %s in %s.%s", name, field, a.Family, a.Name)}
	}
	return resolved, a, nil
}

var placeholder = regexp.MustCompile(`\$\{([^}]+)\}`)

// Substitute replaces ${NAME} with the environment variable's value in every string at
// any depth. Unset or empty variables keep their placeholder. Scalars become strings only
// when they held a placeholder.
func Substitute(v any) any {
	return jsonvalue.MapStrings(v, func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if val := os.Getenv(name); val != "" {
				return val
			}
			return m
		})
	})
}

// EnvVars lists the variables an alias references and whether each is set.
func EnvVars(raw map[string]any) map[string]bool {
	out := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, val := range t {
				walk(val)
			}
		case []any:
			for _, val := range t {
				walk(val)
			}
		case string:
			for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
				out[m[1]] = os.Getenv(m[1]) != ""
			}
		}
	}
	walk(raw)
	return out
}

func firstPlaceholder(v any, path string) (field, name string, ok bool) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if field, name, ok := firstPlaceholder(t[k], p); ok {
				return field, name, true
			}
		}
	case []any:
		for i, val := range t {
			if field, name, ok := firstPlaceholder(val, fmt.Sprintf("%s[%d]", path, i)); ok {
				return field, name, true
			}
		}
	case string:
		if m := placeholder.FindStringSubmatch(t); m != nil {
			return path, m[1], true
		}
	}
	return "", "", false
}

// Masked returns the alias config with environment substituted and every secret value
// replaced by ***MASKED***; unresolved placeholders stay visible.
func Masked(raw map[string]any) map[string]any {
	return secrets.MaskMap(Substitute(raw), secrets.Masked).(map[string]any)
}
