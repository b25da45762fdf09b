package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/registry"
)

func newCmdConnections(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "List and test the project's connections",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdConnectionsList(f, false), newCmdConnectionsDoctor(f, false))
	return cmd
}

func newCmdMCPConnections(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connections",
		Short: "Connections, in the MCP tool shapes",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdConnectionsList(f, true), newCmdConnectionsDoctor(f, true))
	return cmd
}

func newCmdConnectionsList(f *Factory, mcp bool) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List connections with every secret masked",
		Long: "List the connections of osiris_connections.yaml. Environment placeholders are " +
			"resolved, secret values are shown as ***MASKED***, and placeholders whose " +
			"variable is unset stay visible so you can see what is missing.",
		Example: "osiris connections list\nosiris connections list --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return connectionsListRun(f) },
	}
}

// connectionEntry is one row of 'connections list'.
type connectionEntry struct {
	Family    string          `json:"family"`
	Alias     string          `json:"alias"`
	Reference string          `json:"reference"`
	IsDefault bool            `json:"is_default"`
	Config    map[string]any  `json:"config"`
	EnvVars   map[string]bool `json:"env_vars"`
}

func loadConnections(f *Factory) (*config.Project, *connections.File, error) {
	p, err := f.Project()
	if err != nil {
		return nil, nil, err
	}
	file, err := connections.Load(p.ConnectionsFile())
	if err != nil {
		return nil, nil, ValidationError("config_error", err.Error(), nil)
	}
	return p, file, nil
}

func connectionsListRun(f *Factory) error {
	p, file, err := loadConnections(f)
	if err != nil {
		return err
	}
	session := newCommandSession(f, p, "connections")
	session.Event("connections_list", map[string]any{"families": len(file.Families)})

	entries := []connectionEntry{}
	for _, family := range file.Families {
		def, warnings, _ := file.DefaultAlias(family)
		for _, w := range warnings {
			f.Logger().Warn(w)
		}
		for _, a := range file.Aliases[family] {
			entries = append(entries, connectionEntry{
				Family: family, Alias: a.Name, Reference: "@" + family + "." + a.Name,
				IsDefault: def == a, Config: connections.Masked(a.Raw),
				EnvVars: connections.EnvVars(a.Raw),
			})
		}
	}

	if f.JSON {
		return f.Success(map[string]any{
			"session_id": session.ID, "count": len(entries), "connections": entries,
		})
	}
	if len(entries) == 0 {
		f.Printf("No connections configured (%s).\n", p.ConnectionsFile())
		return nil
	}
	for _, e := range entries {
		def := ""
		if e.IsDefault {
			def = " (default)"
		}
		f.Printf("%s%s\n", e.Reference, def)
		keys := make([]string, 0, len(e.Config))
		for k := range e.Config {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f.Printf("    %-18s %v\n", k, e.Config[k])
		}
		for name, set := range e.EnvVars {
			if !set {
				f.Printf("    ! environment variable %s is not set\n", name)
			}
		}
	}
	return nil
}

// DoctorOptions select which connections 'connections doctor' tests.
type DoctorOptions struct {
	Family       string
	Alias        string
	ConnectionID string
	Timeout      time.Duration
	MCP          bool
}

func newCmdConnectionsDoctor(f *Factory, mcp bool) *cobra.Command {
	opts := &DoctorOptions{MCP: mcp}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Test that connections work",
		Long: "Connect to each selected connection and report ok or a category " +
			"(auth, network, timeout, permission, config) with its latency. Messages are " +
			"fixed phrases: server text, users and hosts are never printed.",
		Example: "osiris connections doctor\nosiris connections doctor --connection-id @mysql.shop",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return connectionsDoctorRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Family, "family", "", "Only this family")
	cmd.Flags().StringVar(&opts.Alias, "alias", "", "Only this alias (with --family)")
	cmd.Flags().StringVar(&opts.ConnectionID, "connection-id", "",
		"Only this connection (@family.alias)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Second, "Time allowed per connection")
	return cmd
}

