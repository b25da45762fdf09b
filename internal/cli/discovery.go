package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/discovery"
	"github.com/osirisgo/osiris/internal/registry"

	// Every driver family, so each one's discovery is served.
	_ "github.com/osirisgo/osiris/internal/drivers/all"
)

// Limits of a discovery request.
const (
	maxDiscoverySamples   = 1000
	maxIdempotencyKeyLen  = 256
	mcpDefaultSampleCount = 0
)

// DiscoveryOptions are the flags of 'osiris discovery run' and 'osiris mcp discovery run'.
type DiscoveryOptions struct {
	Ref            string // positional REF
	ConnectionID   string // --connection-id, the same thing as a flag
	Component      string
	Samples        int
	SamplesSet     bool
	IdempotencyKey string
	Refresh        bool
	MCP            bool
}

func newCmdDiscovery(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Discover the tables, columns and sample rows a connection holds",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdDiscoveryRun(f, false))
	return cmd
}

func newCmdMCPDiscovery(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Discovery, in the MCP tool shape",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdDiscoveryRun(f, true))
	return cmd
}

func newCmdDiscoveryRun(f *Factory, mcp bool) *cobra.Command {
	opts := &DiscoveryOptions{MCP: mcp}
	defaultSamples := 10
	if mcp {
		defaultSamples = mcpDefaultSampleCount
	}
	cmd := &cobra.Command{
		Use:   "run [@family.alias]",
		Short: "Discover a connection, answering from the cache while it is fresh",
		Long: "List the tables (or CSV files) of a connection with their columns, row " +
			"counts and up to --samples rows each. The answer is kept in the project's " +
			"discovery cache for OSIRIS_MCP_CACHE_TTL_HOURS (24) hours; every later request " +
			"for the same connection, component and sample count is served from it, with " +
			"\"cached\": true, until it expires or --refresh asks for a new one.",
		Example: "osiris discovery run @mysql.shop\n" +
			"osiris discovery run @filesystem.local --samples 5 --json\n" +
			"osiris discovery run @duckdb.warehouse --component duckdb.extractor --refresh",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Ref = args[0]
			}
			opts.SamplesSet = cmd.Flags().Changed("samples")
			return discoveryRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.ConnectionID, "connection-id", "",
		"Connection to discover (@family.alias), instead of the argument")
	cmd.Flags().StringVar(&opts.Component, "component", "",
		"Component that discovers (default <family>.extractor, filesystem.csv_extractor)")
	cmd.Flags().IntVar(&opts.Samples, "samples", defaultSamples,
		fmt.Sprintf("Sample rows per table (0-%d)", maxDiscoverySamples))
	cmd.Flags().StringVar(&opts.IdempotencyKey, "idempotency-key", "",
		"Caller's request key; reported back in cache.cache_key")
	cmd.Flags().BoolVar(&opts.Refresh, "refresh", false,
		"Discover again even if the cache holds a fresh answer")
	return cmd
}

// discoveryRun is the one implementation behind both discovery commands.
func discoveryRun(ctx context.Context, f *Factory, opts *DiscoveryOptions) error {
	req, p, err := discoveryRequest(f, opts)
	if err != nil {
		return err
	}
	session := newCommandSession(f, p, "discovery")
	req.SessionID = session.ID
	session.Event("discovery.start", map[string]any{
		"connection_id": req.ConnectionID, "component": req.Component, "samples": req.Samples,
		"refresh": req.Refresh,
	})

	service := &discovery.Service{Cache: discoveryCache(f, p), Logger: f.Logger()}
	res, err := service.Run(ctx, req)
	if err != nil {
		session.Event("discovery.error", map[string]any{"connection_id": req.ConnectionID,
			"error": err.Error()})
		return discoveryError(err, req.ConnectionID)
	}
	session.Event("discovery.complete", map[string]any{
		"discovery_id": res.DiscoveryID, "cached": res.Cached, "tables_found": res.TablesFound,
		"duration_ms": res.DurationMS,
	})

	if f.JSON {
		return f.PrintJSON(res)
	}
	printDiscovery(f, p, res)
	return nil
}

