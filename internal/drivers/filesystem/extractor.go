// Package filesystem holds the CSV drivers: filesystem.csv_extractor streams a file as
// typed row batches, filesystem.csv_writer writes rows to a file through a temp name.
// Neither needs a server, which is what lets the demo run anywhere.
package filesystem

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ExtractorComponent is the component name the CSV extractor registers under.
const ExtractorComponent = "filesystem.csv_extractor"

func init() {
	drivers.Register(ExtractorComponent, func() drivers.Driver { return &CSVExtractor{} })
}

// CSVExtractor reads one CSV file per step. It infers column types from a sample of
// leading rows, then streams the whole file in batches without holding it in memory.
type CSVExtractor struct{}

// extractorOptions is the step config, checked once before the file is opened.
type extractorOptions struct {
	path           string
	delimiter      byte
	quote          byte
	comment        byte
	encoding       string
	header         bool
	headerRow      int64
	skipRows       int64
	limit          int64 // -1 = no limit
	columns        []string
	dtype          map[string]string
	nulls          map[string]bool // every null marker: numeric, bool and date columns
	textNulls      map[string]bool // "" and na_values only: string columns
	chunkSize      int
	inferRows      int64
	skipBlankLines bool
	onBadLines     string
	parseDates     bool
	parseDateCols  map[string]bool
	gzip           bool
}

func parseExtractorOptions(req drivers.Request) (*extractorOptions, error) {
	cfg := req.Config
	o := &extractorOptions{header: true, limit: -1, nulls: map[string]bool{},
		textNulls: map[string]bool{"": true}}
	bad := func(err error) error {
		return drivers.Errorf(req.StepID, drivers.KindConfig, err, "Step %s: %s", req.StepID, err)
	}

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
	if o.quote, _, err = cfgSingleByte(cfg, "quote", '"'); err != nil {
		return nil, bad(err)
	}
	if o.comment, _, err = cfgSingleByte(cfg, "comment", 0); err != nil {
		return nil, bad(err)
	}
	enc, err := cfgString(cfg, "encoding", "utf-8")
	if err != nil {
		return nil, bad(err)
	}
	if o.encoding, err = normaliseEncoding(enc); err != nil {
		return nil, bad(err)
	}

	switch h := cfg["header"].(type) {
	case nil:
	case bool:
		o.header = h
	default:
		n, ok := asInt(h)
		if !ok || n < 0 {
			return nil, bad(errors.New("'header' must be true, false or a row number"))
		}
		o.headerRow = n
	}

	if o.skipRows, err = cfgInt(cfg, "skip_rows", 0); err != nil {
		return nil, bad(err)
	}
	if o.limit, err = cfgInt(cfg, "limit", -1); err != nil {
		return nil, bad(err)
	}
	chunk, err := cfgInt(cfg, "chunk_size", drivers.DefaultBatchSize)
	if err != nil || chunk < 1 {
		return nil, bad(errors.New("'chunk_size' must be a positive integer"))
	}
	o.chunkSize = int(chunk)
	if o.inferRows, err = cfgInt(cfg, "infer_rows", 1000); err != nil {
		return nil, bad(err)
	}
	if o.skipBlankLines, err = cfgBool(cfg, "skip_blank_lines", true); err != nil {
		return nil, bad(err)
	}
	if o.onBadLines, err = cfgString(cfg, "on_bad_lines", "error"); err != nil {
		return nil, bad(err)
	}
	if o.onBadLines != "error" && o.onBadLines != "skip" && o.onBadLines != "warn" {
		return nil, bad(fmt.Errorf("'on_bad_lines' must be error, skip or warn, got %q",
			o.onBadLines))
	}
	if o.columns, err = cfgStrings(cfg, "columns"); err != nil {
		return nil, bad(err)
	}

	nas, err := cfgStrings(cfg, "na_values")
	if err != nil {
		return nil, bad(err)
	}
	for _, s := range append(append([]string(nil), defaultNulls...), nas...) {
		o.nulls[s] = true
	}
	for _, s := range nas {
		o.textNulls[s] = true
	}

	if err := o.readDtype(cfg); err != nil {
		return nil, bad(err)
	}
	if err := o.readParseDates(cfg); err != nil {
		return nil, bad(err)
	}

	compression, err := cfgString(cfg, "compression", "infer")
	if err != nil {
		return nil, bad(err)
	}
	switch compression {
	case "gzip":
		o.gzip = true
	case "infer":
		o.gzip = strings.HasSuffix(strings.ToLower(o.path), ".gz")
	case "none":
	default:
		return nil, bad(fmt.Errorf("'compression' must be infer, none or gzip, got %q",
			compression))
	}
	return o, nil
}

