package mysql

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// columnDecl is what information_schema says about a column: its full type
// ("tinyint(1)", "bigint(20) unsigned", "decimal(12,2)") and whether MariaDB stores it as
// JSON (MariaDB's JSON is LONGTEXT with a json_valid check, invisible on the wire).
type columnDecl struct {
	columnType string
	isJSON     bool
}

// converter turns one value as the MySQL library returns it into the stream's Go type.
// zero reports a zero date ('0000-00-00'), which becomes null.
type converter func(v any) (out any, zero bool)

// columnPlan is how one result column is typed and converted.
type columnPlan struct {
	column  drivers.Column
	convert converter
}

// planColumn picks the stream type of a column from the wire type name and, when the
// query read a table, the declared type.
//
// Limitation: a query extraction has no declared types, so TINYINT(1) arrives as int64
// and MariaDB's JSON as string.
func planColumn(name, wireType string, decl *columnDecl) columnPlan {
	wire := strings.ToUpper(wireType)
	source := strings.ToLower(wire)
	declared := ""
	if decl != nil {
		declared = strings.ToLower(decl.columnType)
		source = declared
	}
	plan := func(typ string, c converter) columnPlan {
		return columnPlan{column: drivers.Column{Name: name, Type: typ, SourceType: source},
			convert: c}
	}

	switch {
	case decl != nil && decl.isJSON, wire == "JSON":
		return plan(drivers.TypeJSON, toJSON)
	case strings.HasPrefix(declared, "tinyint(1)") && !strings.Contains(declared, "unsigned"):
		return plan(drivers.TypeBool, intToBool)
	case strings.HasPrefix(declared, "bit(1)"):
		return plan(drivers.TypeBool, bitToBool)
	case strings.HasPrefix(declared, "bit(64)"):
		return plan(drivers.TypeUint, bitToUint)
	case wire == "BIT":
		return plan(drivers.TypeInt, bitToInt)
	case wire == "UNSIGNED BIGINT":
		return plan(drivers.TypeUint, passThrough)
	case strings.Contains(wire, "INT") || wire == "YEAR":
		return plan(drivers.TypeInt, passThrough)
	case wire == "DECIMAL":
		return plan(drivers.TypeDecimal, toDecimal)
	case wire == "FLOAT":
		return plan(drivers.TypeFloat, float32To64)
	case wire == "DOUBLE":
		return plan(drivers.TypeFloat, passThrough)
	case wire == "DATE":
		return plan(drivers.TypeDate, toTime)
	case wire == "DATETIME" || wire == "TIMESTAMP":
		return plan(drivers.TypeTimestamp, toTime)
	case wire == "TIME":
		// Limitation: MySQL TIME spans -838:59:59..838:59:59; such text fails a load into
		// a PostgreSQL TIME column.
		return plan(drivers.TypeTime, toString)
	case strings.Contains(wire, "BLOB") || wire == "BINARY" || wire == "VARBINARY" ||
		wire == "GEOMETRY":
		return plan(drivers.TypeBytes, toBytes)
	}
	return plan(drivers.TypeString, toString)
}

func passThrough(v any) (any, bool) { return v, false }

func toString(v any) (any, bool) {
	switch t := v.(type) {
	case []byte:
		return string(t), false
	case string:
		return t, false
	case int64:
		return strconv.FormatInt(t, 10), false
	}
	return v, false
}

func toBytes(v any) (any, bool) {
	if s, ok := v.(string); ok {
		return []byte(s), false
	}
	return v, false
}

func toDecimal(v any) (any, bool) {
	switch t := v.(type) {
	case []byte:
		return drivers.Decimal(t), false
	case string:
		return drivers.Decimal(t), false
	}
	return v, false
}

func toJSON(v any) (any, bool) {
	switch t := v.(type) {
	case []byte:
		return json.RawMessage(t), false
	case string:
		return json.RawMessage(t), false
	}
	return v, false
}

// float32To64 widens a FLOAT through its shortest decimal form, so 0.1 stays 0.1 instead
// of becoming 0.10000000149011612.
func float32To64(v any) (any, bool) {
	if f, ok := v.(float32); ok {
		wide, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
		return wide, false
	}
	return v, false
}

func intToBool(v any) (any, bool) {
	if i, ok := v.(int64); ok {
		return i != 0, false
	}
	return v, false
}

func bitValue(v any) (uint64, bool) {
	b, ok := v.([]byte)
	if !ok || len(b) > 8 {
		return 0, false
	}
	var buf [8]byte
	copy(buf[8-len(b):], b)
	return binary.BigEndian.Uint64(buf[:]), true
}

func bitToBool(v any) (any, bool) {
	if n, ok := bitValue(v); ok {
		return n != 0, false
	}
	return v, false
}

func bitToUint(v any) (any, bool) {
	if n, ok := bitValue(v); ok {
		return n, false
	}
	return v, false
}

func bitToInt(v any) (any, bool) {
	if n, ok := bitValue(v); ok {
		return int64(n), false
	}
	return v, false
}

// toTime keeps times in UTC and turns MySQL's zero date into null.
//
// Limitation: only all-zero dates are recognised; a partial zero date such as
// 2024-00-10 is not turned into null.
func toTime(v any) (any, bool) {
	if t, ok := v.(time.Time); ok {
		if t.IsZero() {
			return nil, true
		}
		return t.UTC(), false
	}
	return v, false
}
