package filesystem

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// WriterComponent is the component name the CSV writer registers under.
const WriterComponent = "filesystem.csv_writer"

func init() {
	drivers.Register(WriterComponent, func() drivers.Driver { return &CSVWriter{} })
}

// CSVWriter writes its input to one CSV file. Rows go to a temp file beside the target,
// renamed over it only when every row is written, so a failed run never leaves half a
// file under the real name.
type CSVWriter struct{}

type writerOptions struct {
	path       string
	delimiter  byte
	header     bool
	encoding   string
	newline    string
	quoting    string
	createDirs bool
}

func parseWriterOptions(req drivers.Request) (*writerOptions, error) {
	cfg := req.Config
	bad := func(err error) error {
		return drivers.Errorf(req.StepID, drivers.KindConfig, err, "Step %s: %s", req.StepID, err)
	}
	o := &writerOptions{}
	var err error
	if o.path, err = cfgString(cfg, "path", ""); err != nil {
		return nil, bad(err)
	}
	if o.path == "" {
		return nil, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
			"Step %s: 'path' is required", req.StepID)
	}
	if o.delimiter, _, err = cfgSingleByte(cfg, "delimiter", ','); err != nil {
		return nil, bad(err)
	}
	if o.header, err = cfgBool(cfg, "header", true); err != nil {
		return nil, bad(err)
	}
	enc, err := cfgString(cfg, "encoding", "utf-8")
	if err != nil {
		return nil, bad(err)
	}
	if o.encoding, err = normaliseEncoding(enc); err != nil {
		return nil, bad(err)
	}
	newline, err := cfgString(cfg, "newline", "lf")
	if err != nil {
		return nil, bad(err)
	}
	switch newline {
	case "lf":
		o.newline = "\n"
	case "crlf":
		o.newline = "\r\n"
	default:
		return nil, bad(fmt.Errorf("'newline' must be lf or crlf, got %q", newline))
	}
	if o.quoting, err = cfgString(cfg, "quoting", "minimal"); err != nil {
		return nil, bad(err)
	}
	if o.quoting != "minimal" && o.quoting != "all" && o.quoting != "nonnumeric" {
		return nil, bad(fmt.Errorf("'quoting' must be minimal, all or nonnumeric, got %q",
			o.quoting))
	}
	if o.createDirs, err = cfgBool(cfg, "create_dirs", true); err != nil {
		return nil, bad(err)
	}
	return o, nil
}

// pickInput is the writer's input: the one keyed df when present, else the first.
func pickInput(inputs []drivers.Input) (drivers.Input, bool) {
	for _, in := range inputs {
		if in.Key == "df" {
			return in, true
		}
	}
	if len(inputs) == 0 {
		return drivers.Input{}, false
	}
	return inputs[0], true
}

// Run drains the input into the file and reports rows_written.
func (w *CSVWriter) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	opts, err := parseWriterOptions(req)
	if err != nil {
		return drivers.Result{}, err
	}
	in, ok := pickInput(req.Inputs)
	if !ok {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
			"Step %s: the CSV writer needs an upstream step (needs: [...])", req.StepID)
	}
	path := opts.path
	if !filepath.IsAbs(path) && req.Env != nil && req.Env.BasePath() != "" {
		path = filepath.Join(req.Env.BasePath(), path)
	}

	started := time.Now()
	if req.Env != nil {
		req.Env.Event("write.start", map[string]any{"step_id": req.StepID, "path": path})
	}
	rows, err := writeFile(ctx, path, opts, in.Rows)
	if err != nil {
		if req.Env != nil {
			req.Env.Event("write.error", map[string]any{"step_id": req.StepID,
				"error": err.Error()})
		}
		var de *drivers.Error
		if errors.As(err, &de) || errors.Is(err, context.Canceled) ||
			errors.Is(err, context.DeadlineExceeded) {
			return drivers.Result{}, err
		}
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, err,
			"CSV write failed: %s: %v", path, err)
	}

	ms := time.Since(started).Milliseconds()
	if req.Env != nil {
		req.Env.Metric("rows_written", rows, "rows")
		req.Env.Metric("duration_ms", ms, "ms")
		req.Env.Event("write.complete", map[string]any{"step_id": req.StepID, "path": path,
			"rows_written": rows, "duration_ms": ms})
	}
	return drivers.Result{}, nil
}

// writeFile writes every row to a temp file in the target's directory and renames it
// into place. On any failure the temp file is removed and the target is untouched.
func writeFile(ctx context.Context, path string, o *writerOptions, rows drivers.Stream) (
	written int64, err error) {
	dir := filepath.Dir(path)
	if o.createDirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, fmt.Errorf("create directory: %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	buf := bufio.NewWriterSize(tmp, 256*1024)
	cw := &csvLineWriter{out: encodingWriter(buf, o.encoding), opts: o}
	cols := rows.Columns()
	if o.header {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		if err := cw.header(names); err != nil {
			return 0, err
		}
	}
	for {
		batch, err := rows.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return written, err
		}
		for _, row := range batch {
			if err := cw.row(row, cols); err != nil {
				return written, err
			}
			written++
		}
	}

	if err := buf.Flush(); err != nil {
		return written, err
	}
	if err := tmp.Sync(); err != nil {
		return written, err
	}
	if err := tmp.Close(); err != nil {
		return written, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return written, err
	}
	return written, os.Rename(tmp.Name(), path)
}

// csvLineWriter formats records. Minimal quoting quotes a field only when it holds the
// delimiter, a quote, CR or LF; unlike encoding/csv it leaves a leading space alone, so a
// value prints exactly as it was read.
type csvLineWriter struct {
	out  io.Writer
	opts *writerOptions
	line []byte
}

func (cw *csvLineWriter) header(names []string) error {
	cw.line = cw.line[:0]
	for i, n := range names {
		if i > 0 {
			cw.line = append(cw.line, cw.opts.delimiter)
		}
		cw.appendField(n, cw.opts.quoting != "minimal" || cw.needsQuotes(n))
	}
	return cw.flush()
}

func (cw *csvLineWriter) row(row []any, cols []drivers.Column) error {
	cw.line = cw.line[:0]
	for i, v := range row {
		if i > 0 {
			cw.line = append(cw.line, cw.opts.delimiter)
		}
		typ := ""
		if i < len(cols) {
			typ = cols[i].Type
		}
		text, present := formatValue(v, typ)
		if !present {
			if cw.opts.quoting == "all" {
				cw.line = append(cw.line, '"', '"')
			}
			continue
		}
		quote := cw.needsQuotes(text)
		switch cw.opts.quoting {
		case "all":
			quote = true
		case "nonnumeric":
			quote = quote || !isNumericType(typ)
		}
		cw.appendField(text, quote)
	}
	return cw.flush()
}

func (cw *csvLineWriter) flush() error {
	cw.line = append(cw.line, cw.opts.newline...)
	_, err := cw.out.Write(cw.line)
	return err
}

func (cw *csvLineWriter) needsQuotes(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case cw.opts.delimiter, '"', '\r', '\n':
			return true
		}
	}
	return false
}

func (cw *csvLineWriter) appendField(s string, quote bool) {
	if !quote {
		cw.line = append(cw.line, s...)
		return
	}
	cw.line = append(cw.line, '"')
	cw.line = append(cw.line, strings.ReplaceAll(s, `"`, `""`)...)
	cw.line = append(cw.line, '"')
}

func isNumericType(typ string) bool {
	switch typ {
	case drivers.TypeInt, drivers.TypeUint, drivers.TypeFloat, drivers.TypeDecimal:
		return true
	}
	return false
}
