package filesystem

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// discoverComponent is the component whose discovery this file serves.
const discoverComponent = "filesystem.csv_extractor"

func init() {
	drivers.RegisterDiscoverer(discoverComponent,
		func() drivers.Discoverer { return &DirectoryDiscoverer{} })
}

// Discovery limits. Types are guessed from the first typeSampleRows rows of a file; row
// counting stops after rowCountBudget, because a directory of huge files must still be
// listed quickly.
const (
	typeSampleRows = 100
	rowCountBudget = 5 * time.Second
)

// DirectoryDiscoverer lists the CSV files of a filesystem connection's base_dir as
// tables: one per *.csv file (not recursive), with header columns, guessed column types,
// an estimated row count and the first sample rows.
type DirectoryDiscoverer struct {
	// now is the clock for the row-count budget; tests replace it.
	now func() time.Time
}

// Discover implements drivers.Discoverer. A file that cannot be parsed is listed with
// what could be read and a warning, so one bad file does not hide the others.
func (d *DirectoryDiscoverer) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	dir := discoverBaseDir(cfg, opts.BasePath)
	info, err := os.Stat(dir)
	if err != nil {
		return nil, drivers.Errorf("", drivers.KindConfig, err,
			"CSV directory not found: %s", dir)
	}
	if !info.IsDir() {
		return nil, drivers.Errorf("", drivers.KindConfig, nil,
			"base_dir is not a directory: %s", dir)
	}
	delimiter := ','
	if s, ok := cfg["delimiter"].(string); ok && len([]rune(s)) == 1 {
		delimiter = []rune(s)[0]
	}

	names, err := discoverCSVNames(dir)
	if err != nil {
		return nil, drivers.Errorf("", drivers.KindIO, err, "cannot list %s", dir)
	}
	clock := d.now
	if clock == nil {
		clock = time.Now
	}
	deadline := clock().Add(rowCountBudget)

	out := &drivers.Discovery{Tables: []drivers.TableInfo{}}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		table, warning := discoverCSVFile(ctx, filepath.Join(dir, name), delimiter,
			opts.Samples, func() bool { return !clock().Before(deadline) })
		table.Name = name
		if warning != "" {
			out.Warnings = append(out.Warnings, name+": "+warning)
		}
		out.Tables = append(out.Tables, table)
	}
	return out, nil
}

// discoverBaseDir resolves base_dir (from the connection) against the project base path.
func discoverBaseDir(cfg map[string]any, basePath string) string {
	dir, _ := cfg["base_dir"].(string)
	if conn, ok := cfg["resolved_connection"].(map[string]any); ok && dir == "" {
		dir, _ = conn["base_dir"].(string)
	}
	if dir == "" {
		dir = "."
	}
	if !filepath.IsAbs(dir) && basePath != "" {
		dir = filepath.Join(basePath, dir)
	}
	return filepath.Clean(dir)
}

func discoverCSVNames(dir string) ([]string, error) {
	items, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, item := range items {
		name := item.Name()
		if !strings.EqualFold(filepath.Ext(name), ".csv") || strings.HasPrefix(name, ".") {
			continue
		}
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil && info.Mode().IsRegular() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// discoverCSVFile reads the header and the leading rows of one file, then counts its
// lines until outOfTime says the budget is spent.
func discoverCSVFile(ctx context.Context, path string, delimiter rune, samples int,
	outOfTime func() bool) (drivers.TableInfo, string) {
	table := drivers.TableInfo{Columns: []drivers.ColumnInfo{}}
	f, err := os.Open(path)
	if err != nil {
		return table, "cannot open file"
	}
	defer f.Close()

	header, rows, readErr := discoverLeadingRows(f, delimiter, max(typeSampleRows, samples))
	types := discoverColumnTypes(len(header), rows)
	for i, name := range header {
		table.Columns = append(table.Columns, drivers.ColumnInfo{Name: name, Type: types[i]})
	}
	for i := 0; i < len(rows) && i < samples; i++ {
		table.SampleData = append(table.SampleData, discoverSampleRow(header, types, rows[i]))
	}
	if readErr != nil {
		return table, readErr.Error()
	}

	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return table, "cannot re-read file to count rows"
	}
	if lines, ok := discoverCountLines(ctx, f, outOfTime); ok {
		count := max(lines-1, 0)
		table.RowCount = &count
	}
	return table, ""
}

// discoverLeadingRows returns the header (made unique and non-empty) and up to n data rows.
// Limitation: files are read as UTF-8; the extractor's encoding option is not applied, so
// a latin-1 file shows mangled accents in its samples.
func discoverLeadingRows(r io.Reader, delimiter rune, n int) ([]string, [][]string, error) {
	reader := csv.NewReader(discoverStripBOM(r))
	reader.Comma = delimiter
	reader.FieldsPerRecord = -1
	reader.ReuseRecord = false

	first, err := reader.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, discoverParseError(err)
	}
	header := discoverColumnNames(first)
	var rows [][]string
	for len(rows) < n {
		rec, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return header, rows, discoverParseError(err)
		}
		rows = append(rows, rec)
	}
	return header, rows, nil
}

func discoverParseError(err error) error {
	var parseErr *csv.ParseError
	if errors.As(err, &parseErr) {
		return fmt.Errorf("CSV parsing failed at line %d: %v", parseErr.Line, parseErr.Err)
	}
	return fmt.Errorf("CSV parsing failed: %v", err)
}

func discoverStripBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return br
}

