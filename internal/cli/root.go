// Package cli holds the osiris command tree: one file per command group, each command an
// options struct, a constructor binding flags to it and a run function taking it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the product version, set at build time with -ldflags.
var Version = "v0.1.0-dev"

// Main runs the osiris command line and returns the process exit code.
func Main(args []string, stdio *IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f := &Factory{IO: stdio, Version: Version, JSON: wantsJSON(args)}
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.ErrOut)

	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil && !errors.As(err, new(*Error)) {
		err = &Error{Code: ExitInterrupted, Type: "interrupted", Message: "interrupted", Err: err}
	}
	return reportError(f, root, err)
}

// wantsJSON looks for --json before Cobra parses, so that even a flag parsing error is
// reported as a JSON document.
func wantsJSON(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

func reportError(f *Factory, root *cobra.Command, err error) int {
	var silent *silentError
	if errors.As(err, &silent) {
		return silent.code
	}
	e := asError(err)
	if isCobraUsageError(err) {
		e = &Error{Code: ExitUsage, Type: "usage_error", Message: err.Error(), Err: err}
	}
	if f.JSON {
		if werr := writeJSON(f.IO.Out, errorDocument(e)); werr != nil {
			fprintf(f.IO.ErrOut, "Error: %s\n", e.Message)
		}
		return e.Code
	}
	fprintf(f.IO.ErrOut, "Error: %s\n", e.Message)
	if e.Type == "usage_error" {
		fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", root.Name())
	}
	return e.Code
}

// isCobraUsageError recognises Cobra's and pflag's own argument errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{
		"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires at most",
		"required flag(s)", "if any flags in the group",
	} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	var notExist *pflag.NotExistError
	return errors.As(err, &notExist)
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "osiris",
		Short: "Build and run data pipelines with an AI assistant in the loop",
		Long: "Osiris discovers what is in your databases, validates and compiles OML " +
			"pipelines into deterministic manifests, and runs them: MySQL, Postgres, " +
			"Supabase, GraphQL and CSV in; SQL transforms in DuckDB; Postgres, MySQL or " +
			"CSV out.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return printVersion(f)
			}
			if f.JSON {
				return &Error{Code: ExitUsage, Type: "no_command",
					Message: "no command given; run 'osiris --help' for the list"}
			}
			return cmd.Help()
		},
	}
	root.PersistentFlags().BoolVar(&f.JSON, "json", f.JSON,
		"Print exactly one JSON document on stdout")
	root.PersistentFlags().BoolVarP(&f.Verbose, "verbose", "v", false, "Log more on stderr")
	root.PersistentFlags().StringVar(&f.ProjectDir, "project", "",
		"Project directory (default: nearest osiris.yaml)")
	root.Flags().BoolVar(&showVersion, "version", false, "Print the version")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &Error{Code: ExitUsage, Type: "usage_error", Message: err.Error(), Err: err}
	})

	root.AddCommand(
		newCmdInit(f),
		newCmdConnections(f),
		newCmdComponents(f),
		newCmdDiscovery(f),
		newCmdOML(f),
		newCmdCompile(f),
		newCmdRun(f),
		newCmdRuns(f),
		newCmdLogs(f),
		newCmdAIOP(f),
		newCmdUsecases(f),
		newCmdGuide(f),
		newCmdMemory(f),
		newCmdValidate(f),
		newCmdMaintenance(f),
		newCmdMCP(f),
		newCmdVersion(f),
		newCmdRemote(f),
	)
	installHelp(f, root)
	return root
}

func printVersion(f *Factory) error {
	if f.JSON {
		return f.PrintJSON(map[string]any{"version": f.Version})
	}
	fprintf(f.IO.Out, "osiris %s\n", f.Version)
	return nil
}

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return printVersion(f) },
	}
}

// exitCodesHelp is the text of 'osiris help exit-codes'.
const exitCodesHelp = `Exit codes

  0    success (for checks: every check passed)
  1    operational failure: a step, a connection, I/O or an internal error
  2    usage or validation error: bad arguments, a missing file, invalid OML,
       an inline secret, an unresolved parameter, a bad connection reference
  130  interrupted (Ctrl-C / SIGINT)

With --json, stdout holds exactly one JSON document whatever the exit code;
failures carry status "error", error_type and message.
`

// installHelp makes --help print a JSON document in --json mode and adds the
// 'exit-codes' help topic.
func installHelp(f *Factory, root *cobra.Command) {
	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		if f.JSON {
			_ = writeJSON(f.IO.Out, helpDocument(cmd))
			return
		}
		cmd.SetOut(f.IO.Out)
		defaultHelp(cmd, args)
	})

	exitCodes := &cobra.Command{
		Use:   "exit-codes",
		Short: "What each exit code means",
		Run: func(cmd *cobra.Command, _ []string) {
			if f.JSON {
				_ = writeJSON(f.IO.Out, map[string]any{
					"status": "success",
					"exit_codes": map[string]string{
						"0":   "success",
						"1":   "operational failure",
						"2":   "usage or validation error",
						"130": "interrupted",
					},
				})
				return
			}
			_, _ = io.WriteString(f.IO.Out, exitCodesHelp)
		},
	}
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.AddCommand(exitCodes)
		}
	}
}

func helpDocument(cmd *cobra.Command) map[string]any {
	options := map[string]string{}
	addFlags := func(fs *pflag.FlagSet) {
		fs.VisitAll(func(fl *pflag.Flag) {
			if fl.Hidden {
				return
			}
			options["--"+fl.Name] = fl.Usage
		})
	}
	addFlags(cmd.NonInheritedFlags())
	addFlags(cmd.InheritedFlags())

	var subcommands []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			subcommands = append(subcommands, c.Name())
		}
	}
	sort.Strings(subcommands)

	examples := []string{}
	for _, line := range strings.Split(cmd.Example, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			examples = append(examples, line)
		}
	}
	description := cmd.Long
	if description == "" {
		description = cmd.Short
	}
	doc := map[string]any{
		"command":     cmd.CommandPath(),
		"description": description,
		"usage":       cmd.UseLine(),
		"options":     options,
		"examples":    examples,
	}
	if len(subcommands) > 0 {
		doc["subcommands"] = subcommands
	}
	return doc
}

func fprintf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}
