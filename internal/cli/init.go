package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
)

// InitOptions are the inputs of 'osiris init'.
type InitOptions struct {
	Path     string
	Force    bool
	Git      bool
	Template string
}

func newCmdInit(f *Factory) *cobra.Command {
	opts := &InitOptions{}
	cmd := &cobra.Command{
		Use:   "init [PATH]",
		Short: "Create a new Osiris project",
		Long: "Create a project: osiris.yaml, an example connections file, .env.example, " +
			".gitignore and the pipelines/, build/, run_logs/ and .osiris/ directories. " +
			"Existing files are never overwritten.",
		Example: "osiris init my-project\nosiris init . --git",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = "."
			if len(args) == 1 {
				opts.Path = args[0]
			}
			return initRun(f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false,
		"Initialise even if osiris.yaml exists (files are still kept)")
	cmd.Flags().BoolVar(&opts.Git, "git", false, "Run 'git init' in the project")
	cmd.Flags().StringVar(&opts.Template, "template", "basic", "Project template (basic)")
	return cmd
}

var projectDirectories = []string{
	"pipelines", "build", "aiop", "run_logs",
	".osiris/sessions", ".osiris/cache", ".osiris/index", ".osiris/mcp/logs",
}

// gitignoreBlock is appended to .gitignore once; the marker line detects a second run.
const gitignoreBlock = `# Osiris
run_logs/
aiop/**/annex/
.osiris/cache/
.osiris/sessions/
.osiris/mcp/logs/
.env
osiris_connections.yaml
`

const osirisYAMLTemplate = `# Osiris project configuration. Every key is optional; these are the defaults.
version: '2.0'
filesystem:
  base_path: ""            # "" = this directory
  pipelines_dir: pipelines
  build_dir: build
  aiop_dir: aiop
  run_logs_dir: run_logs
  sessions_dir: .osiris/sessions
  cache_dir: .osiris/cache
  index_dir: .osiris/index
  mcp_logs_dir: .osiris/mcp/logs
  profiles:
    enabled: true
    values: [dev, staging, prod, ml, finance, incident_debug]
    default: dev
  naming:
    manifest_dir: "{pipeline_slug}/{manifest_short}-{manifest_hash}"
    run_dir: "{pipeline_slug}/{run_ts}_{run_id}-{manifest_short}"
    aiop_run_dir: "{run_id}"
    run_ts_format: iso_basic_z
    manifest_short_len: 7
  retention:
    run_logs_days: 7
    aiop_keep_runs_per_pipeline: 200
    annex_keep_days: 14
ids:
  run_id_format: [incremental, ulid]
  manifest_hash_algo: sha256_slug
logging:
  level: INFO
  events: ["*"]
discovery:
  sample_size: 10
  timeout_seconds: 30
aiop:
  enabled: true
`

const envExampleTemplate = `# Copy to .env and fill in. .env never overrides variables you export yourself.
MYSQL_PASSWORD=
PG_PASSWORD=
SUPABASE_DB_PASSWORD=
GRAPHQL_TOKEN=
`

const connectionsExampleTemplate = `# Copy to osiris_connections.yaml. Secrets come from the environment as ${NAME};
# never write them into this file. Reference a connection in OML as "@family.alias".
version: 1
connections:
  filesystem:
    local:
      default: true
      base_dir: .
  mysql:
    shop:
      default: true
      host: 127.0.0.1
      port: 3306
      database: shop
      user: osiris
      password: ${MYSQL_PASSWORD}
  postgres:
    warehouse:
      default: true
      host: 127.0.0.1
      port: 5432
      database: warehouse
      user: osiris
      password: ${PG_PASSWORD}
      sslmode: disable
  graphql:
    api:
      endpoint: http://127.0.0.1:4000/graphql
      auth_token: ${GRAPHQL_TOKEN}
  # A hosted Supabase project: uncomment and fill in your project's own values.
  # supabase:
  #   main:
  #     default: true
  #     host: aws-0-<region>.pooler.supabase.com
  #     port: 6543
  #     user: postgres.<project-ref>
  #     password: ${SUPABASE_DB_PASSWORD}
  #     database: postgres
`

func initRun(f *Factory, opts *InitOptions) error {
	if opts.Template != "basic" {
		return UsageError("unknown template %q (available: basic)", opts.Template)
	}
	root, err := filepath.Abs(opts.Path)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(root, config.FileName)
	if _, err := os.Stat(cfgPath); err == nil && !opts.Force {
		return FailureError("project_exists", fmt.Sprintf(
			"%s already exists; use --force to add missing files", cfgPath),
			map[string]any{"project_path": root})
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		return FailureError("io_error", "create project directory: "+err.Error(), nil)
	}
	var created []string
	for _, dir := range projectDirectories {
		path := filepath.Join(root, dir)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return FailureError("io_error", "create "+dir+": "+err.Error(), nil)
			}
			created = append(created, dir)
		}
	}

	files := map[string]bool{}
	for name, content := range map[string]string{
		config.FileName:                   osirisYAMLTemplate,
		".env.example":                    envExampleTemplate,
		"osiris_connections.example.yaml": connectionsExampleTemplate,
	} {
		wrote, err := writeIfMissing(filepath.Join(root, name), content)
		if err != nil {
			return FailureError("io_error", "write "+name+": "+err.Error(), nil)
		}
		files[name] = wrote
	}
	gitignored, err := appendGitignore(filepath.Join(root, ".gitignore"))
	if err != nil {
		return FailureError("io_error", "update .gitignore: "+err.Error(), nil)
	}

	gitInitialized := false
	if opts.Git {
		if _, err := os.Stat(filepath.Join(root, ".git")); errors.Is(err, os.ErrNotExist) {
			c := exec.Command("git", "init", "-q", root)
			c.Stderr = f.IO.ErrOut
			if err := c.Run(); err != nil {
				return FailureError("git_error", "git init failed: "+err.Error(), nil)
			}
			gitInitialized = true
		}
	}

	nextSteps := []string{
		"cp osiris_connections.example.yaml osiris_connections.yaml and edit it",
		"osiris connections list",
		"write a pipeline in pipelines/ (see 'osiris usecases list')",
		"osiris oml validate pipelines/<name>.yaml",
		"osiris run pipelines/<name>.yaml",
	}
	if created == nil {
		created = []string{}
	}
	if f.JSON {
		return f.Success(map[string]any{
			"project_path": root,
			"created": map[string]any{
				"directories":         created,
				"osiris_yaml":         files[config.FileName],
				"gitignore":           gitignored,
				"env_example":         files[".env.example"],
				"connections_example": files["osiris_connections.example.yaml"],
			},
			"git_initialized": gitInitialized,
			"next_steps":      nextSteps,
		})
	}
	f.Printf("Initialised Osiris project in %s\n\nNext steps:\n", root)
	for _, s := range nextSteps {
		f.Printf("  %s\n", s)
	}
	return nil
}

// writeIfMissing creates path with content unless it exists; it reports whether it wrote.
func writeIfMissing(path, content string) (bool, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := file.WriteString(content); err != nil {
		file.Close()
		os.Remove(path)
		return false, err
	}
	return true, file.Close()
}

func appendGitignore(path string) (bool, error) {
	existing, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if strings.Contains(string(existing), "# Osiris\n") {
		return false, nil
	}
	block := gitignoreBlock
	if len(existing) > 0 && !strings.HasSuffix(string(existing), "\n") {
		block = "\n" + block
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	if _, err := file.WriteString(block); err != nil {
		file.Close()
		return false, err
	}
	return true, file.Close()
}
