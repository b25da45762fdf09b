// Package registry reads the component specs (embedded, plus a project's components/
// overlay) and answers what each component accepts. The OML validator, the compiler, the
// runner and 'osiris components' all ask it, so they never disagree.
package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/components"
	"github.com/osirisgo/osiris/internal/drivers"
)

// Spec is one component's self-description.
type Spec struct {
	Name              string
	Version           string
	Title             string
	Description       string
	Modes             []string
	Capabilities      map[string]bool
	ConfigSchema      map[string]any
	Secrets           []string // JSON pointers of secret config fields
	XSecret           []string // runtime secret pointers (resolved_connection/...)
	ConnectionFields  []ConnectionField
	Constraints       []Constraint
	Examples          []Example
	Raw               map[string]any // the whole spec, for 'components show' and fingerprints
	Source            string         // embedded:<path> or the overlay file
	compiledSchema    *jsonschema.Schema
	compiledSchemaErr error
	compileOnce       sync.Once
}

// ConnectionField is a config field that a connection may supply, with the policy for a
// step that sets it too.
type ConnectionField struct {
	Name     string `json:"name"`
	Override string `json:"override"` // allowed, forbidden, warning
}

// Constraint is a conditional requirement: when every field in When equals its value
// (nil = absent), each field in Must satisfies its JSON-Schema fragment.
type Constraint struct {
	When  map[string]any `json:"when"`
	Must  map[string]any `json:"must"`
	Error string         `json:"error"`
}

// Example is a sample config shown to users and assistants.
type Example struct {
	Title  string         `json:"title"`
	Config map[string]any `json:"config"`
}

// Registry is the set of known components, sorted by name.
type Registry struct {
	specs    map[string]*Spec
	names    []string
	Warnings []string // specs skipped as invalid, with the reason
}

// Load reads the embedded specs and overlays projectDir/components (if it exists).
// Invalid specs are skipped with a warning, never fatal.
func Load(projectDir string) (*Registry, error) {
	validator, err := specValidator()
	if err != nil {
		return nil, err
	}
	r := &Registry{specs: map[string]*Spec{}}

	embedded, _ := fs.Glob(components.FS, "*/spec.yaml")
	for _, p := range embedded {
		raw, _ := fs.ReadFile(components.FS, p)
		r.add(validator, raw, path.Dir(p), "embedded:"+p)
	}

	if projectDir != "" {
		overlay := filepath.Join(projectDir, "components")
		dirs, _ := os.ReadDir(overlay)
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			for _, name := range []string{"spec.yaml", "spec.yml", "spec.json"} {
				file := filepath.Join(overlay, d.Name(), name)
				if raw, err := os.ReadFile(file); err == nil {
					r.add(validator, raw, d.Name(), file)
					break
				}
			}
		}
	}

	for name := range r.specs {
		r.names = append(r.names, name)
	}
	sort.Strings(r.names)
	return r, nil
}

var (
	defaultOnce sync.Once
	defaultReg  *Registry
	defaultErr  error
)

// Default returns the registry of embedded specs only, loaded once.
func Default() (*Registry, error) {
	defaultOnce.Do(func() { defaultReg, defaultErr = Load("") })
	return defaultReg, defaultErr
}

func (r *Registry) add(validator *jsonschema.Schema, raw []byte, dirName, source string) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		r.warn(source, "invalid YAML: "+err.Error())
		return
	}
	doc = normalise(doc).(map[string]any)
	if err := validator.Validate(toJSONValue(doc)); err != nil {
		r.warn(source, "does not match spec.schema.json: "+firstLine(err.Error()))
		return
	}
	spec, err := parseSpec(doc)
	if err != nil {
		r.warn(source, err.Error())
		return
	}
	if spec.Name == "" {
		spec.Name = dirName
	}
	spec.Source = source
	r.specs[spec.Name] = spec
}

func (r *Registry) warn(source, msg string) {
	r.Warnings = append(r.Warnings, fmt.Sprintf("component spec %s skipped: %s", source, msg))
}

func parseSpec(doc map[string]any) (*Spec, error) {
	buf, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var wire struct {
		Name         string          `json:"name"`
		Version      string          `json:"version"`
		Title        string          `json:"title"`
		Description  string          `json:"description"`
		Modes        []string        `json:"modes"`
		Capabilities map[string]bool `json:"capabilities"`
		ConfigSchema map[string]any  `json:"configSchema"`
		Secrets      []string        `json:"secrets"`
		XSecret      []string        `json:"x-secret"`
		ConnFields   []any           `json:"x-connection-fields"`
		Constraints  struct {
			Required []Constraint `json:"required"`
		} `json:"constraints"`
		Examples []Example `json:"examples"`
	}
	if err := json.Unmarshal(buf, &wire); err != nil {
		return nil, err
	}
	s := &Spec{
		Name: wire.Name, Version: wire.Version, Title: wire.Title,
		Description: wire.Description, Modes: wire.Modes, Capabilities: wire.Capabilities,
		ConfigSchema: wire.ConfigSchema, Secrets: wire.Secrets, XSecret: wire.XSecret,
		Constraints: wire.Constraints.Required, Examples: wire.Examples, Raw: doc,
	}
	for _, f := range wire.ConnFields {
		switch v := f.(type) {
		case string:
			s.ConnectionFields = append(s.ConnectionFields, ConnectionField{v, "allowed"})
		case map[string]any:
			cf := ConnectionField{Name: fmt.Sprint(v["name"]), Override: "allowed"}
			if o, ok := v["override"].(string); ok {
				cf.Override = o
			}
			s.ConnectionFields = append(s.ConnectionFields, cf)
		}
	}
	if len(wire.ConnFields) == 0 {
		// Without an explicit list, the secret fields come from the connection and a step
		// may not set them itself.
		for _, p := range s.Secrets {
			s.ConnectionFields = append(s.ConnectionFields,
				ConnectionField{Name: strings.TrimPrefix(p, "/"), Override: "forbidden"})
		}
	}
	return s, nil
}

