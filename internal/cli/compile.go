package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/compile"
	"github.com/osirisgo/osiris/internal/oml"
)

// CompileOptions are the inputs of 'compile'.
type CompileOptions struct {
	File    string
	Profile string
	Params  []string // k=v
	Mode    string   // auto | force | never
}

func newCmdCompile(f *Factory) *cobra.Command {
	opts := &CompileOptions{}
	cmd := &cobra.Command{
		Use:   "compile FILE",
		Short: "Compile an OML pipeline into a deterministic manifest",
		Long: "Validate an OML pipeline, resolve its profile and params and write " +
			"manifest.yaml, cfg/<step>.json, plan.json and fingerprints.json under " +
			"build/pipelines/. The same inputs give the same bytes and the same hash; a " +
			"matching earlier build is reused unless --compile force.",
		Example: "osiris compile pipelines/orders.yaml\n" +
			"osiris compile pipelines/orders.yaml -p prod --param since=2024-01-01 --json",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			return compileRun(cmd, f, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Profile, "profile", "p", "", "Profile (default: OSIRIS_PROFILE or profiles.default)")
	cmd.Flags().StringArrayVar(&opts.Params, "param", nil, "Param value name=value (repeatable)")
	cmd.Flags().StringVar(&opts.Mode, "compile", compile.ModeAuto, "Cache use: auto, force or never")
	return cmd
}

// parseParams reads repeated --param name=value flags.
func parseParams(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, UsageError("--param %q: want name=value", kv)
		}
		out[strings.TrimSpace(name)] = value
	}
	return out, nil
}

func compileRun(cmd *cobra.Command, f *Factory, opts *CompileOptions) error {
	switch opts.Mode {
	case compile.ModeAuto, compile.ModeForce, compile.ModeNever:
	default:
		return UsageError("--compile must be auto, force or never, got %q", opts.Mode)
	}
	params, err := parseParams(opts.Params)
	if err != nil {
		return err
	}
	p, reg, err := loadProjectRegistry(f)
	if err != nil {
		return err
	}
	var src []byte
	if opts.File == "-" {
		if src, err = readOML(f, "-"); err != nil {
			return UsageError("%s", err.Error())
		}
	}

	res, err := compile.Compile(cmd.Context(), compile.Options{
		Project: p, Registry: reg, File: opts.File, Source: src, Profile: opts.Profile,
		Params: params, Mode: opts.Mode,
	})
	if err != nil {
		return compileError(f, err)
	}

	message := fmt.Sprintf("Compiled %s (profile %q)", res.PipelineSlug, res.Profile)
	if res.CacheHit {
		message = fmt.Sprintf("Reused the build of %s (profile %q): inputs unchanged",
			res.PipelineSlug, res.Profile)
	}
	warnings := res.Warnings
	if warnings == nil {
		warnings = []oml.Issue{}
	}
	if !f.JSON {
		for _, w := range warnings {
			f.Notef("%s:%d:%d: warning: %s: %s\n", opts.File, w.Line, w.Column, w.Location,
				w.Message)
		}
		f.Printf("%s\n  manifest: %s\n  hash:     %s\n", message, res.ManifestPath,
			res.ManifestHash)
		return nil
	}
	return f.Success(map[string]any{
		"message": message, "manifest_path": res.ManifestPath,
		"manifest_hash": res.ManifestHash, "manifest_short": res.ManifestShort,
		"pipeline_slug": res.PipelineSlug, "profile": res.Profile, "cache_hit": res.CacheHit,
		"warnings": warnings,
	})
}

// compileError maps the compiler's failures to exit codes and JSON error documents:
// invalid input (validation, inline secret, params, unknown component) is exit 2.
func compileError(f *Factory, err error) error {
	var verr *oml.ValidationError
	if errors.As(err, &verr) {
		printIssues(f, verr.File, verr.Issues)
		return &Error{Code: ExitUsage, Type: "validation_error", Message: verr.Error(),
			Fields: map[string]any{"errors": oml.Errors(verr.Issues),
				"warnings": oml.Warnings(verr.Issues)}, Err: err}
	}
	var cerr *compile.Error
	if errors.As(err, &cerr) {
		issues := cerr.Issues
		if issues == nil {
			issues = []oml.Issue{}
		}
		code := ExitUsage
		return &Error{Code: code, Type: cerr.Type, Message: cerr.Msg,
			Fields: map[string]any{"errors": oml.Errors(issues)}, Err: err}
	}
	return err
}

func printIssues(f *Factory, file string, issues []oml.Issue) {
	if f.JSON {
		return
	}
	for _, is := range issues {
		f.Notef("%s:%d:%d: %s: %s: %s\n", file, is.Line, is.Column, is.Severity, is.Location,
			is.Message)
	}
}
