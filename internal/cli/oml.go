package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/naming"
	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/registry"
)

// maxOMLBytes caps an OML document read from stdin or disk; real pipelines are a few KiB.
const maxOMLBytes = 16 << 20

// draftIDPattern is the shape of MCP session ids and draft file names: it keeps them
// inside the drafts directory.
var draftIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func newCmdOML(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oml",
		Short: "Validate, describe and save OML pipelines",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdOMLValidate(f), newCmdOMLSchema(f), newCmdOMLSave(f))
	return cmd
}

// OMLValidateOptions are the inputs of 'oml validate'.
type OMLValidateOptions struct {
	Files []string // "-" reads stdin
}

func newCmdOMLValidate(f *Factory) *cobra.Command {
	opts := &OMLValidateOptions{}
	return &cobra.Command{
		Use:   "validate FILE... | -",
		Short: "Check OML files against OML v0.1.0 and the component specs",
		Long: "Check OML files against OML v0.1.0 and the component specs. Every error and " +
			"warning names the file, line, column and field. '-' reads the document from stdin.",
		Example: "osiris oml validate pipelines/orders.yaml\n" +
			"cat pipeline.yaml | osiris oml validate - --json",
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Files = args
			return omlValidateRun(f, opts)
		},
	}
}

// fileReport is the validation of one file.
type fileReport struct {
	File     string      `json:"file"`
	Valid    bool        `json:"valid"`
	Errors   []oml.Issue `json:"errors"`
	Warnings []oml.Issue `json:"warnings"`
}

func omlValidateRun(f *Factory, opts *OMLValidateOptions) error {
	reg, err := loadRegistry(f)
	if err != nil {
		return err
	}
	stdinUsed := false
	var reports []fileReport
	for _, file := range opts.Files {
		if file == "-" {
			if stdinUsed {
				return UsageError("'-' (stdin) may be given only once")
			}
			stdinUsed = true
		}
		reports = append(reports, validateOMLFile(f, reg, file))
	}

	allValid := true
	for _, r := range reports {
		allValid = allValid && r.Valid
	}
	if !f.JSON {
		for _, r := range reports {
			printReport(f, r)
		}
	}

	var doc map[string]any
	if len(reports) == 1 {
		r := reports[0]
		doc = map[string]any{"valid": r.Valid, "file": r.File, "errors": r.Errors,
			"warnings": r.Warnings}
	} else {
		doc = map[string]any{"all_valid": allValid, "files": reports}
	}
	if !allValid {
		msg := fmt.Sprintf("%s is not valid OML", reports[0].File)
		if len(reports) > 1 {
			msg = "some files are not valid OML"
		} else if len(reports[0].Errors) > 0 {
			msg = issueLine(reports[0].File, reports[0].Errors[0])
		}
		return &Error{Code: ExitUsage, Type: "validation_error", Message: msg, Fields: jsonOnly(f, doc)}
	}
	if f.JSON {
		return f.Success(doc)
	}
	return nil
}

// jsonOnly passes error document fields only in JSON mode; in text mode the report was
// already printed.
func jsonOnly(f *Factory, fields map[string]any) map[string]any {
	if !f.JSON {
		return nil
	}
	return fields
}

func issueLine(file string, is oml.Issue) string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", file, is.Line, is.Column, is.Location, is.Message)
}

func printReport(f *Factory, r fileReport) {
	for _, is := range r.Errors {
		f.Printf("%s:%d:%d: error: %s: %s [%s]\n", r.File, is.Line, is.Column, is.Location,
			is.Message, is.Type)
	}
	for _, is := range r.Warnings {
		f.Printf("%s:%d:%d: warning: %s: %s [%s]\n", r.File, is.Line, is.Column, is.Location,
			is.Message, is.Type)
	}
	if r.Valid {
		f.Printf("%s: valid OML (%s)\n", r.File, plural(len(r.Warnings), "warning"))
	} else {
		f.Printf("%s: invalid OML (%s, %s)\n", r.File, plural(len(r.Errors), "error"),
			plural(len(r.Warnings), "warning"))
	}
}

