package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/registry"
)

func newCmdComponents(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "components",
		Short: "List and describe the components pipelines can use",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdComponentsList(f), newCmdComponentsShow(f), newCmdComponentsValidate(f))
	return cmd
}

func newCmdMCPComponents(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "components",
		Short: "Components, in the MCP tool shape",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Components grouped as extractors, writers, processors and other",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return mcpComponentsListRun(f) },
	})
	return cmd
}

func loadRegistry(f *Factory) (*registry.Registry, error) {
	_, reg, err := loadProjectRegistry(f)
	return reg, err
}

// loadProjectRegistry opens the project and the component registry it sees (the built-in
// specs and the project's own), logging the registry's warnings to stderr.
func loadProjectRegistry(f *Factory) (*config.Project, *registry.Registry, error) {
	p, err := f.Project()
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.Load(p.Root)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range reg.Warnings {
		f.Logger().Warn(w)
	}
	return p, reg, nil
}

// lookupComponent loads the registry and finds one component by name; an unknown name
// is a validation error listing the names there are.
func lookupComponent(f *Factory, name string) (*registry.Spec, error) {
	reg, err := loadRegistry(f)
	if err != nil {
		return nil, err
	}
	spec, ok := reg.Get(name)
	if !ok {
		return nil, unknownComponent(reg, name)
	}
	return spec, nil
}

// ComponentsListOptions filter 'components list'.
type ComponentsListOptions struct {
	Mode     string
	Runnable bool
}

func newCmdComponentsList(f *Factory) *cobra.Command {
	opts := &ComponentsListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List components with their modes",
		Example: "osiris components list\nosiris components list --mode extract --runnable",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return componentsListRun(f, opts) },
	}
	cmd.Flags().StringVar(&opts.Mode, "mode", "",
		"Only components with this spec mode (extract, write, transform, discover)")
	cmd.Flags().BoolVar(&opts.Runnable, "runnable", false, "Only components this binary can run")
	return cmd
}

func componentsListRun(f *Factory, opts *ComponentsListOptions) error {
	reg, err := loadRegistry(f)
	if err != nil {
		return err
	}
	type row struct {
		Name        string   `json:"name"`
		Version     string   `json:"version"`
		Modes       []string `json:"modes"`
		Description string   `json:"description"`
		Runnable    bool     `json:"runnable"`
	}
	rows := []row{}
	for _, s := range reg.List() {
		if opts.Mode != "" && !s.HasMode(opts.Mode) {
			continue
		}
		if opts.Runnable && !s.Runnable() {
			continue
		}
		rows = append(rows, row{s.Name, s.Version, s.Modes, truncate(s.Description, 100),
			s.Runnable()})
	}
	if f.JSON {
		return f.Success(map[string]any{"components": rows, "count": len(rows)})
	}
	for _, r := range rows {
		run := ""
		if !r.Runnable {
			run = " (not runnable in this build)"
		}
		f.Printf("%-26s %-7s %-22s %s%s\n", r.Name, r.Version, strings.Join(r.Modes, ","),
			r.Description, run)
	}
	return nil
}

func newCmdComponentsShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show NAME",
		Short:   "Print a component's full spec",
		Example: "osiris components show mysql.extractor --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			spec, err := lookupComponent(f, args[0])
			if err != nil {
				return err
			}
			if f.JSON {
				return f.Success(map[string]any{"component": spec.Raw, "runnable": spec.Runnable()})
			}
			printSpec(f, spec)
			return nil
		},
	}
}

func unknownComponent(reg *registry.Registry, name string) *Error {
	return ValidationError("not_found", fmt.Sprintf("unknown component %q; available: %s",
		name, strings.Join(reg.Names(), ", ")), nil)
}

func printSpec(f *Factory, s *registry.Spec) {
	f.Printf("%s %s — %s\n%s\n\nmodes: %s\nrunnable: %v\n\nconfig:\n", s.Name, s.Version,
		s.Title, s.Description, strings.Join(s.Modes, ", "), s.Runnable())
	required := map[string]bool{}
	for _, r := range s.Required() {
		required[r] = true
	}
	props := s.Properties()
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, _ := props[n].(map[string]any)
		mark := " "
		if required[n] {
			mark = "*"
		}
		typ, _ := p["type"].(string)
		def := ""
		if d, ok := p["default"]; ok {
			def = fmt.Sprintf(" (default %v)", d)
		}
		desc, _ := p["description"].(string)
		f.Printf("  %s %-26s %-8s%s %s\n", mark, n, typ, def, desc)
	}
	if len(s.SecretFields()) > 0 {
		f.Printf("\nsecrets (from the connection, never inline): %s\n",
			strings.Join(s.SecretFields(), ", "))
	}
}

