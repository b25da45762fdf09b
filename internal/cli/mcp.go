package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/mcpserver"
)

// newCmdMCP is the namespace the MCP shim calls: each subcommand runs the same internal
// code as its top-level twin and prints the MCP document shape. It also starts, checks
// and configures the shim itself (run, clients, tools, config).
func newCmdMCP(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Run the MCP server for AI clients, and the commands it calls (stable JSON contract)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newCmdMCPConnections(f),
		newCmdMCPComponents(f),
		newCmdMCPDiscovery(f),
		newCmdMCPCache(f),
		newCmdMCPOML(f),
		newCmdMCPUsecases(f),
		newCmdMCPGuide(f),
		newCmdMCPMemory(f),
		newCmdMCPAIOP(f),
		newCmdMCPResources(f),
		newCmdMCPRun(f, nil),
		newCmdMCPClients(f),
		newCmdMCPTools(f),
		newCmdMCPConfig(f),
	)
	return cmd
}

// shimPath finds osiris-mcp: next to this osiris binary, else on PATH. The second
// result says whether the file was found at all.
func shimPath() (string, bool) {
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		sibling := filepath.Join(filepath.Dir(exe), "osiris-mcp")
		if info, err := os.Stat(sibling); err == nil && !info.IsDir() {
			return sibling, true
		}
		if path, err := exec.LookPath("osiris-mcp"); err == nil {
			if abs, err := filepath.Abs(path); err == nil {
				return abs, true
			}
		}
		return sibling, false
	}
	if path, err := exec.LookPath("osiris-mcp"); err == nil {
		return path, true
	}
	return "osiris-mcp", false
}

// mcpRunOptions are the flags of `osiris mcp run`.
type mcpRunOptions struct {
	Debug    bool
	Selftest bool
	BasePath string
}

// execFunc replaces the current process; tests pass a recorder.
type execFunc func(path string, argv []string, env []string) error

func newCmdMCPRun(f *Factory, execute execFunc) *cobra.Command {
	opts := &mcpRunOptions{}
	if execute == nil {
		execute = execProcess
	}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start the MCP server on stdio (what an AI client runs)",
		Long: "Start osiris-mcp, the MCP server, on stdin/stdout. It runs in place of this " +
			"process, so the client talks to it directly and gets its exit code. With " +
			"--selftest it starts a server, checks it and prints PASS/FAIL per check.",
		Example: "osiris mcp run --base-path ~/projects/sales\nosiris mcp run --selftest",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return mcpRun(f, opts, execute)
		},
	}
	cmd.Flags().BoolVar(&opts.Debug, "debug", false, "Log every call on stderr")
	cmd.Flags().BoolVar(&opts.Selftest, "selftest", false, "Check a server and exit 0 or 1")
	cmd.Flags().StringVar(&opts.BasePath, "base-path", "", "Project directory the server works in")
	return cmd
}

func mcpRun(f *Factory, opts *mcpRunOptions, execute execFunc) error {
	path, found := shimPath()
	if !found {
		return FailureError("mcp_server_not_found", fmt.Sprintf(
			"osiris-mcp not found next to osiris (%s) or on PATH; install both binaries "+
				"together", path), nil)
	}
	argv := []string{path}
	if opts.Debug {
		argv = append(argv, "--debug")
	}
	if opts.Selftest {
		argv = append(argv, "--selftest")
		if f.JSON {
			argv = append(argv, "--json")
		}
	}
	basePath := opts.BasePath
	if basePath == "" {
		basePath = f.ProjectDir
	}
	if basePath != "" {
		argv = append(argv, "--base-path", basePath)
	}
	if err := execute(path, argv, os.Environ()); err != nil {
		return FailureError("mcp_server_start_failed", "could not start osiris-mcp: "+err.Error(), nil)
	}
	return nil
}

// clientsSnippet is the mcpServers entry a desktop client needs.
func clientsSnippet(shim, projectRoot string) map[string]any {
	return map[string]any{"mcpServers": map[string]any{"osiris": map[string]any{
		"command":   shim,
		"args":      []string{"--base-path", projectRoot},
		"transport": map[string]any{"type": "stdio"},
	}}}
}