// Get returns a component's spec.
func (r *Registry) Get(name string) (*Spec, bool) {
	s, ok := r.specs[name]
	return s, ok
}

// Names lists every component name, sorted.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }

// List returns every spec, sorted by name.
func (r *Registry) List() []*Spec {
	out := make([]*Spec, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.specs[n])
	}
	return out
}

// Family is the part of the name before the first dot: mysql for mysql.extractor.
func (s *Spec) Family() string {
	family, _, _ := strings.Cut(s.Name, ".")
	return family
}

// Runnable reports whether a Go driver is registered for the component.
func (s *Spec) Runnable() bool {
	_, ok := drivers.Lookup(s.Name)
	return ok
}

// HasMode reports whether the spec lists a mode. "write" also accepts the deprecated
// "load".
func (s *Spec) HasMode(mode string) bool {
	for _, m := range s.Modes {
		if m == mode || (mode == "write" && m == "load") {
			return true
		}
	}
	return false
}

// Properties returns the configSchema properties.
func (s *Spec) Properties() map[string]any {
	props, _ := s.ConfigSchema["properties"].(map[string]any)
	return props
}

// Required returns the configSchema required list.
func (s *Spec) Required() []string {
	var out []string
	list, _ := s.ConfigSchema["required"].([]any)
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// Defaults returns the configSchema default of every property that has one.
func (s *Spec) Defaults() map[string]any {
	out := map[string]any{}
	for name, p := range s.Properties() {
		if pm, ok := p.(map[string]any); ok {
			if d, ok := pm["default"]; ok {
				out[name] = d
			}
		}
	}
	return out
}

// ConnectionField returns the policy for a field a connection may supply.
func (s *Spec) ConnectionField(name string) (ConnectionField, bool) {
	for _, f := range s.ConnectionFields {
		if f.Name == name {
			return f, true
		}
	}
	return ConnectionField{}, false
}

// SecretFields lists the last segment of every secret pointer (secrets and x-secret).
func (s *Spec) SecretFields() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append(append([]string(nil), s.Secrets...), s.XSecret...) {
		seg := p[strings.LastIndex(p, "/")+1:]
		if seg != "" && !seen[seg] {
			seen[seg] = true
			out = append(out, seg)
		}
	}
	return out
}

// Schema returns the compiled configSchema, for validating a step's config.
func (s *Spec) Schema() (*jsonschema.Schema, error) {
	s.compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		url := "osiris://components/" + s.Name + "/config.json"
		if err := c.AddResource(url, toJSONValue(s.ConfigSchema)); err != nil {
			s.compiledSchemaErr = err
			return
		}
		s.compiledSchema, s.compiledSchemaErr = c.Compile(url)
	})
	return s.compiledSchema, s.compiledSchemaErr
}

// ValidateValue checks one value against a JSON-Schema fragment (used by constraints).
func ValidateValue(fragment map[string]any, value any) error {
	c := jsonschema.NewCompiler()
	if err := c.AddResource("osiris://fragment.json", toJSONValue(fragment)); err != nil {
		return err
	}
	sch, err := c.Compile("osiris://fragment.json")
	if err != nil {
		return err
	}
	return sch.Validate(toJSONValue(value))
}

// Fingerprint is a stable JSON encoding of the whole spec, for registry fingerprints.
func (s *Spec) Fingerprint() ([]byte, error) { return json.Marshal(s.Raw) }

func specValidator() (*jsonschema.Schema, error) {
	raw, err := fs.ReadFile(components.FS, "spec.schema.json")
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("osiris://components/spec.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("osiris://components/spec.schema.json")
}

// normalise turns YAML-decoded values into JSON-shaped ones (map[string]any, []any).
func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			t[k] = normalise(val)
		}
		return t
	case map[any]any:
		out := map[string]any{}
		for k, val := range t {
			out[fmt.Sprint(k)] = normalise(val)
		}
		return out
	case []any:
		for i, val := range t {
			t[i] = normalise(val)
		}
		return t
	}
	return v
}

// toJSONValue converts a value to what the JSON-Schema validator expects (numbers as
// json.Number-compatible values) by a JSON round trip.
func toJSONValue(v any) any {
	buf, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf))
	if err != nil {
		return v
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " " + strings.TrimSpace(strings.ReplaceAll(s[i+1:], "\n", "; "))
	}
	return s
}

// ValidateConfig checks a step config against the component's configSchema.
func (s *Spec) ValidateConfig(cfg map[string]any) error {
	schema, err := s.Schema()
	if err != nil {
		return err
	}
	return schema.Validate(toJSONValue(cfg))
}
