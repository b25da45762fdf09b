package postgres

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// appendRow appends one row in COPY's text format: tab-separated, \N for null,
// backslash escapes for backslash, newline, carriage return and tab. PostgreSQL cannot
// store a NUL byte in text: such a value fails the step naming its table, column and row,
// unless strip_nul removes the bytes.
func (w *writeRun) appendRow(buf []byte, row []any) ([]byte, error) {
	for i, v := range row {
		if i > 0 {
			buf = append(buf, '\t')
		}
		var err error
		buf, err = w.appendValue(buf, i, v)
		if err != nil {
			return buf, err
		}
	}
	return append(buf, '\n'), nil
}

func (w *writeRun) appendValue(buf []byte, col int, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(buf, '\\', 'N'), nil
	case string:
		return w.appendText(buf, col, t)
	case json.RawMessage:
		return w.appendText(buf, col, string(t))
	case drivers.Decimal:
		return append(buf, t...), nil
	case []byte:
		if w.cols[col].Type != drivers.TypeBytes {
			return w.appendText(buf, col, string(t))
		}
		buf = append(buf, '\\', '\\', 'x')
		return hex.AppendEncode(buf, t), nil
	case int64:
		return strconv.AppendInt(buf, t, 10), nil
	case uint64:
		return strconv.AppendUint(buf, t, 10), nil
	case int:
		return strconv.AppendInt(buf, int64(t), 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(t), 10), nil
	case float64:
		return appendFloat(buf, t, 64), nil
	case float32:
		return appendFloat(buf, float64(t), 32), nil
	case bool:
		if t {
			return append(buf, 't'), nil
		}
		return append(buf, 'f'), nil
	case time.Time:
		if w.cols[col].Type == drivers.TypeDate {
			return t.AppendFormat(buf, "2006-01-02"), nil
		}
		return t.AppendFormat(buf, "2006-01-02 15:04:05.999999Z07:00"), nil
	}
	return w.appendText(buf, col, fmt.Sprint(v))
}

// appendFloat writes NaN as null (the stream contract) and infinities in PostgreSQL's
// spelling.
func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, '\\', 'N')
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits)
}

func (w *writeRun) appendText(buf []byte, col int, s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		if !w.wc.stripNUL {
			return buf, drivers.Errorf(w.req.StepID, drivers.KindData, nil,
				"Postgres write failed for step %s: table %s, column %s, row %d holds a NUL "+
					"byte, which PostgreSQL text cannot store; set strip_nul: true to remove "+
					"such bytes", w.req.StepID, w.wc.table, w.cols[col].Name, w.written)
		}
		s = strings.ReplaceAll(s, "\x00", "")
		w.stripped++
	}
	return sqlcommon.AppendEscaped(buf, s, false), nil
}
