package filesystem

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// formatFloat prints a float the way the writer does: plain decimal notation for ordinary
// magnitudes ("31.95376472", "3", "-0.5"), exponent notation only for very large or very
// small ones. The extractor's inference uses the same function, which is what makes a
// float column print back exactly as it was read.
func formatFloat(v float64) string {
	abs := math.Abs(v)
	if abs == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// formatValue prints one value of a column of type typ as CSV text. ok is false for null.
func formatValue(v any, typ string) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", false
	case string:
		return t, true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int:
		return strconv.Itoa(t), true
	case int32:
		return strconv.FormatInt(int64(t), 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		if math.IsNaN(t) {
			return "", false
		}
		return formatFloat(t), true
	case float32:
		return formatFloat(float64(t)), true
	case bool:
		return strconv.FormatBool(t), true
	case time.Time:
		if typ == drivers.TypeDate {
			return t.Format(time.DateOnly), true
		}
		return t.Format(time.RFC3339Nano), true
	case drivers.Decimal:
		return string(t), true
	case json.RawMessage:
		return string(t), true
	case []byte:
		return base64.StdEncoding.EncodeToString(t), true
	case fmt.Stringer:
		return t.String(), true
	}
	return fmt.Sprint(v), true
}

// defaultNulls are the texts read as a missing value, as pandas users expect.
var defaultNulls = []string{
	"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
	"1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
}

// columnGuess tracks which types every non-null sample value of a column fits.
type columnGuess struct {
	intOK, floatOK, boolOK, timeOK, dateOnly bool
	seen                                     int
}

func newGuess() *columnGuess {
	return &columnGuess{intOK: true, floatOK: true, boolOK: true, timeOK: true, dateOnly: true}
}

// observe narrows the guess with one non-null value. A type stays possible only when the
// value would print back byte for byte: "007", "1.50", "1e3" and "True" keep a column a
// string.
func (g *columnGuess) observe(s string) {
	g.seen++
	if g.intOK {
		n, err := strconv.ParseInt(s, 10, 64)
		g.intOK = err == nil && strconv.FormatInt(n, 10) == s
	}
	if g.floatOK {
		f, err := strconv.ParseFloat(s, 64)
		g.floatOK = err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && formatFloat(f) == s
	}
	if g.boolOK {
		g.boolOK = s == "true" || s == "false"
	}
	if g.timeOK {
		_, dateOnly, err := parseDateTime(s)
		g.timeOK = err == nil
		g.dateOnly = g.dateOnly && dateOnly
	}
}

// decide returns the inferred type; parseDates allows timestamp and date.
func (g *columnGuess) decide(parseDates bool) string {
	switch {
	case g.seen == 0:
		return drivers.TypeString
	case g.intOK:
		return drivers.TypeInt
	case g.floatOK:
		return drivers.TypeFloat
	case g.boolOK:
		return drivers.TypeBool
	case parseDates && g.timeOK && g.dateOnly:
		return drivers.TypeDate
	case parseDates && g.timeOK:
		return drivers.TypeTimestamp
	}
	return drivers.TypeString
}

var dateTimeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04",
}

// parseDateTime accepts ISO-8601 dates and date-times; dateOnly reports a bare date.
func parseDateTime(s string) (time.Time, bool, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("not a date or date-time")
}

// convert turns the text of a non-null field into a value of the column's type. strict
// (inferred types) demands an exact print-back; an explicit dtype accepts any parseable
// text, since the user asked for the conversion.
func convert(s, typ string, strict bool) (any, error) {
	switch typ {
	case drivers.TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || (strict && strconv.FormatInt(n, 10) != s) {
			return nil, fmt.Errorf("value %q is not an integer", s)
		}
		return n, nil
	case drivers.TypeFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || (strict && formatFloat(f) != s) {
			return nil, fmt.Errorf("value %q is not a number that prints back unchanged", s)
		}
		if math.IsNaN(f) {
			return nil, nil
		}
		return f, nil
	case drivers.TypeBool:
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		if !strict {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true", "1", "yes":
				return true, nil
			case "false", "0", "no":
				return false, nil
			}
		}
		return nil, fmt.Errorf("value %q is not true or false", s)
	case drivers.TypeTimestamp, drivers.TypeDate:
		t, _, err := parseDateTime(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("value %q is not a date or date-time", s)
		}
		return t, nil
	}
	return s, nil
}