// discoverColumnNames names empty header cells column_<n> and suffixes repeats (_2, _3).
func discoverColumnNames(header []string) []string {
	seen := map[string]int{}
	out := make([]string, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if name == "" {
			name = fmt.Sprintf("column_%d", i)
		}
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s_%d", name, n)
		}
		out[i] = name
	}
	return out
}

// discoverCountLines counts lines, giving up (ok false) when ctx ends or time runs out.
// Limitation: a quoted value holding line breaks is counted as several rows.
func discoverCountLines(ctx context.Context, r io.Reader, outOfTime func() bool) (int64, bool) {
	buf := make([]byte, 1<<20)
	var lines int64
	var last byte = '\n'
	for {
		if ctx.Err() != nil || outOfTime() {
			return 0, false
		}
		n, err := r.Read(buf)
		if n > 0 {
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, false
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, true
}

// discoverNulls are the cell values read as null, as the CSV extractor reads them.
var discoverNulls = map[string]bool{
	"": true, "#N/A": true, "#N/A N/A": true, "#NA": true, "-1.#IND": true, "-1.#QNAN": true,
	"-NaN": true, "-nan": true, "1.#IND": true, "1.#QNAN": true, "<NA>": true, "N/A": true,
	"NA": true, "NULL": true, "NaN": true, "None": true, "n/a": true, "nan": true,
	"null": true,
}

var discoverBools = map[string]bool{
	"True": true, "False": false, "true": true, "false": false, "TRUE": true, "FALSE": false,
}

// Discovery column types.
const (
	discoverTypeString   = "string"
	discoverTypeInteger  = "integer"
	discoverTypeFloat    = "float"
	discoverTypeBoolean  = "boolean"
	discoverTypeDatetime = "datetime"
)

var strictDateLayouts = []string{"2006-01-02 15:04:05", "2006-01-02", time.RFC3339,
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}

var lenientDateLayouts = append([]string{"2006-01-02 15:04", "2006/01/02", "2006/01/02 15:04:05",
	"01/02/2006", "01/02/2006 15:04:05", "02.01.2006", "2006-01-02 15:04:05.999999999",
	"2 Jan 2006", "Jan 2, 2006", "15:04:05"}, strictDateLayouts...)

// discoverColumnTypes picks, per column, the narrowest type every non-null value fits:
// integer, float, boolean, then datetime when more than 80 % of values read as dates.
func discoverColumnTypes(columns int, rows [][]string) []string {
	types := make([]string, columns)
	for c := 0; c < columns; c++ {
		var values []string
		for _, row := range rows {
			if c < len(row) && !discoverNulls[row[c]] {
				values = append(values, row[c])
			}
		}
		types[c] = discoverValueType(values)
	}
	return types
}

func discoverValueType(values []string) string {
	if len(values) == 0 {
		return discoverTypeString
	}
	if allValues(values, discoverIsInt) {
		return discoverTypeInteger
	}
	if allValues(values, discoverIsFloat) {
		return discoverTypeFloat
	}
	if allValues(values, func(v string) bool { _, ok := discoverBools[v]; return ok }) {
		return discoverTypeBoolean
	}
	if shareOf(values, func(v string) bool { return discoverParsesAs(v, strictDateLayouts) }) > 0.8 {
		return discoverTypeDatetime
	}
	looksDated := false
	for _, v := range values {
		if strings.ContainsAny(v, "-/:. ") {
			looksDated = true
			break
		}
	}
	if looksDated && shareOf(values, func(v string) bool {
		return discoverParsesAs(v, lenientDateLayouts)
	}) > 0.8 && !discoverEpochOnly(values) {
		return discoverTypeDatetime
	}
	return discoverTypeString
}

func discoverIsInt(v string) bool {
	_, err := strconv.ParseInt(v, 10, 64)
	return err == nil
}

func discoverIsFloat(v string) bool {
	f, err := strconv.ParseFloat(v, 64)
	return err == nil && !strings.ContainsAny(v, "xXpP_") && f == f
}

func discoverParsesAs(v string, layouts []string) bool {
	for _, layout := range layouts {
		if _, err := time.Parse(layout, v); err == nil {
			return true
		}
	}
	return false
}

// discoverEpochOnly catches numbers that only parse as dates near 1970.
func discoverEpochOnly(values []string) bool {
	for _, v := range values {
		for _, layout := range lenientDateLayouts {
			if t, err := time.Parse(layout, v); err == nil {
				if t.Year() != 1970 && t.Year() != 0 {
					return false
				}
				break
			}
		}
	}
	return true
}

func allValues(values []string, ok func(string) bool) bool {
	for _, v := range values {
		if !ok(v) {
			return false
		}
	}
	return true
}

func shareOf(values []string, ok func(string) bool) float64 {
	n := 0
	for _, v := range values {
		if ok(v) {
			n++
		}
	}
	return float64(n) / float64(len(values))
}

// discoverSampleRow turns one record into a sample row, converting values to their column's
// guessed type; a value that does not convert stays text.
func discoverSampleRow(header, types []string, record []string) map[string]any {
	row := make(map[string]any, len(header))
	for i, name := range header {
		if i >= len(record) || discoverNulls[record[i]] {
			row[name] = nil
			continue
		}
		v := record[i]
		row[name] = v
		switch types[i] {
		case discoverTypeInteger:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				row[name] = n
			}
		case discoverTypeFloat:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				row[name] = f
			}
		case discoverTypeBoolean:
			row[name] = discoverBools[v]
		}
	}
	return row
}