// discoveryRequest checks the flags, resolves the connection and picks the component.
func discoveryRequest(f *Factory, opts *DiscoveryOptions) (discovery.Request, *config.Project,
	error) {
	var req discovery.Request
	ref := opts.Ref
	switch {
	case ref != "" && opts.ConnectionID != "" && ref != opts.ConnectionID:
		return req, nil, UsageError("give the connection once: as the argument or as " +
			"--connection-id, not both")
	case ref == "":
		ref = opts.ConnectionID
	}
	if ref == "" {
		return req, nil, UsageError("a connection is required: osiris discovery run " +
			"@family.alias")
	}
	family, alias, err := connections.ParseReference(ref)
	if err != nil {
		return req, nil, mcpError(ExitUsage, "invalid_reference", err.Error(), "SEMANTIC/SEM002")
	}
	if opts.IdempotencyKey != "" && len(opts.IdempotencyKey) > maxIdempotencyKeyLen {
		return req, nil, ValidationError("invalid_idempotency_key", fmt.Sprintf(
			"--idempotency-key is longer than %d characters", maxIdempotencyKeyLen), nil)
	}

	p, file, err := loadConnections(f)
	if err != nil {
		return req, nil, err
	}
	samples := opts.Samples
	if !opts.MCP && !opts.SamplesSet {
		samples = p.File.Discovery.SampleSize
	}
	if samples < 0 || samples > maxDiscoverySamples {
		return req, nil, ValidationError("invalid_samples", fmt.Sprintf(
			"--samples must be between 0 and %d, got %d", maxDiscoverySamples, samples), nil)
	}

	resolved, _, err := file.Resolve(family, alias)
	if err != nil {
		return req, nil, connectionError(err)
	}
	component, err := discoveryComponent(p, family, opts.Component)
	if err != nil {
		return req, nil, err
	}

	req = discovery.Request{
		ConnectionID:   "@" + family + "." + alias,
		Family:         family,
		Alias:          alias,
		Component:      component,
		Samples:        samples,
		IdempotencyKey: opts.IdempotencyKey,
		Refresh:        opts.Refresh,
		Connection:     resolved,
		BasePath:       p.Base,
		Timeout:        time.Duration(p.File.Discovery.TimeoutSeconds) * time.Second,
	}
	return req, p, nil
}

// discoveryComponent applies the default component of a family and checks that the
// component belongs to the family and can discover.
func discoveryComponent(p *config.Project, family, requested string) (string, error) {
	component := requested
	if component == "" {
		component = family + ".extractor"
		if family == "filesystem" {
			component = "filesystem.csv_extractor"
		}
	}
	reg, err := registry.Load(p.Root)
	if err != nil {
		return "", err
	}
	spec, ok := reg.Get(component)
	if !ok {
		return "", mcpError(ExitUsage, "invalid_component", fmt.Sprintf(
			"unknown component %s", component), "SEMANTIC/SEM003")
	}
	if spec.Family() != family {
		return "", mcpError(ExitUsage, "invalid_component", fmt.Sprintf(
			"component %s does not belong to family %s", component, family), "SEMANTIC/SEM003")
	}
	if !spec.HasMode("discover") {
		return "", mcpError(ExitUsage, "invalid_component", fmt.Sprintf(
			"component %s cannot discover (modes: %s)", component,
			strings.Join(spec.Modes, ", ")), "SEMANTIC/SEM003")
	}
	return component, nil
}

// connectionError maps a connections failure to its exit code: a malformed reference or
// file is a usage error, a missing connection or variable an operational one.
func connectionError(err error) error {
	var connErr *connections.Error
	if !errors.As(err, &connErr) {
		return err
	}
	switch connErr.Kind {
	case connections.KindInvalidReference:
		return mcpError(ExitUsage, "invalid_reference", connErr.Msg, "SEMANTIC/SEM002")
	case connections.KindConfig:
		return mcpError(ExitUsage, "config_error", connErr.Msg, "SCHEMA/OML004")
	case connections.KindMissingEnv:
		return mcpError(ExitFailure, "missing_env", connErr.Msg,
			"SEMANTIC/E_CONN_SECRET_MISSING")
	}
	return mcpError(ExitFailure, "connection_not_found", connErr.Msg, "DISCOVERY/DISC001")
}

// discoveryError maps a failed discovery to exit 1 with an MCP error code.
func discoveryError(err error, connectionID string) error {
	var discErr *discovery.Error
	if !errors.As(err, &discErr) {
		return err
	}
	e := mcpError(ExitFailure, "discovery_failed", discErr.Msg, "DISCOVERY/DISC002")
	switch discErr.Kind {
	case discovery.KindUnsupported:
		e = mcpError(ExitFailure, "unsupported_family", discErr.Msg, "DISCOVERY/DISC005")
	case discovery.KindCache:
		e = mcpError(ExitFailure, "cache_error", discErr.Msg, "DISCOVERY/DISC002")
	}
	e.Fields["connection_id"] = connectionID
	e.Err = err
	return e
}