func newCmdComponentsValidate(f *Factory) *cobra.Command {
	var level string
	cmd := &cobra.Command{
		Use:   "validate NAME",
		Short: "Check a component spec (basic, enhanced or strict)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			spec, err := lookupComponent(f, args[0])
			if err != nil {
				return err
			}
			issues := validateSpec(spec, level)
			if len(issues) > 0 {
				return ValidationError("invalid_component_spec", fmt.Sprintf(
					"component %s: %s", spec.Name, strings.Join(issues, "; ")),
					map[string]any{"is_valid": false, "errors": issues})
			}
			if f.JSON {
				return f.Success(map[string]any{"is_valid": true, "errors": []string{},
					"component": spec.Name, "level": level})
			}
			f.Printf("%s is valid (%s)\n", spec.Name, level)
			return nil
		},
	}
	cmd.Flags().StringVar(&level, "level", "basic", "basic, enhanced or strict")
	return cmd
}

// validateSpec applies the checks of a level: basic = the spec schema (already applied
// on load), enhanced = configSchema compiles and examples validate, strict = secret
// pointers name real fields.
func validateSpec(s *registry.Spec, level string) []string {
	var issues []string
	if level == "basic" {
		return nil
	}
	if _, err := s.Schema(); err != nil {
		return []string{"configSchema does not compile: " + err.Error()}
	}
	for i, ex := range s.Examples {
		cfg := map[string]any{}
		for k, v := range ex.Config {
			if k != "connection" {
				cfg[k] = v
			}
		}
		// Examples reference a connection, so connection-supplied fields may be absent.
		if err := s.ValidateConfig(fillConnectionFields(s, cfg)); err != nil {
			issues = append(issues, fmt.Sprintf("examples[%d] does not match configSchema", i))
		}
	}
	if level == "strict" {
		props := s.Properties()
		for _, p := range s.Secrets {
			field := strings.TrimPrefix(p, "/")
			if _, ok := props[field]; !ok {
				issues = append(issues, "secret pointer "+p+" names no config field")
			}
		}
	}
	return issues
}

func fillConnectionFields(s *registry.Spec, cfg map[string]any) map[string]any {
	props := s.Properties()
	for _, cf := range s.ConnectionFields {
		if _, ok := cfg[cf.Name]; ok {
			continue
		}
		p, _ := props[cf.Name].(map[string]any)
		if d, ok := p["default"]; ok {
			cfg[cf.Name] = d
			continue
		}
		if enum, ok := p["enum"].([]any); ok && len(enum) > 0 {
			cfg[cf.Name] = enum[0]
			continue
		}
		switch p["type"] {
		case "integer", "number":
			cfg[cf.Name] = 1
		case "object":
			cfg[cf.Name] = map[string]any{}
		case "boolean":
			cfg[cf.Name] = false
		default:
			cfg[cf.Name] = "x"
		}
	}
	return cfg
}

func mcpComponentsListRun(f *Factory) error {
	reg, err := loadRegistry(f)
	if err != nil {
		return err
	}
	groups := map[string][]map[string]any{
		"extractors": {}, "writers": {}, "processors": {}, "other": {},
	}
	for _, s := range reg.List() {
		group := "other"
		switch {
		case strings.Contains(s.Name, "extractor"):
			group = "extractors"
		case strings.Contains(s.Name, "writer"):
			group = "writers"
		case strings.Contains(s.Name, "processor"):
			group = "processors"
		}
		required := map[string]bool{}
		for _, r := range s.Required() {
			required[r] = true
		}
		var optional []string
		for name := range s.Properties() {
			if !required[name] {
				optional = append(optional, name)
			}
		}
		sort.Strings(optional)
		examples := s.Examples
		if len(examples) > 2 {
			examples = examples[:2]
		}
		version := s.Version
		if version == "" {
			version = "1.0.0"
		}
		groups[group] = append(groups[group], map[string]any{
			"name": s.Name, "version": version, "description": s.Description,
			"tags": append([]string{s.Family()}, s.Modes...), "capabilities": s.Capabilities,
			"required_fields": nonNil(s.Required()), "optional_fields": nonNil(optional),
			"examples": examples, "runnable": s.Runnable(),
		})
	}
	return f.Success(map[string]any{"components": groups, "total_count": len(reg.Names())})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
