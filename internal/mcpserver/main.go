package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/spf13/pflag"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/telemetry"
)

// usageError reports a bad command line on stderr with the usage and gives exit code 2.
func usageError(flags *pflag.FlagSet, stderr io.Writer, message string) int {
	fmt.Fprintf(stderr, "osiris-mcp: %s\n", message)
	flags.Usage()
	return 2
}

// Main runs osiris-mcp and returns its exit code: the stdio server by default, or the
// self-test with --selftest. stdout carries only the protocol; logs go to stderr.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, version string) int {
	flags := pflag.NewFlagSet("osiris-mcp", pflag.ContinueOnError)
	flags.SetOutput(stderr)
	debugLog := flags.Bool("debug", false, "Log every call on stderr")
	selftest := flags.Bool("selftest", false, "Start a server, check it, print PASS/FAIL and exit")
	basePath := flags.String("base-path", "", "Project directory (default: $OSIRIS_HOME, "+
		"nearest osiris.yaml, working directory)")
	jsonOut := flags.Bool("json", false, "With --selftest: print one JSON document")
	showVersion := flags.Bool("version", false, "Print the version and exit")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: osiris-mcp [--base-path DIR] [--debug] [--selftest [--json]] "+
			"[--version]\n\nThe Osiris MCP server on stdio.\n\n%s", flags.FlagUsages())
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return usageError(flags, stderr, err.Error())
	}
	if extra := flags.Args(); len(extra) > 0 {
		quoted := make([]string, len(extra))
		for i, arg := range extra {
			quoted[i] = strconv.Quote(arg)
		}
		noun := "argument"
		if len(extra) > 1 {
			noun = "arguments"
		}
		return usageError(flags, stderr, "unexpected "+noun+" "+strings.Join(quoted, " ")+
			" (osiris-mcp takes only flags)")
	}

	level := slog.LevelWarn
	if *debugLog {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if *showVersion {
		fmt.Fprintf(stdout, "osiris-mcp %s\n", version)
		return 0
	}
	if *selftest {
		return Selftest(SelftestOptions{
			BasePath: *basePath, Debug: *debugLog, JSON: *jsonOut, Stdout: stdout, Stderr: stderr,
		})
	}

	project, err := config.Resolve(*basePath)
	if err != nil {
		logger.Error("cannot start: " + bridge.RedactMessage(err.Error()))
		return 2
	}
	settings := LoadSettings(os.LookupEnv)
	for _, warning := range settings.Warnings {
		logger.Warn(warning)
	}

	shimPath, _ := os.Executable()
	cliPath, err := bridge.FindCLI(settings.CLI, shimPath)
	if err != nil {
		logger.Warn("the osiris CLI was not found; every tool call will fail until it is " +
			"installed next to osiris-mcp, on PATH, or named by OSIRIS_CLI")
	}

	instance := NewInstanceID()
	emitter := telemetry.Init(telemetry.Config{
		Enabled: settings.TelemetryEnabled, Dir: project.TelemetryDir(),
		SessionID: "tel_" + instance, Logger: logger,
	})
	srv := New(Options{
		Version: version,
		Runner: &bridge.Bridge{
			CLIPath: cliPath, ProjectDir: project.Root, OutputLimit: settings.PayloadLimit(),
		},
		Settings:  settings,
		Audit:     audit.NewEventLogger(project.AuditDir(), "mcp_"+instance, logger),
		Telemetry: emitter,
		Logger:    logger,
	})
	logger.Debug("osiris-mcp starting", "project", project.Root, "cli", cliPath,
		"audit", project.AuditDir())
	emitter.ServerStart(version, mcp.LATEST_PROTOCOL_VERSION)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Limitation: when the client closes stdin with calls still running, mcp-go cancels
	// them; their children are stopped and their replies are not sent.
	stdio := server.NewStdioServer(srv.MCP())
	stdio.SetErrorLogger(log.New(stderr, "osiris-mcp: ", log.LstdFlags))
	err = stdio.Listen(ctx, stdin, stdout)

	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("server stopped", "error", bridge.RedactMessage(err.Error()))
		emitter.ServerStop("error")
		return 1
	}
	emitter.ServerStop("shutdown")
	return 0
}
