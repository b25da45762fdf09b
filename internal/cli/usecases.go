package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/usecases"
)

func newCmdUsecases(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usecases",
		Short: "Example pipelines to start from",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdUsecasesList(f, false))
	return cmd
}

func newCmdMCPUsecases(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usecases",
		Short: "The use-case catalogue, in the MCP tool shape",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdUsecasesList(f, true))
	return cmd
}

// usecasesListOptions are the flags of 'usecases list'.
type usecasesListOptions struct {
	Category string
	MCP      bool
}

func newCmdUsecasesList(f *Factory, mcp bool) *cobra.Command {
	opts := &usecasesListOptions{MCP: mcp}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the example pipelines, optionally of one category",
		Long: "List the use-case catalogue: each entry has a ready OML pipeline, readable " +
			"as its snippet_uri resource or in the example field of --json.",
		Example: "osiris usecases list\nosiris usecases list --category sync --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return usecasesListRun(f, opts) },
	}
	cmd.Flags().StringVar(&opts.Category, "category", "",
		"Only this category (etl, export, quality, sync, transformation)")
	return cmd
}

func usecasesListRun(f *Factory, opts *usecasesListOptions) error {
	listing, err := usecases.List(opts.Category)
	if err != nil {
		return err
	}
	if f.JSON {
		doc := map[string]any{
			"usecases":        listing.UseCases,
			"by_category":     listing.ByCategory,
			"categories":      listing.Categories,
			"total_count":     listing.TotalCount,
			"category_filter": listing.CategoryFilter,
		}
		if !opts.MCP {
			doc["count"] = listing.TotalCount
		}
		return f.Success(doc)
	}

	if listing.TotalCount == 0 {
		f.Printf("No use cases in category %q. Categories: %s\n", opts.Category,
			strings.Join(listing.Categories, ", "))
		return nil
	}
	for _, uc := range listing.UseCases {
		f.Printf("%-20s %-15s %-13s %s\n", uc.ID, uc.Category, uc.Difficulty, uc.Name)
	}
	f.Printf("\nRead one with: osiris mcp resources read osiris://mcp/usecases/<id>.yaml\n")
	return nil
}

func newCmdGuide(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guide",
		Short: "What to do next to build a pipeline",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdGuideStart(f, false))
	return cmd
}

func newCmdMCPGuide(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "guide",
		Short: "The authoring guide, in the MCP tool shape",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdGuideStart(f, true))
	return cmd
}

// guideStartOptions are the flags of 'guide start'.
type guideStartOptions struct {
	MCP              bool
	Intent           string // text, or "-" for stdin
	ContextFile      string
	KnownConnections []string
	HasDiscovery     bool
	HasPreviousOML   bool
	HasErrorReport   bool
}

// defaultIntent lets a person start the guide without saying more.
const defaultIntent = "Build a data pipeline"

func newCmdGuideStart(f *Factory, mcp bool) *cobra.Command {
	opts := &guideStartOptions{MCP: mcp}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Name the next step towards a working pipeline",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return guideStartRun(f, opts) },
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Intent, "intent", "", "What the pipeline should do, or - to read it from stdin")
	if mcp {
		cmd.Long = "Decide the next authoring step from what the assistant knows. Every " +
			"fact is a flag; nothing is read from the project."
		cmd.Example = "echo 'copy orders to CSV' | osiris mcp guide start --intent - " +
			"--known-connection @mysql.shop --json"
		fl.StringArrayVar(&opts.KnownConnections, "known-connection", nil,
			"A connection the assistant knows of (@family.alias); repeatable")
		fl.BoolVar(&opts.HasDiscovery, "has-discovery", false, "A discovery has been run")
		fl.BoolVar(&opts.HasPreviousOML, "has-previous-oml", false, "An OML draft exists")
		fl.BoolVar(&opts.HasErrorReport, "has-error-report", false, "A run or validation failed")
		return cmd
	}
	cmd.Long = "Look at the project (connections, discovery cache, pipelines and drafts) " +
		"and name the next step, with the commands that take it. A context file (YAML or " +
		"JSON: intent, known_connections, has_discovery, has_previous_oml, " +
		"has_error_report) overrides what is detected."
	cmd.Example = "osiris guide start\nosiris guide start --intent 'orders to CSV' --json"
	fl.StringVar(&opts.ContextFile, "context-file", "", "YAML or JSON file with the session context")
	return cmd
}

func guideStartRun(f *Factory, opts *guideStartOptions) error {
	intent, err := guideIntent(f, opts)
	if err != nil {
		return err
	}
	ctx := usecases.GuideContext{Intent: intent}
	if opts.MCP {
		for _, ref := range opts.KnownConnections {
			if _, _, err := connections.ParseReference(ref); err != nil {
				return ValidationError("invalid_connection_ref", err.Error(),
					map[string]any{"path": []string{"known_connections"}})
			}
		}
		ctx.KnownConnections = opts.KnownConnections
		ctx.HasDiscovery, ctx.HasPreviousOML = opts.HasDiscovery, opts.HasPreviousOML
		ctx.HasErrorReport = opts.HasErrorReport
	} else if err := detectGuideContext(f, opts, &ctx); err != nil {
		return err
	}

	guide, err := usecases.StartGuide(ctx)
	if errors.Is(err, usecases.ErrIntentRequired) {
		return ValidationError("validation_error", "intent is required", map[string]any{
			"code": "SCHEMA/OML020", "path": []string{"intent"},
			"suggest": "Pass what the user wants to build as the intent",
			"details": map[string]any{"next_steps": []usecases.ToolCall{
				{Tool: "connections_list", Params: map[string]any{}}}},
		})
	}
	if err != nil {
		return err
	}

	steps := suggestedSteps(ctx)
	if !f.JSON {
		printGuide(f, guide, steps)
		return nil
	}
	doc := map[string]any{
		"objective":             guide.Objective,
		"next_step":             guide.NextStep,
		"next_steps":            guide.NextSteps,
		"examples":              guide.Examples,
		"context":               guide.Context,
		"recommendations":       guide.Recommendations,
		"references":            guide.References,
		"workflow_instructions": guide.WorkflowInstructions,
	}
	if !opts.MCP {
		doc["mode"] = "guided_authoring"
		doc["context_file"] = nilIfEmpty(opts.ContextFile)
		doc["suggested_steps"] = steps
	}
	return f.Success(doc)
}

