package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/mattn/go-isatty"

	"github.com/osirisgo/osiris/internal/config"
)

// IO owns the process streams: data on Out, everything else on ErrOut.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// ErrIsTerminal enables progress lines and colour on stderr.
	ErrIsTerminal bool
	// OutIsTerminal enables tables on stdout.
	OutIsTerminal bool
}

// SystemIO returns the real process streams.
func SystemIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		ErrIsTerminal: isatty.IsTerminal(os.Stderr.Fd()),
		OutIsTerminal: isatty.IsTerminal(os.Stdout.Fd()),
	}
}

// Factory carries the global flags and builds shared dependencies lazily, so a command
// that needs no project never reads one.
type Factory struct {
	IO         *IO
	JSON       bool
	Verbose    bool
	ProjectDir string
	Version    string

	projectOnce sync.Once
	project     *config.Project
	projectErr  error
	logger      *slog.Logger
}

// Project resolves the project root and osiris.yaml once per process.
func (f *Factory) Project() (*config.Project, error) {
	f.projectOnce.Do(func() {
		f.project, f.projectErr = config.Resolve(f.ProjectDir)
	})
	return f.project, f.projectErr
}

// Logger writes to stderr: warnings and errors always, info with -v, debug with -v and
// OSIRIS_LOG_LEVEL=DEBUG. It never writes to stdout.
func (f *Factory) Logger() *slog.Logger {
	if f.logger != nil {
		return f.logger
	}
	level := slog.LevelWarn
	if f.Verbose {
		level = slog.LevelInfo
		if os.Getenv("OSIRIS_LOG_LEVEL") == "DEBUG" {
			level = slog.LevelDebug
		}
	}
	f.logger = slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	return f.logger
}

// PrintJSON writes one JSON document to stdout: two-space indent, no HTML escaping.
func (f *Factory) PrintJSON(v any) error {
	return writeJSON(f.IO.Out, v)
}

// Success prints fields plus status "success" as the command's JSON document.
func (f *Factory) Success(fields map[string]any) error {
	fields["status"] = "success"
	return f.PrintJSON(fields)
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Printf writes human output to stdout (never in --json mode).
func (f *Factory) Printf(format string, args ...any) {
	if f.JSON {
		return
	}
	fprintf(f.IO.Out, format, args...)
}

// Notef writes a hint or progress line to stderr.
func (f *Factory) Notef(format string, args ...any) {
	fprintf(f.IO.ErrOut, format, args...)
}