// plural writes "1 error", "2 errors".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func validateOMLFile(f *Factory, reg *registry.Registry, file string) fileReport {
	name := file
	if file == "-" {
		name = "<stdin>"
	}
	src, err := readOML(f, file)
	if err != nil {
		return fileReport{File: name, Errors: []oml.Issue{{
			Type: "file_not_found", Message: err.Error(), Location: "root", Line: 1,
			Column: 1, Severity: oml.SeverityError,
		}}, Warnings: []oml.Issue{}}
	}
	issues := validateSource(name, src, reg)
	return fileReport{File: name, Valid: !oml.HasErrors(issues), Errors: oml.Errors(issues),
		Warnings: oml.Warnings(issues)}
}

// validateSource parses and validates; a parse failure is reported as its issues.
func validateSource(file string, src []byte, reg *registry.Registry) []oml.Issue {
	doc, err := oml.Parse(file, src)
	var verr *oml.ValidationError
	if errors.As(err, &verr) {
		return verr.Issues
	}
	return oml.Validate(doc, reg)
}

// readOML reads a file, or stdin for "-", refusing more than maxOMLBytes.
func readOML(f *Factory, file string) ([]byte, error) {
	var r io.Reader
	if file == "-" {
		r = f.IO.In
	} else {
		fh, err := os.Open(file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: no such file", file)
			}
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		defer fh.Close()
		r = fh
	}
	data, err := io.ReadAll(io.LimitReader(r, maxOMLBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(data) > maxOMLBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB", file, maxOMLBytes>>20)
	}
	return data, nil
}

func newCmdOMLSchema(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (draft-07) of OML v0.1.0",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if !f.JSON {
				_, err := f.IO.Out.Write(append(oml.SchemaJSON(), '\n'))
				return err
			}
			return f.Success(map[string]any{
				"version": oml.Version, "schema": json.RawMessage(oml.SchemaJSON()),
			})
		},
	}
}

// OMLSaveOptions are the inputs of 'oml save'.
type OMLSaveOptions struct {
	Path  string // target file; default <pipelines_dir>/<slug>.yaml
	Force bool   // overwrite an existing file
}

func newCmdOMLSave(f *Factory) *cobra.Command {
	opts := &OMLSaveOptions{}
	cmd := &cobra.Command{
		Use:   "save",
		Short: "Validate OML from stdin and save it into the project",
		Long: "Validate the OML document on stdin and, when it has no errors, write it " +
			"(atomically) to --path or to <pipelines_dir>/<name>.yaml.",
		Example: "osiris oml save --path pipelines/orders.yaml < draft.yaml",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return omlSaveRun(f, opts) },
	}
	cmd.Flags().StringVar(&opts.Path, "path", "", "File to write (default: pipelines_dir/<name>.yaml)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "Overwrite an existing file")
	return cmd
}

func omlSaveRun(f *Factory, opts *OMLSaveOptions) error {
	src, err := readOML(f, "-")
	if err != nil {
		return UsageError("%s", err.Error())
	}
	p, reg, err := loadProjectRegistry(f)
	if err != nil {
		return err
	}
	issues := validateSource("<stdin>", src, reg)
	errs, warns := oml.Errors(issues), oml.Warnings(issues)

	target := opts.Path
	if target == "" {
		if doc, perr := oml.Parse("<stdin>", src); perr == nil {
			if slug := naming.Slugify(doc.Name()); slug != "" {
				target = filepath.Join(p.PipelinesDir(), slug+".yaml")
			}
		}
	}
	if target != "" {
		if abs, err := filepath.Abs(target); err == nil {
			target = abs
		}
	}
	fields := map[string]any{"saved": false, "path": target, "valid": len(errs) == 0,
		"errors": errs, "warnings": warns}

	if len(errs) > 0 {
		printSaveIssues(f, errs, warns)
		return &Error{Code: ExitUsage, Type: "validation_error",
			Message: "not saved: " + issueLine("<stdin>", errs[0]), Fields: fields}
	}
	if target == "" {
		return &Error{Code: ExitUsage, Type: "usage_error",
			Message: "not saved: the document has no usable name; give --path", Fields: fields}
	}
	if _, err := os.Stat(target); err == nil && !opts.Force {
		return &Error{Code: ExitUsage, Type: "file_exists",
			Message: fmt.Sprintf("not saved: %s exists; use --force to overwrite", target),
			Fields:  fields}
	}
	if err := fsutil.WriteFileAtomic(target, src, 0o644); err != nil {
		return &Error{Code: ExitFailure, Type: "write_error",
			Message: fmt.Sprintf("not saved: write %s: %v", target, err), Fields: fields, Err: err}
	}

	fields["saved"] = true
	if !f.JSON {
		printSaveIssues(f, nil, warns)
		f.Printf("Saved %s\n", target)
		return nil
	}
	return f.Success(fields)
}

