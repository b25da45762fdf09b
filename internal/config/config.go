// Package config finds the project, reads osiris.yaml and answers where every file of the
// filesystem contract lives. Precedence everywhere: flag > environment > osiris.yaml >
// default.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the project configuration file that marks a project root.
const FileName = "osiris.yaml"

// ConnectionsFileName holds the project's connections.
const ConnectionsFileName = "osiris_connections.yaml"

// Error is an invalid configuration; the CLI turns it into exit code 2, config_error.
type Error struct {
	File string
	Msg  string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

// Filesystem holds the filesystem section of osiris.yaml.
type Filesystem struct {
	BasePath     string    `yaml:"base_path"`
	PipelinesDir string    `yaml:"pipelines_dir"`
	BuildDir     string    `yaml:"build_dir"`
	AIOPDir      string    `yaml:"aiop_dir"`
	RunLogsDir   string    `yaml:"run_logs_dir"`
	SessionsDir  string    `yaml:"sessions_dir"`
	CacheDir     string    `yaml:"cache_dir"`
	IndexDir     string    `yaml:"index_dir"`
	MCPLogsDir   string    `yaml:"mcp_logs_dir"`
	Profiles     Profiles  `yaml:"profiles"`
	Naming       Naming    `yaml:"naming"`
	Retention    Retention `yaml:"retention"`
	Outputs      Outputs   `yaml:"outputs"`
}

// Profiles lists the profiles a pipeline may be compiled for.
type Profiles struct {
	Enabled *bool    `yaml:"enabled"`
	Values  []string `yaml:"values"`
	Default string   `yaml:"default"`
}

// Naming holds the path templates of manifests and run directories.
type Naming struct {
	ManifestDir      string `yaml:"manifest_dir"`
	RunDir           string `yaml:"run_dir"`
	AIOPRunDir       string `yaml:"aiop_run_dir"`
	RunTSFormat      string `yaml:"run_ts_format"`
	ManifestShortLen int    `yaml:"manifest_short_len"`
}

// Retention says how long run logs and AIOP annexes are kept; 0 disables a rule.
type Retention struct {
	RunLogsDays             *int `yaml:"run_logs_days"`
	AIOPKeepRunsPerPipeline *int `yaml:"aiop_keep_runs_per_pipeline"`
	AnnexKeepDays           *int `yaml:"annex_keep_days"`
}

// Outputs names the default output directory and format.
type Outputs struct {
	Directory string `yaml:"directory"`
	Format    string `yaml:"format"`
}

// IDs holds run id and manifest hash settings.
type IDs struct {
	RunIDFormat      any    `yaml:"run_id_format"`
	ManifestHashAlgo string `yaml:"manifest_hash_algo"`
}

// Logging holds the run log level and event filter.
type Logging struct {
	Level  string   `yaml:"level"`
	Events []string `yaml:"events"`
}

// Discovery holds discovery defaults.
type Discovery struct {
	SampleSize     int `yaml:"sample_size"`
	TimeoutSeconds int `yaml:"timeout_seconds"`
}

// File is osiris.yaml as read from disk, with defaults applied.
type File struct {
	Version    string         `yaml:"version"`
	Filesystem Filesystem     `yaml:"filesystem"`
	IDs        IDs            `yaml:"ids"`
	Logging    Logging        `yaml:"logging"`
	Discovery  Discovery      `yaml:"discovery"`
	AIOP       map[string]any `yaml:"aiop"`
}

// Project is a resolved project: its root, its base path and its configuration.
type Project struct {
	Root   string // directory holding osiris.yaml (or the working directory)
	Base   string // where the filesystem contract's directories live
	File   File
	Exists bool // osiris.yaml was found
	// Sources says where Root came from: flag, env, config or cwd.
	Sources map[string]string
}

// Resolve finds the project: flagDir > $OSIRIS_HOME > nearest ancestor of the working
// directory holding osiris.yaml > working directory. It loads .env (never overriding an
// exported variable) and osiris.yaml.
func Resolve(flagDir string) (*Project, error) {
	root, source, err := findRoot(flagDir)
	if err != nil {
		return nil, err
	}
	p := &Project{Root: root, Sources: map[string]string{"root": source}}

	if err := LoadDotEnv(filepath.Join(root, ".env")); err != nil {
		return nil, err
	}

	cfgPath := filepath.Join(root, FileName)
	raw, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		p.Exists = true
		if err := yaml.Unmarshal(raw, &p.File); err != nil {
			return nil, &Error{File: cfgPath, Msg: "invalid YAML: " + yamlMessage(err)}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, &Error{File: cfgPath, Msg: err.Error()}
	}

	applyDefaults(&p.File)
	if err := validate(&p.File, cfgPath); err != nil {
		return nil, err
	}
	p.Base, p.Sources["base_path"] = resolveBase(root, p.File.Filesystem.BasePath)
	return p, nil
}

func findRoot(flagDir string) (string, string, error) {
	pick := func(dir, source string) (string, string, error) {
		abs, err := filepath.Abs(expandHome(dir))
		if err != nil {
			return "", "", err
		}
		info, err := os.Stat(abs)
		if err != nil || !info.IsDir() {
			return "", "", &Error{Msg: fmt.Sprintf("project directory %s does not exist", abs)}
		}
		return abs, source, nil
	}
	if flagDir != "" {
		return pick(flagDir, "flag")
	}
	if home := os.Getenv("OSIRIS_HOME"); home != "" {
		return pick(home, "env")
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for dir := cwd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
			return dir, "config", nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return cwd, "cwd", nil
}

func resolveBase(root, configured string) (string, string) {
	if env := os.Getenv("OSIRIS_FILESYSTEM_BASE"); env != "" {
		return absUnder(root, env), "env"
	}
	if configured != "" {
		return absUnder(root, configured), "config"
	}
	return root, "default"
}

func absUnder(root, p string) string {
	p = expandHome(p)
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(root, p)
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func applyDefaults(f *File) {
	fs := &f.Filesystem
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&fs.PipelinesDir, "pipelines")
	def(&fs.BuildDir, "build")
	def(&fs.AIOPDir, "aiop")
	def(&fs.RunLogsDir, "run_logs")
	def(&fs.SessionsDir, ".osiris/sessions")
	def(&fs.CacheDir, ".osiris/cache")
	def(&fs.IndexDir, ".osiris/index")
	def(&fs.MCPLogsDir, ".osiris/mcp/logs")
	if fs.Profiles.Enabled == nil {
		on := true
		fs.Profiles.Enabled = &on
	}
	if len(fs.Profiles.Values) == 0 {
		fs.Profiles.Values = []string{"dev", "staging", "prod", "ml", "finance", "incident_debug"}
	}
	def(&fs.Profiles.Default, "dev")
	def(&fs.Naming.ManifestDir, "{pipeline_slug}/{manifest_short}-{manifest_hash}")
	def(&fs.Naming.RunDir, "{pipeline_slug}/{run_ts}_{run_id}-{manifest_short}")
	def(&fs.Naming.AIOPRunDir, "{run_id}")
	def(&fs.Naming.RunTSFormat, "iso_basic_z")
	if fs.Naming.ManifestShortLen == 0 {
		fs.Naming.ManifestShortLen = 7
	}
	intDef := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	intDef(&fs.Retention.RunLogsDays, 7)
	intDef(&fs.Retention.AIOPKeepRunsPerPipeline, 200)
	intDef(&fs.Retention.AnnexKeepDays, 14)
	def(&fs.Outputs.Directory, "output")
	def(&fs.Outputs.Format, "csv")
	if f.IDs.RunIDFormat == nil {
		f.IDs.RunIDFormat = "iso_ulid"
	}
	def(&f.IDs.ManifestHashAlgo, "sha256_slug")
	def(&f.Logging.Level, "INFO")
	if len(f.Logging.Events) == 0 {
		f.Logging.Events = []string{"*"}
	}
	if f.Discovery.SampleSize == 0 {
		f.Discovery.SampleSize = 10
	}
	if f.Discovery.TimeoutSeconds == 0 {
		f.Discovery.TimeoutSeconds = 30
	}
}

func validate(f *File, file string) error {
	fs := f.Filesystem
	n := fs.Naming.ManifestShortLen
	if n < 3 || n > 16 {
		return &Error{File: file, Msg: fmt.Sprintf(
			"filesystem.naming.manifest_short_len must be between 3 and 16, got %d", n)}
	}
	if !strings.Contains(fs.Naming.RunDir, "{run_id}") {
		// Without the run id two runs of one pipeline could share a directory.
		return &Error{File: file, Msg: fmt.Sprintf(
			"filesystem.naming.run_dir %q must contain {run_id}", fs.Naming.RunDir)}
	}
	if *fs.Profiles.Enabled && !contains(fs.Profiles.Values, fs.Profiles.Default) {
		return &Error{File: file, Msg: fmt.Sprintf(
			"filesystem.profiles.default %q is not one of filesystem.profiles.values", fs.Profiles.Default)}
	}
	for name, v := range map[string]*int{
		"run_logs_days":               fs.Retention.RunLogsDays,
		"aiop_keep_runs_per_pipeline": fs.Retention.AIOPKeepRunsPerPipeline,
		"annex_keep_days":             fs.Retention.AnnexKeepDays,
	} {
		if *v < 0 {
			return &Error{File: file, Msg: "filesystem.retention." + name + " must be >= 0"}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Dir resolves a contract directory (as named in osiris.yaml) under the base path.
func (p *Project) Dir(rel string) string { return absUnder(p.Base, rel) }

// PipelinesDir is where OML files are saved by default.
func (p *Project) PipelinesDir() string { return p.Dir(p.File.Filesystem.PipelinesDir) }

// BuildDir holds compiled manifests.
func (p *Project) BuildDir() string { return p.Dir(p.File.Filesystem.BuildDir) }

// AIOPDir holds AI-operation summaries of runs.
func (p *Project) AIOPDir() string { return p.Dir(p.File.Filesystem.AIOPDir) }

// RunLogsDir holds one directory per run and per logged command.
func (p *Project) RunLogsDir() string { return p.Dir(p.File.Filesystem.RunLogsDir) }

// CacheDir holds the compile cache.
func (p *Project) CacheDir() string { return p.Dir(p.File.Filesystem.CacheDir) }

// IndexDir holds the run index and the latest-manifest pointers.
func (p *Project) IndexDir() string { return p.Dir(p.File.Filesystem.IndexDir) }

// SessionsDir holds per-session state.
func (p *Project) SessionsDir() string { return p.Dir(p.File.Filesystem.SessionsDir) }

// MCPLogsDir is the root of audit, telemetry, discovery cache, drafts and memory:
// $OSIRIS_MCP_LOGS_DIR > filesystem.mcp_logs_dir > .osiris/mcp/logs, relative to the base.
func (p *Project) MCPLogsDir() string {
	if env := os.Getenv("OSIRIS_MCP_LOGS_DIR"); env != "" {
		return absUnder(p.Base, env)
	}
	return p.Dir(p.File.Filesystem.MCPLogsDir)
}

// DiscoveryCacheDir holds discovery entries and artifacts.
func (p *Project) DiscoveryCacheDir() string { return filepath.Join(p.MCPLogsDir(), "cache") }

// DraftsDir holds OML drafts saved through the MCP tools.
func (p *Project) DraftsDir() string { return filepath.Join(p.MCPLogsDir(), "cache", "oml") }

// MemoryDir holds captured memory sessions.
func (p *Project) MemoryDir() string { return filepath.Join(p.MCPLogsDir(), "memory") }

// AuditDir holds the MCP audit log.
func (p *Project) AuditDir() string { return filepath.Join(p.MCPLogsDir(), "audit") }

// TelemetryDir holds MCP telemetry.
func (p *Project) TelemetryDir() string { return filepath.Join(p.MCPLogsDir(), "telemetry") }

// ConnectionsFile is the project's osiris_connections.yaml.
func (p *Project) ConnectionsFile() string { return filepath.Join(p.Root, ConnectionsFileName) }

// ProfilesEnabled reports whether profiles take part in paths and compile.
func (p *Project) ProfilesEnabled() bool { return *p.File.Filesystem.Profiles.Enabled }

// ResolveProfile applies flag > $OSIRIS_PROFILE > profiles.default. With profiles disabled
// the profile is "". A value outside profiles.values is an error.
func (p *Project) ResolveProfile(flag string) (string, error) {
	if !p.ProfilesEnabled() {
		return "", nil
	}
	profile := flag
	if profile == "" {
		profile = os.Getenv("OSIRIS_PROFILE")
	}
	if profile == "" {
		profile = p.File.Filesystem.Profiles.Default
	}
	if !contains(p.File.Filesystem.Profiles.Values, profile) {
		return "", &Error{Msg: fmt.Sprintf("unknown profile %q; allowed: %s", profile,
			strings.Join(p.File.Filesystem.Profiles.Values, ", "))}
	}
	return profile, nil
}

// RunLogsDays applies $OSIRIS_RETENTION_RUN_LOGS_DAYS over osiris.yaml.
func (p *Project) RunLogsDays() int {
	if env := os.Getenv("OSIRIS_RETENTION_RUN_LOGS_DAYS"); env != "" {
		if n, err := strconv.Atoi(env); err == nil && n >= 0 {
			return n
		}
	}
	return *p.File.Filesystem.Retention.RunLogsDays
}

// RunIDFormat returns the run id tokens: $OSIRIS_RUN_ID_FORMAT (comma list) > osiris.yaml.
func (p *Project) RunIDFormat() []string {
	if env := os.Getenv("OSIRIS_RUN_ID_FORMAT"); env != "" {
		return splitList(env)
	}
	switch v := p.File.IDs.RunIDFormat.(type) {
	case string:
		return splitList(v)
	case []any:
		var out []string
		for _, item := range v {
			out = append(out, fmt.Sprint(item))
		}
		return out
	}
	return []string{"iso_ulid"}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// LoadDotEnv sets variables from a .env file that are not already exported. An exported
// but empty variable counts as unset. A missing file is not an error.
func LoadDotEnv(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &Error{File: path, Msg: err.Error()}
	}
	defer f.Close()

	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		name, value, ok := strings.Cut(text, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return &Error{File: fmt.Sprintf("%s:%d", path, line), Msg: "expected NAME=value"}
		}
		value = unquote(strings.TrimSpace(value))
		if os.Getenv(name) != "" {
			continue
		}
		if err := os.Setenv(name, value); err != nil {
			return err
		}
	}
	return scanner.Err()
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

func yamlMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "yaml: ")
}