func newCmdMCPClients(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "clients",
		Short: "Print the MCP client configuration for this project",
		Long: "Print the mcpServers snippet for claude_desktop_config.json (or any MCP " +
			"client) with absolute paths. Only the snippet goes to stdout; hints go to stderr.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			project, err := f.Project()
			if err != nil {
				return err
			}
			shim, found := shimPath()
			if err := f.PrintJSON(clientsSnippet(shim, project.Root)); err != nil {
				return err
			}
			f.Notef("Add the \"osiris\" entry to mcpServers in %s and restart the client.\n",
				desktopConfigPath())
			if !found {
				f.Notef("warning: %s does not exist yet; build or install osiris-mcp there.\n", shim)
			}
			if !project.Exists {
				f.Notef("warning: no %s in %s; run 'osiris init' there first.\n",
					config.FileName, project.Root)
			}
			if f.Verbose {
				f.Notef("Each project gets its own entry (another name, its own --base-path).\n" +
					"Check the server with: osiris mcp run --selftest\n")
			}
			return nil
		},
	}
}

// desktopConfigPath is where Claude Desktop keeps its configuration on this system.
func desktopConfigPath() string {
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Claude",
			"claude_desktop_config.json")
	case "windows":
		return filepath.Join(os.Getenv("APPDATA"), "Claude", "claude_desktop_config.json")
	}
	return filepath.Join(home, ".config", "Claude", "claude_desktop_config.json")
}

func newCmdMCPTools(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "tools",
		Short: "List the MCP tools, their aliases and the CLI command each runs",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			doc := mcpserver.ToolsDocument()
			if f.JSON {
				return f.PrintJSON(doc)
			}
			for _, t := range mcpserver.Catalogue() {
				f.Printf("%-20s %s\n%-20s aliases: %s\n%-20s runs: %s\n", t.Name, t.Description,
					"", strings.Join(t.Aliases(), ", "), "", t.CLI)
			}
			return nil
		},
	}
}

func newCmdMCPConfig(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Show the MCP server's resolved settings and directories",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			project, err := f.Project()
			if err != nil {
				return err
			}
			doc := mcpConfigDocument(project, mcpserver.LoadSettings(os.LookupEnv), f.Version)
			if f.JSON {
				return f.PrintJSON(doc)
			}
			printConfigHuman(f, doc)
			return nil
		},
	}
}

func mcpConfigDocument(p *config.Project, s mcpserver.Settings, version string) map[string]any {
	doc := s.Document()
	doc["status"] = "success"
	doc["server_name"] = mcpserver.ServerName
	doc["server_version"] = version
	doc["project_root"] = p.Root
	doc["directories"] = map[string]any{
		"base_path":    p.Base,
		"mcp_logs_dir": p.MCPLogsDir(),
		"audit":        p.AuditDir(),
		"telemetry":    p.TelemetryDir(),
		"cache":        p.DiscoveryCacheDir(),
		"memory":       p.MemoryDir(),
	}

	sources := map[string]any{}
	for name, source := range s.Sources {
		sources[name] = source
	}
	sources["project_root"] = p.Sources["root"]
	sources["base_path"] = p.Sources["base_path"]
	switch {
	case os.Getenv("OSIRIS_MCP_LOGS_DIR") != "":
		sources["mcp_logs_dir"] = "env"
	case p.Exists && p.File.Filesystem.MCPLogsDir != ".osiris/mcp/logs":
		sources["mcp_logs_dir"] = "config"
	default:
		sources["mcp_logs_dir"] = "default"
	}
	doc["sources"] = sources
	warnings := s.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	doc["warnings"] = warnings
	return doc
}

func printConfigHuman(f *Factory, doc map[string]any) {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := doc[k].(type) {
		case map[string]any:
			f.Printf("%s:\n", k)
			inner := make([]string, 0, len(v))
			for ik := range v {
				inner = append(inner, ik)
			}
			sort.Strings(inner)
			for _, ik := range inner {
				f.Printf("  %-34s %v\n", ik, v[ik])
			}
		default:
			f.Printf("%-36s %v\n", k, v)
		}
	}
}