// doctorEntry is one tested connection.
type doctorEntry struct {
	Status    string   `json:"status"` // success, failure, error, skipped
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	Message   string   `json:"message"`
	Category  string   `json:"category,omitempty"`
}

func connectionsDoctorRun(ctx context.Context, f *Factory, opts *DoctorOptions) error {
	p, file, err := loadConnections(f)
	if err != nil {
		return err
	}
	if opts.ConnectionID != "" {
		ref := opts.ConnectionID
		if !strings.HasPrefix(ref, "@") {
			ref = "@" + ref
		}
		family, alias, err := connections.ParseReference(ref)
		if err != nil {
			return mcpError(ExitUsage, "invalid_reference", err.Error(), "SEMANTIC/SEM002")
		}
		if _, err := file.Find(family, alias); err != nil {
			return mcpError(ExitFailure, "connection_not_found", err.Error(), "DISCOVERY/DISC001")
		}
		opts.Family, opts.Alias = family, alias
	}
	if opts.Alias != "" && opts.Family == "" {
		return UsageError("--alias needs --family")
	}
	if opts.Family != "" {
		if _, err := file.Find(opts.Family, opts.Alias); err != nil {
			return mcpError(ExitFailure, "connection_not_found", err.Error(), "DISCOVERY/DISC001")
		}
	}

	reg, err := registry.Load(p.Root)
	if err != nil {
		return err
	}
	session := newCommandSession(f, p, "connections")
	results := map[string]map[string]doctorEntry{}
	allOK := true
	for _, family := range file.Families {
		if opts.Family != "" && family != opts.Family {
			continue
		}
		for _, a := range file.Aliases[family] {
			if opts.Alias != "" && a.Name != opts.Alias {
				continue
			}
			session.Event("connection_test_start",
				map[string]any{"family": family, "alias": a.Name})
			entry := doctorOne(ctx, p, reg, file, family, a.Name, opts.Timeout)
			if entry.Status != "success" && entry.Status != "skipped" {
				allOK = false
			}
			fields := map[string]any{
				"family": family, "alias": a.Name, "ok": entry.Status == "success",
				"category": entry.Category, "message": entry.Message,
			}
			if entry.LatencyMS != nil {
				fields["latency_ms"] = *entry.LatencyMS
			}
			session.Event("connection_test_result", fields)
			if results[family] == nil {
				results[family] = map[string]doctorEntry{}
			}
			results[family][a.Name] = entry
		}
	}

	doc := map[string]any{"session_id": session.ID, "ok": allOK, "results": results}
	if opts.MCP && opts.Family != "" && opts.Alias != "" {
		entry := results[opts.Family][opts.Alias]
		doc["connection"] = "@" + opts.Family + "." + opts.Alias
		doc["family"], doc["alias"] = opts.Family, opts.Alias
		doc["health"] = "unhealthy"
		if entry.Status == "success" {
			doc["health"] = "healthy"
		}
		return f.Success(doc)
	}
	if f.JSON {
		if !allOK {
			doc["status"] = "error"
			doc["error_type"] = "connection_failed"
			doc["message"] = "one or more connections failed"
			if err := f.PrintJSON(doc); err != nil {
				return err
			}
			return &silentError{code: ExitFailure}
		}
		return f.Success(doc)
	}
	if len(results) == 0 {
		f.Printf("No connections configured (%s).\n", p.ConnectionsFile())
		return nil
	}
	printDoctor(f, file, results)
	if !allOK {
		return &silentError{code: ExitFailure}
	}
	return nil
}

