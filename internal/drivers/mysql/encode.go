package mysql

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// encodeRows writes the input in LOAD DATA's default text format: tab between fields,
// newline after each row, \N for null, and backslash escapes for backslash, tab,
// newline, carriage return and NUL. It stops at the end of the input, an input error or
// cancellation.
func (w *writeRun) encodeRows(ctx context.Context, out io.Writer, sent *int64) error {
	buf := bufio.NewWriterSize(out, 256*1024)
	var line []byte
	for {
		batch, err := w.nextBatch(ctx)
		if err == io.EOF {
			return buf.Flush()
		}
		if err != nil {
			return err
		}
		for _, row := range batch {
			line = line[:0]
			for i, v := range row {
				if i > 0 {
					line = append(line, '\t')
				}
				line = appendField(line, w.cols[i].Type, v)
			}
			line = append(line, '\n')
			if _, err := buf.Write(line); err != nil {
				return err
			}
			*sent++
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// appendField appends one value in LOAD DATA's escaping.
func appendField(b []byte, typ string, v any) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, '\\', 'N')
	case string:
		return appendEscaped(b, t)
	case []byte:
		return appendEscaped(b, string(t))
	case json.RawMessage:
		return appendEscaped(b, string(t))
	case drivers.Decimal:
		return append(b, t...)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case uint64:
		return strconv.AppendUint(b, t, 10)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return append(b, '\\', 'N')
		}
		return strconv.AppendFloat(b, t, 'g', -1, 64)
	case float32:
		return strconv.AppendFloat(b, float64(t), 'g', -1, 32)
	case bool:
		if t {
			return append(b, '1')
		}
		return append(b, '0')
	case time.Time:
		if typ == drivers.TypeDate {
			return t.UTC().AppendFormat(b, "2006-01-02")
		}
		return t.UTC().AppendFormat(b, "2006-01-02 15:04:05.999999")
	}
	return appendEscaped(b, fmt.Sprint(v))
}

// appendEscaped appends s in LOAD DATA's escaping, NUL included.
func appendEscaped(b []byte, s string) []byte { return sqlcommon.AppendEscaped(b, s, true) }

// insertArg is a value as an INSERT placeholder takes it.
func insertArg(typ string, v any) any {
	switch t := v.(type) {
	case drivers.Decimal:
		return string(t)
	case json.RawMessage:
		return string(t)
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil
		}
	case time.Time:
		if typ == drivers.TypeDate {
			return t.UTC().Format("2006-01-02")
		}
		return t.UTC()
	}
	return v
}
