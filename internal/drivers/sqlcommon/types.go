package sqlcommon

import (
	"regexp"
	"strconv"
)

var precisionScale = regexp.MustCompile(`(?i)^\s*(?:decimal|numeric|dec|fixed)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)`)

// DecimalPrecision reads p and s from a source type such as "decimal(12,2)" or
// "NUMERIC(10)", so that a writer creating a table keeps the source's exact shape.
func DecimalPrecision(sourceType string) (precision, scale int, ok bool) {
	m := precisionScale.FindStringSubmatch(sourceType)
	if m == nil {
		return 0, 0, false
	}
	precision, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		scale, _ = strconv.Atoi(m[2])
	}
	return precision, scale, precision > 0 && scale <= precision
}