func printDoctor(f *Factory, file *connections.File, results map[string]map[string]doctorEntry) {
	for _, family := range file.Families {
		for _, a := range file.Aliases[family] {
			e, ok := results[family][a.Name]
			if !ok {
				continue
			}
			mark := "ok  "
			switch e.Status {
			case "skipped":
				mark = "skip"
			case "failure", "error":
				mark = "FAIL"
			}
			latency := ""
			if e.LatencyMS != nil {
				latency = fmt.Sprintf(" (%.2f ms)", *e.LatencyMS)
			}
			category := ""
			if e.Category != "" && e.Status != "success" {
				category = " [" + e.Category + "]"
			}
			f.Printf("%s @%s.%s%s%s: %s\n", mark, family, a.Name, category, latency, e.Message)
		}
	}
}

// doctorOne tests one connection with the first driver of its family that can.
func doctorOne(ctx context.Context, p *config.Project, reg *registry.Registry,
	file *connections.File, family, alias string, timeout time.Duration) doctorEntry {
	resolved, _, err := file.Resolve(family, alias)
	if err != nil {
		return doctorEntry{Status: "error", Category: drivers.CategoryConfig, Message: err.Error()}
	}

	switch family {
	case "filesystem":
		return doctorDir(p, resolved)
	case "duckdb":
		return doctorDuckDBPath(p, resolved)
	}

	var doctor drivers.Doctor
	for _, spec := range reg.List() {
		if spec.Family() != family {
			continue
		}
		if factory, ok := drivers.Lookup(spec.Name); ok {
			if d, ok := factory().(drivers.Doctor); ok {
				doctor = d
				break
			}
		}
	}
	if doctor == nil {
		return doctorEntry{Status: "skipped", Category: "unsupported",
			Message: "no connection test available for family " + family}
	}

	testCtx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	res := doctor.Doctor(testCtx, resolved, timeout)
	latency := math.Round(res.LatencyMS*100) / 100
	entry := doctorEntry{LatencyMS: &latency, Message: res.Message, Category: res.Category}
	entry.Status = "success"
	if !res.OK {
		entry.Status = "failure"
	}
	return entry
}

func doctorDir(p *config.Project, conn map[string]any) doctorEntry {
	dir, _ := conn["base_dir"].(string)
	if dir == "" {
		dir = "."
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.Base, dir)
	}
	start := time.Now()
	info, err := os.Stat(dir)
	latency := math.Round(float64(time.Since(start).Microseconds())/10) / 100
	switch {
	case err != nil:
		return doctorEntry{Status: "failure", Category: drivers.CategoryConfig, LatencyMS: &latency,
			Message: "base_dir does not exist"}
	case !info.IsDir():
		return doctorEntry{Status: "failure", Category: drivers.CategoryConfig, LatencyMS: &latency,
			Message: "base_dir is not a directory"}
	}
	return doctorEntry{Status: "success", Category: drivers.CategoryOK, LatencyMS: &latency,
		Message: "Directory is readable"}
}

func doctorDuckDBPath(p *config.Project, conn map[string]any) doctorEntry {
	path, _ := conn["path"].(string)
	if path == "" || path == ":memory:" {
		zero := 0.0
		return doctorEntry{Status: "success", Category: drivers.CategoryOK, LatencyMS: &zero,
			Message: "In-memory database"}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.Base, path)
	}
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".osiris-doctor-*")
	if err != nil {
		return doctorEntry{Status: "failure", Category: drivers.CategoryPermission,
			Message: "Database directory is not writable"}
	}
	probe.Close()
	os.Remove(probe.Name())
	zero := 0.0
	return doctorEntry{Status: "success", Category: drivers.CategoryOK, LatencyMS: &zero,
		Message: "Database path is writable"}
}

// silentError ends a command with an exit code after it already printed its document.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// mcpError is an error document that also carries the MCP error code, for commands the
// shim calls.
func mcpError(exit int, errType, msg, code string) *Error {
	return &Error{Code: exit, Type: errType, Message: msg, Fields: map[string]any{
		"code": code, "path": []string{},
	}}
}
