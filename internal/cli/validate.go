package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/connections"
)

// ValidateOptions are the inputs of 'osiris validate'.
type ValidateOptions struct {
	ConfigFile string
	Mode       string // warn, strict, off
}

func newCmdValidate(f *Factory) *cobra.Command {
	opts := &ValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check osiris.yaml and every connection's fields",
		Long: "Check the project configuration and each connection: required fields per " +
			"family and environment variables that are not set. With --mode strict any " +
			"problem exits 2.",
		Example: "osiris validate\nosiris validate --mode strict --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return validateRun(f, opts) },
	}
	cmd.Flags().StringVar(&opts.ConfigFile, "config", "",
		"Project directory or osiris.yaml to check")
	cmd.Flags().StringVar(&opts.Mode, "mode", "",
		"warn, strict or off (default $OSIRIS_VALIDATION or warn)")
	return cmd
}

// requiredConnectionFields lists, per family, groups of fields of which one must be set.
var requiredConnectionFields = map[string][][]string{
	"mysql":    {{"host"}, {"database"}, {"user"}, {"password"}},
	"postgres": {{"host", "dsn"}, {"database", "dsn"}, {"user", "dsn"}},
	"supabase": {{"url", "project_id", "dsn", "host"},
		{"key", "service_role_key", "anon_key", "dsn", "password"}},
	"graphql":    {{"endpoint"}},
	"filesystem": {},
	"duckdb":     {{"path"}},
	"posthog":    {{"api_key"}, {"project_id"}},
}

type fieldIssue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

func validateRun(f *Factory, opts *ValidateOptions) error {
	mode := opts.Mode
	if mode == "" {
		mode = os.Getenv("OSIRIS_VALIDATION")
	}
	if mode == "" {
		mode = "warn"
	}
	if mode != "warn" && mode != "strict" && mode != "off" {
		return UsageError("--mode must be warn, strict or off, got %q", mode)
	}
	if opts.ConfigFile != "" {
		dir := opts.ConfigFile
		if strings.HasSuffix(dir, ".yaml") || strings.HasSuffix(dir, ".yml") {
			dir = dirOf(dir)
		}
		f.ProjectDir = dir
	}
	p, file, err := loadConnections(f)
	if err != nil {
		return err
	}
	session := newCommandSession(f, p, "validate")

	databases := map[string]any{}
	results := map[string]any{}
	problems := 0
	if mode != "off" {
		for _, family := range file.Families {
			var missingVars []string
			for _, a := range file.Aliases[family] {
				issues := checkAlias(family, a)
				problems += len(issues)
				for name, set := range connections.EnvVars(a.Raw) {
					if !set {
						missingVars = append(missingVars, name)
					}
				}
				if issues == nil {
					issues = []fieldIssue{}
				}
				results[family+"."+a.Name] = map[string]any{
					"is_valid": len(issues) == 0, "errors": issues,
				}
			}
			sort.Strings(missingVars)
			if missingVars == nil {
				missingVars = []string{}
			}
			databases[family] = map[string]any{"configured": true, "missing_vars": missingVars}
		}
	}
	session.Event("validate_complete", map[string]any{"mode": mode, "problems": problems})

	doc := map[string]any{
		"config_valid": true, "config_file": p.Root + "/osiris.yaml", "mode": mode,
		"config_found": p.Exists, "database_connections": databases,
		"connection_validation": results, "session_id": session.ID,
	}
	if mode == "strict" && problems > 0 {
		doc["status"] = "error"
		doc["error_type"] = "validation_error"
		doc["message"] = fmt.Sprintf("%d connection problem(s)", problems)
		if f.JSON {
			if err := f.PrintJSON(doc); err != nil {
				return err
			}
			return &silentError{code: ExitUsage}
		}
	}
	if f.JSON {
		return f.Success(doc)
	}
	printValidate(f, p.Exists, results)
	if mode == "strict" && problems > 0 {
		return &silentError{code: ExitUsage}
	}
	return nil
}

func printValidate(f *Factory, found bool, results map[string]any) {
	if found {
		f.Printf("osiris.yaml: ok\n")
	} else {
		f.Printf("osiris.yaml: not found (defaults apply)\n")
	}
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := results[n].(map[string]any)
		issues := r["errors"].([]fieldIssue)
		if len(issues) == 0 {
			f.Printf("@%s: ok\n", n)
			continue
		}
		for _, is := range issues {
			f.Printf("@%s: %s (%s)\n", n, is.Message, is.Fix)
		}
	}
}

func checkAlias(family string, a *connections.Alias) []fieldIssue {
	var issues []fieldIssue
	resolved := connections.Substitute(a.Raw).(map[string]any)
	for _, group := range requiredConnectionFields[family] {
		set := false
		for _, field := range group {
			if v, ok := resolved[field]; ok && fmt.Sprint(v) != "" {
				set = true
			}
		}
		if !set {
			issues = append(issues, fieldIssue{
				Path:    "connections." + family + "." + a.Name + "." + group[0],
				Message: "missing " + strings.Join(group, " or "),
				Fix:     "add " + group[0] + " to osiris_connections.yaml",
			})
		}
	}
	for field, v := range resolved {
		s, ok := v.(string)
		if !ok {
			continue
		}
		for _, name := range placeholderNames(s) {
			issues = append(issues, fieldIssue{
				Path:    "connections." + family + "." + a.Name + "." + field,
				Message: "environment variable " + name + " is not set",
				Fix:     "export " + name + " or add it to .env",
			})
		}
	}
	sort.Slice(issues, func(i, j int) bool { return issues[i].Path < issues[j].Path })
	return issues
}

func placeholderNames(s string) []string {
	var names []string
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			return names
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			return names
		}
		names = append(names, s[start+2:start+end])
		s = s[start+end+1:]
	}
}

func dirOf(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[:i]
	}
	return "."
}