func guideIntent(f *Factory, opts *guideStartOptions) (string, error) {
	if opts.Intent != "-" {
		if opts.Intent == "" && !opts.MCP {
			return defaultIntent, nil
		}
		return opts.Intent, nil
	}
	raw, err := io.ReadAll(io.LimitReader(f.IO.In, 1<<20))
	if err != nil {
		return "", FailureError("read_failed", "read intent from stdin: "+err.Error(), nil)
	}
	return strings.TrimSpace(string(raw)), nil
}

// guideContextFile is the optional --context-file of 'guide start'.
type guideContextFile struct {
	Intent           string   `yaml:"intent"`
	KnownConnections []string `yaml:"known_connections"`
	HasDiscovery     *bool    `yaml:"has_discovery"`
	HasPreviousOML   *bool    `yaml:"has_previous_oml"`
	HasErrorReport   *bool    `yaml:"has_error_report"`
}

// detectGuideContext fills ctx from the project, then lets the context file override it.
func detectGuideContext(f *Factory, opts *guideStartOptions, ctx *usecases.GuideContext) error {
	project, err := f.Project()
	if err != nil {
		return err
	}
	conns, err := connections.Load(project.ConnectionsFile())
	if err != nil {
		return ValidationError("config_error", err.Error(), nil)
	}
	for _, family := range conns.Families {
		for _, alias := range conns.Aliases[family] {
			ctx.KnownConnections = append(ctx.KnownConnections, "@"+family+"."+alias.Name)
		}
	}
	ctx.HasDiscovery = hasMatch(filepath.Join(project.DiscoveryCacheDir(), "disc_*"))
	ctx.HasPreviousOML = hasMatch(filepath.Join(project.PipelinesDir(), "*.y*ml")) ||
		hasMatch(filepath.Join(project.DraftsDir(), "*.y*ml"))

	if opts.ContextFile == "" {
		return nil
	}
	raw, err := os.ReadFile(opts.ContextFile)
	if err != nil {
		return ValidationError("invalid_context_file", fmt.Sprintf("read context file %s: %v",
			opts.ContextFile, errors.Unwrap(err)), nil)
	}
	var file guideContextFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		return ValidationError("invalid_context_file", fmt.Sprintf("%s: %s", opts.ContextFile,
			strings.TrimPrefix(err.Error(), "yaml: ")), nil)
	}
	if file.Intent != "" && opts.Intent == "" {
		ctx.Intent = file.Intent
	}
	if file.KnownConnections != nil {
		ctx.KnownConnections = file.KnownConnections
	}
	for dst, src := range map[*bool]*bool{&ctx.HasDiscovery: file.HasDiscovery,
		&ctx.HasPreviousOML: file.HasPreviousOML, &ctx.HasErrorReport: file.HasErrorReport} {
		if src != nil {
			*dst = *src
		}
	}
	return nil
}

func hasMatch(pattern string) bool {
	matches, _ := filepath.Glob(pattern)
	return len(matches) > 0
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// guideStep is one of the five steps of the human guide, with the command that takes it.
type guideStep struct {
	Step        int    `json:"step"`
	Action      string `json:"action"`
	Description string `json:"description"`
	Command     string `json:"command,omitempty"`
}

func suggestedSteps(ctx usecases.GuideContext) []guideStep {
	ref := "@family.alias"
	if len(ctx.KnownConnections) > 0 {
		ref = ctx.KnownConnections[0]
	}
	return []guideStep{
		{1, "discover_schema", "Learn the tables and columns of the source",
			"osiris discovery run " + ref},
		{2, "review_components", "See which components can read, transform and write",
			"osiris components list"},
		{3, "draft_pipeline", "Start from the closest use case and write pipelines/<name>.yaml",
			"osiris usecases list"},
		{4, "validate", "Validate the pipeline and fix what it reports",
			"osiris oml validate pipelines/<name>.yaml"},
		{5, "test_run", "Run it and read the run summary", "osiris run pipelines/<name>.yaml"},
	}
}

func printGuide(f *Factory, g *usecases.Guide, steps []guideStep) {
	f.Printf("Goal: %s\nNext step: %s (%s)\n", g.Objective, g.NextStep, g.NextSteps[0].Tool)
	for _, r := range g.Recommendations {
		f.Printf("  - %s\n", r)
	}
	f.Printf("\nSteps:\n")
	for _, s := range steps {
		f.Printf("  %d. %-18s %s\n     %s\n", s.Step, s.Action, s.Description, s.Command)
	}
}