func (o *extractorOptions) readDtype(cfg map[string]any) error {
	raw, ok := cfg["dtype"]
	if !ok || raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return errors.New("'dtype' must map column names to types")
	}
	o.dtype = map[string]string{}
	for col, v := range m {
		name, _ := v.(string)
		switch name {
		case "int64", "int", "integer":
			o.dtype[col] = drivers.TypeInt
		case "float64", "float":
			o.dtype[col] = drivers.TypeFloat
		case "string", "str", "object":
			o.dtype[col] = drivers.TypeString
		case "bool", "boolean":
			o.dtype[col] = drivers.TypeBool
		case "datetime", "timestamp":
			o.dtype[col] = drivers.TypeTimestamp
		case "date":
			o.dtype[col] = drivers.TypeDate
		default:
			return fmt.Errorf("dtype of column %q must be int64, float64, string, bool or "+
				"datetime, got %v", col, v)
		}
	}
	return nil
}

func (o *extractorOptions) readParseDates(cfg map[string]any) error {
	switch v := cfg["parse_dates"].(type) {
	case nil:
	case bool:
		o.parseDates = v
	default:
		cols, err := cfgStrings(cfg, "parse_dates")
		if err != nil {
			return errors.New("'parse_dates' must be true, false or a list of columns")
		}
		o.parseDateCols = map[string]bool{}
		for _, c := range cols {
			o.parseDateCols[c] = true
		}
	}
	return nil
}

// resolvePath applies the relative-path rule: base_dir from the connection or config,
// else the project base path, else the working directory.
func resolvePath(req drivers.Request, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	base, _ := req.Config["base_dir"].(string)
	if conn, ok := req.Config["resolved_connection"].(map[string]any); ok && base == "" {
		base, _ = conn["base_dir"].(string)
	}
	if base == "" && req.Env != nil {
		base = req.Env.BasePath()
	}
	if base != "" && !filepath.IsAbs(base) && req.Env != nil && req.Env.BasePath() != "" {
		base = filepath.Join(req.Env.BasePath(), base)
	}
	if base == "" {
		return path
	}
	return filepath.Join(base, path)
}

// Run opens the file, reads the header and the inference sample, and returns a stream
// over the rest. The file stays open until the stream is closed.
func (e *CSVExtractor) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	opts, err := parseExtractorOptions(req)
	if err != nil {
		return drivers.Result{}, err
	}
	path := resolvePath(req, opts.path)

	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, err,
			"CSV file not found: %s", path)
	}
	if err != nil {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, err,
			"CSV file cannot be read: %s", path)
	}
	if !info.Mode().IsRegular() {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, nil,
			"Path is not a file: %s", path)
	}

	file, err := os.Open(path)
	if err != nil {
		return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindIO, err,
			"CSV file cannot be opened: %s", path)
	}
	s := &csvStream{opts: opts, step: req.StepID, path: path, file: file, env: req.Env,
		started: time.Now()}
	if req.Env != nil {
		req.Env.Event("extraction.start", map[string]any{"step_id": req.StepID,
			"path": path})
	}
	if err := s.open(ctx); err != nil {
		_ = s.Close()
		return drivers.Result{}, err
	}
	return drivers.Result{Rows: s}, nil
}

// sampleRow is a record read during inference, kept with its line for error messages.
type sampleRow struct {
	fields []string
	line   int
}

// csvStream serves the rows of one file.
type csvStream struct {
	opts    *extractorOptions
	step    string
	path    string
	file    *os.File
	gz      *gzip.Reader
	rr      *recordReader
	env     drivers.StepEnv
	started time.Time

	width    int   // fields per record
	selected []int // record index of each output column
	cols     []drivers.Column
	strict   []bool // inferred type: demand exact print-back
	sample   []sampleRow
	rowsRead int64
	done     bool
	closed   bool
}