func discoveryCache(f *Factory, p *config.Project) *discovery.Cache {
	logger := f.Logger()
	return discovery.NewCache(p.DiscoveryCacheDir(), discovery.TTLFromEnv(logger), logger)
}

// printDiscovery is the human summary of a discovery.
func printDiscovery(f *Factory, p *config.Project, res *discovery.Result) {
	var tables []struct {
		Name     string `json:"name"`
		RowCount *int64 `json:"row_count"`
		Columns  []any  `json:"columns"`
		Samples  []any  `json:"sample_data"`
	}
	if raw, err := json.Marshal(res.Tables); err == nil {
		_ = json.Unmarshal(raw, &tables)
	}
	source := "discovered"
	if res.Cached {
		source = "from cache, expires " + res.Cache.ExpiresAt.Format(time.RFC3339)
	}
	f.Printf("%s with %s: %d tables (%s)\n", res.ConnectionID, res.Component,
		res.TablesFound, source)
	for _, t := range tables {
		rows := "unknown"
		if t.RowCount != nil {
			rows = fmt.Sprint(*t.RowCount)
		}
		f.Printf("  %-40s %10s rows  %3d columns  %d samples\n", t.Name, rows,
			len(t.Columns), len(t.Samples))
	}
	for _, w := range res.Warnings {
		f.Printf("warning: %s\n", w)
	}
	f.Printf("discovery_id %s; artifacts in %s\n", res.DiscoveryID,
		discoveryCache(f, p).ArtifactDir(res.DiscoveryID))
}

func newCmdMCPCache(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect and empty the discovery cache",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}

	stats := &cobra.Command{
		Use:   "stats",
		Short: "Count cached discoveries and their size on disk",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := f.Project()
			if err != nil {
				return err
			}
			st, err := discoveryCache(f, p).Stats()
			if err != nil {
				return FailureError("cache_error", err.Error(), nil)
			}
			if !f.JSON {
				f.Printf("%d fresh, %d expired, %d unreadable entries; %d bytes in %s\n",
					st.ValidEntries, st.ExpiredEntries, st.CorruptEntries, st.DiskSizeBytes,
					st.CacheDirectory)
				return nil
			}
			return f.Success(map[string]any{
				"memory_entries": st.MemoryEntries, "valid_entries": st.ValidEntries,
				"expired_entries": st.ExpiredEntries, "corrupt_entries": st.CorruptEntries,
				"disk_files": st.DiskFiles, "disk_size_bytes": st.DiskSizeBytes,
				"cache_directory": st.CacheDirectory,
			})
		},
	}

	var expiredOnly bool
	clear := &cobra.Command{
		Use:   "clear",
		Short: "Remove cached discoveries and their artifacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.Project()
			if err != nil {
				return err
			}
			removed, err := discoveryCache(f, p).Clear(cmd.Context(), expiredOnly)
			if err != nil {
				return FailureError("cache_error", err.Error(), map[string]any{"removed": removed})
			}
			if !f.JSON {
				f.Printf("removed %d cached discoveries\n", removed)
				return nil
			}
			return f.Success(map[string]any{"removed": removed, "expired_only": expiredOnly})
		},
	}
	clear.Flags().BoolVar(&expiredOnly, "expired-only", false,
		"Only remove entries that can no longer be served (expired or unreadable)")

	var connection string
	invalidate := &cobra.Command{
		Use:   "invalidate",
		Short: "Remove every cached discovery of one connection",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			family, alias, err := connections.ParseReference(connection)
			if err != nil {
				return mcpError(ExitUsage, "invalid_reference", err.Error(), "SEMANTIC/SEM002")
			}
			p, err := f.Project()
			if err != nil {
				return err
			}
			ref := "@" + family + "." + alias
			removed, err := discoveryCache(f, p).Invalidate(cmd.Context(), ref)
			if err != nil {
				return FailureError("cache_error", err.Error(),
					map[string]any{"invalidated": removed})
			}
			if !f.JSON {
				f.Printf("invalidated %d cached discoveries of %s\n", removed, ref)
				return nil
			}
			return f.Success(map[string]any{"invalidated": removed, "connection_id": ref})
		},
	}
	invalidate.Flags().StringVar(&connection, "connection", "",
		"Connection whose discoveries to drop (@family.alias)")
	_ = invalidate.MarkFlagRequired("connection")

	cmd.AddCommand(stats, clear, invalidate)
	return cmd
}