func printSaveIssues(f *Factory, errs, warns []oml.Issue) {
	if f.JSON {
		return
	}
	for _, is := range errs {
		f.Notef("<stdin>:%d:%d: error: %s: %s\n", is.Line, is.Column, is.Location, is.Message)
	}
	for _, is := range warns {
		f.Notef("<stdin>:%d:%d: warning: %s: %s\n", is.Line, is.Column, is.Location, is.Message)
	}
}

// newCmdMCPOML holds the OML tools of the MCP shim: schema, validate and save, with the
// documents MCP clients expect. Content always comes on stdin.
func newCmdMCPOML(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oml",
		Short: "OML tools for the MCP shim",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "schema",
		Short: "Print the OML schema with its resource URI",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return f.Success(map[string]any{
				"version": oml.Version, "schema": json.RawMessage(oml.SchemaJSON()),
				"schema_uri": oml.SchemaURI,
			})
		},
	}, newCmdMCPOMLValidate(f), newCmdMCPOMLSave(f))
	return cmd
}

// MCPOMLValidateOptions are the inputs of 'mcp oml validate'.
type MCPOMLValidateOptions struct {
	Content  string // must be "-": the document is on stdin
	Pipeline string // or a file in the project
	Strict   bool
}

func newCmdMCPOMLValidate(f *Factory) *cobra.Command {
	opts := &MCPOMLValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate --content - [--strict=BOOL]",
		Short: "Validate OML from stdin and report MCP diagnostics",
		Long: "Validate OML and report diagnostics with line, column and id. An invalid " +
			"document is a normal result (exit 0, valid false). --strict (default true) " +
			"also treats an unknown component as an error, as compile does.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return mcpOMLValidateRun(f, opts) },
	}
	cmd.Flags().StringVar(&opts.Content, "content", "", "'-' reads the OML document from stdin")
	cmd.Flags().StringVar(&opts.Pipeline, "pipeline", "", "Validate this OML file instead")
	cmd.Flags().BoolVar(&opts.Strict, "strict", true, "Report what compile would refuse")
	return cmd
}

// diagnostic is one MCP validation finding.
type diagnostic struct {
	Type     string `json:"type"` // error | warning | info
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Message  string `json:"message"`
	ID       string `json:"id"`
	Location string `json:"location"`
	Rule     string `json:"rule"`
}