func (s *csvStream) open(ctx context.Context) error {
	var r io.Reader = s.file
	if s.opts.gzip {
		gz, err := gzip.NewReader(s.file)
		if err != nil {
			return s.parseError(0, fmt.Errorf("not a gzip file: %w", err))
		}
		s.gz = gz
		r = gz
	}
	s.rr = newRecordReader(decodingReader(r, s.opts.encoding), s.opts.delimiter,
		s.opts.quote, s.opts.comment)

	for i := int64(0); i < s.opts.skipRows; i++ {
		if err := s.rr.skipLine(); err == io.EOF {
			break
		} else if err != nil {
			return s.readError(err)
		}
	}

	names, err := s.readHeader()
	if err != nil {
		return err
	}
	if names == nil {
		return nil // an empty file is an empty table with no columns
	}
	if err := s.selectColumns(names); err != nil {
		return err
	}
	return s.infer(ctx, names)
}

// readHeader returns the column names, or nil for an empty file. Without a header the
// names are the positions 0..n-1 and the first record stays data.
func (s *csvStream) readHeader() ([]string, error) {
	if !s.opts.header {
		fields, line, err := s.nextRecord()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s.width = len(fields)
		s.sample = append(s.sample, sampleRow{fields: append([]string(nil), fields...),
			line: line})
		names := make([]string, len(fields))
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return names, nil
	}
	var fields []string
	for i := int64(0); i <= s.opts.headerRow; i++ {
		var err error
		fields, _, err = s.nextRecord()
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	s.width = len(fields)
	names := make([]string, len(fields))
	seen := map[string]int{}
	for i, f := range fields {
		name := strings.TrimSpace(f)
		if name == "" {
			name = fmt.Sprintf("Unnamed: %d", i)
		}
		if n := seen[name]; n > 0 {
			seen[name] = n + 1
			name = fmt.Sprintf("%s.%d", name, n)
		} else {
			seen[name] = 1
		}
		names[i] = name
	}
	return names, nil
}

func (s *csvStream) selectColumns(names []string) error {
	if len(s.opts.columns) == 0 {
		for i := range names {
			s.selected = append(s.selected, i)
		}
		return nil
	}
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	for _, want := range s.opts.columns {
		i, ok := index[want]
		if !ok {
			return drivers.Errorf(s.step, drivers.KindConfig, nil,
				"Step %s: column %q is not in %s (columns: %s)", s.step, want, s.path,
				strings.Join(names, ", "))
		}
		s.selected = append(s.selected, i)
	}
	return nil
}

// infer reads up to infer_rows records and fixes each output column's type.
func (s *csvStream) infer(ctx context.Context, names []string) error {
	for int64(len(s.sample)) < s.opts.inferRows {
		if s.opts.limit >= 0 && int64(len(s.sample)) >= s.opts.limit {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fields, line, err := s.nextRecord()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		s.sample = append(s.sample, sampleRow{fields: append([]string(nil), fields...),
			line: line})
	}

	for _, idx := range s.selected {
		name := names[idx]
		col := drivers.Column{Name: name, SourceType: "csv"}
		if typ, ok := s.opts.dtype[name]; ok {
			col.Type = typ
			s.cols = append(s.cols, col)
			s.strict = append(s.strict, false)
			continue
		}
		guess := newGuess()
		for _, row := range s.sample {
			if v := row.fields[idx]; !s.opts.nulls[v] {
				guess.observe(v)
			}
		}
		parseDates := s.opts.parseDates || s.opts.parseDateCols[name]
		col.Type = guess.decide(parseDates)
		if s.opts.parseDateCols[name] && col.Type == drivers.TypeString && guess.seen > 0 {
			return s.parseError(0, fmt.Errorf("column %q is listed in parse_dates but its "+
				"values are not dates", name))
		}
		s.cols = append(s.cols, col)
		s.strict = append(s.strict, true)
	}
	return nil
}

// nextRecord returns the next data record that has the right number of fields, applying
// skip_blank_lines and on_bad_lines.
func (s *csvStream) nextRecord() ([]string, int, error) {
	for {
		fields, blank, err := s.rr.next()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, 0, s.readError(err)
		}
		line := s.rr.recordStart
		if blank {
			if s.opts.skipBlankLines || s.width == 0 {
				continue
			}
			fields = []string{""}
		}
		if s.opts.encoding == "utf-8" {
			for _, f := range fields {
				if !utf8.ValidString(f) {
					return nil, 0, drivers.Errorf(s.step, drivers.KindData, nil,
						"CSV encoding error (tried utf-8): %s line %d is not valid UTF-8; "+
							"set encoding (for example latin-1)", s.path, line)
				}
			}
		}
		if s.width > 0 && len(fields) != s.width {
			bad := fmt.Errorf("expected %d fields, found %d", s.width, len(fields))
			switch s.opts.onBadLines {
			case "skip":
				continue
			case "warn":
				if s.env != nil {
					s.env.Logger().Warn("skipped a bad CSV line", "path", s.path,
						"line", line, "reason", bad.Error())
				}
				continue
			}
			return nil, 0, s.parseError(line, bad)
		}
		return fields, line, nil
	}
}

// readError turns an I/O, quoting or decoding failure into a print-safe error.
func (s *csvStream) readError(err error) error {
	if errors.Is(err, errEncoding) {
		return drivers.Errorf(s.step, drivers.KindData, err,
			"CSV encoding error (tried %s): %s: %v", s.opts.encoding, s.path, err)
	}
	if errors.Is(err, errBareQuote) || strings.HasPrefix(err.Error(), "line ") {
		return drivers.Errorf(s.step, drivers.KindData, err, "CSV parsing failed: %s %v",
			s.path, err)
	}
	return drivers.Errorf(s.step, drivers.KindIO, err, "CSV file cannot be read: %s: %v",
		s.path, err)
}

func (s *csvStream) parseError(line int, err error) error {
	if line > 0 {
		return drivers.Errorf(s.step, drivers.KindData, err, "CSV parsing failed: %s line %d: %v",
			s.path, line, err)
	}
	return drivers.Errorf(s.step, drivers.KindData, err, "CSV parsing failed: %s: %v",
		s.path, err)
}

// Columns returns the schema fixed by inference.
func (s *csvStream) Columns() []drivers.Column { return s.cols }

// Next returns up to chunk_size rows, sample rows first.
func (s *csvStream) Next(ctx context.Context) ([][]any, error) {
	if s.done || s.closed {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	batch := make([][]any, 0, min(s.opts.chunkSize, 4096))
	for len(batch) < s.opts.chunkSize {
		if s.opts.limit >= 0 && s.rowsRead >= s.opts.limit {
			s.finish()
			break
		}
		var fields []string
		var line int
		if len(s.sample) > 0 {
			fields, line = s.sample[0].fields, s.sample[0].line
			s.sample[0] = sampleRow{}
			s.sample = s.sample[1:]
		} else {
			var err error
			fields, line, err = s.nextRecord()
			if err == io.EOF {
				s.finish()
				break
			}
			if err != nil {
				return nil, err
			}
		}
		row, err := s.convertRow(fields, line)
		if err != nil {
			return nil, err
		}
		batch = append(batch, row)
		s.rowsRead++
	}
	if len(batch) == 0 {
		return nil, io.EOF
	}
	return batch, nil
}

func (s *csvStream) convertRow(fields []string, line int) ([]any, error) {
	row := make([]any, len(s.selected))
	for i, idx := range s.selected {
		text := fields[idx]
		typ := s.cols[i].Type
		if typ == drivers.TypeString {
			// A string column keeps "NA", "null", "None" and the like as text: they print
			// back exactly, and "NA" is also a real code (a state, a country). Only an
			// empty field and the step's own na_values are missing values here.
			if !s.opts.textNulls[text] {
				row[i] = text
			}
			continue
		}
		if s.opts.nulls[text] {
			continue
		}
		v, err := convert(text, typ, s.strict[i])
		if err != nil {
			hint := fmt.Sprintf("set dtype: {%s: string}", s.cols[i].Name)
			if s.strict[i] {
				hint = fmt.Sprintf("the type %s was inferred from the first %d rows; %s or "+
					"raise infer_rows", typ, s.opts.inferRows, hint)
			}
			return nil, s.parseError(line, fmt.Errorf("column %q: %v (%s)", s.cols[i].Name,
				err, hint))
		}
		row[i] = v
	}
	return row, nil
}

// finish reports the extraction once, when the last row has been served.
func (s *csvStream) finish() {
	if s.done {
		return
	}
	s.done = true
	if s.env == nil {
		return
	}
	drivers.ReportExtracted(s.env, s.step, s.rowsRead, s.started)
}

// Close releases the file. It is safe to call more than once.
func (s *csvStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.gz != nil {
		_ = s.gz.Close()
	}
	return s.file.Close()
}