func mcpOMLValidateRun(f *Factory, opts *MCPOMLValidateOptions) error {
	source, err := mcpContentSource(opts.Content, opts.Pipeline)
	if err != nil {
		return err
	}
	src, err := readOML(f, source)
	if err != nil {
		return UsageError("%s", err.Error())
	}
	reg, err := loadRegistry(f)
	if err != nil {
		return err
	}
	name := "<stdin>"
	if source != "-" {
		name = source
	}
	issues := validateSource(name, src, reg)

	diagnostics := []diagnostic{}
	counts := map[string]int{"error": 0, "warning": 0, "info": 0}
	summary := func() map[string]int {
		return map[string]int{"errors": counts["error"], "warnings": counts["warning"],
			"info": counts["info"]}
	}
	codes := map[string]string{"error": "OML001", "warning": "OML002", "info": "OML003"}
	for i, is := range issues {
		severity := is.Severity
		if opts.Strict && is.Type == "unknown_component" {
			severity = oml.SeverityError
		}
		counts[severity]++
		diagnostics = append(diagnostics, diagnostic{
			Type: severity, Line: is.Line, Column: is.Column, Message: is.Message,
			ID: fmt.Sprintf("%s_%d_%d", codes[severity], is.Line, i), Location: is.Location,
			Rule: is.Type,
		})
	}
	return f.Success(map[string]any{
		"valid": counts["error"] == 0, "diagnostics": diagnostics, "summary": summary(),
	})
}

// mcpContentSource picks stdin (--content -) or a file (--pipeline); OML text is never
// accepted on the command line, where every local user can read it.
func mcpContentSource(content, pipeline string) (string, error) {
	switch {
	case content != "" && pipeline != "":
		return "", UsageError("give --content - or --pipeline FILE, not both")
	case content == "-":
		return "-", nil
	case content != "":
		return "", UsageError("--content takes '-' and the document on stdin")
	case pipeline != "":
		return pipeline, nil
	}
	return "", UsageError("give --content - (document on stdin) or --pipeline FILE")
}

// MCPOMLSaveOptions are the inputs of 'mcp oml save'.
type MCPOMLSaveOptions struct {
	SessionID string
	Filename  string
	Content   string
}

func newCmdMCPOMLSave(f *Factory) *cobra.Command {
	opts := &MCPOMLSaveOptions{}
	cmd := &cobra.Command{
		Use:   "save --session-id S [--filename F] --content -",
		Short: "Save an OML draft from stdin for an assistant session",
		Long: "Save the OML document on stdin as a draft under the MCP drafts directory " +
			"(atomically, overwriting a draft of the same name). The default file name is " +
			"<session_id>_<YYYYMMDD_HHMMSS>.yaml (UTC).",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return mcpOMLSaveRun(f, opts, time.Now()) },
	}
	cmd.Flags().StringVar(&opts.SessionID, "session-id", "", "Assistant session id (required)")
	cmd.Flags().StringVar(&opts.Filename, "filename", "", "Draft file name")
	cmd.Flags().StringVar(&opts.Content, "content", "", "'-' reads the OML document from stdin")
	return cmd
}

func mcpOMLSaveRun(f *Factory, opts *MCPOMLSaveOptions, now time.Time) error {
	if !draftIDPattern.MatchString(opts.SessionID) {
		return UsageError("--session-id must match %s", draftIDPattern)
	}
	filename := opts.Filename
	if filename == "" {
		filename = opts.SessionID + "_" + now.UTC().Format("20060102_150405") + ".yaml"
	}
	if !draftIDPattern.MatchString(filename) || filename == "." || filename == ".." {
		return UsageError("--filename must match %s", draftIDPattern)
	}
	if opts.Content != "-" {
		return UsageError("--content takes '-' and the document on stdin")
	}
	src, err := readOML(f, "-")
	if err != nil {
		return UsageError("%s", err.Error())
	}
	if len(strings.TrimSpace(string(src))) == 0 {
		return UsageError("the OML document on stdin is empty")
	}
	p, reg, err := loadProjectRegistry(f)
	if err != nil {
		return err
	}

	path := filepath.Join(p.DraftsDir(), filename)
	if err := fsutil.WriteFileAtomic(path, src, 0o644); err != nil {
		return FailureError("write_error", fmt.Sprintf("save draft %s: %v", filename, err), nil)
	}
	return f.Success(map[string]any{
		"saved": true, "uri": "osiris://mcp/drafts/oml/" + filename, "filename": filename,
		"session_id": opts.SessionID, "timestamp": now.UTC().Format(time.RFC3339),
		"path": path, "valid": !oml.HasErrors(validateSource(filename, src, reg)),
	})
}
