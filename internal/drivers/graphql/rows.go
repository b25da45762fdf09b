package graphql

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/osirisgo/osiris/internal/drivers"
)

// valueColumn names the single column of rows that are not objects (a list of strings).
const valueColumn = "value"

// field is one column value of a response item before it is typed.
type field struct {
	name  string
	value gjson.Result
}

// itemsOf turns the result of data_path into items: a list gives one item per element, an
// object gives one item, nothing gives none.
func itemsOf(res gjson.Result) []gjson.Result {
	if !res.Exists() || res.Type == gjson.Null {
		return nil
	}
	if res.IsArray() {
		return res.Array()
	}
	return []gjson.Result{res}
}

// fieldsOf lists an item's columns. With flatten, nested objects become dotted names
// (location.latitude); arrays stay one JSON value. Without, every top-level key is one
// column and nested values are JSON.
func fieldsOf(item gjson.Result, flatten bool) []field {
	if !item.IsObject() {
		return []field{{name: valueColumn, value: item}}
	}
	var out []field
	appendFields(&out, "", item, flatten)
	return out
}

func appendFields(out *[]field, prefix string, obj gjson.Result, flatten bool) {
	obj.ForEach(func(key, value gjson.Result) bool {
		name := key.String()
		if prefix != "" {
			name = prefix + "." + name
		}
		if flatten && value.IsObject() {
			appendFields(out, name, value, flatten)
			return true
		}
		*out = append(*out, field{name: name, value: value})
		return true
	})
}

// kind is what the values of a column seen so far have in common.
type kind int

const (
	kindNull kind = iota // only nulls so far
	kindInt
	kindFloat
	kindBool
	kindString
	kindJSON
)

func kindOf(v gjson.Result) kind {
	switch v.Type {
	case gjson.Null:
		return kindNull
	case gjson.True, gjson.False:
		return kindBool
	case gjson.String:
		return kindString
	case gjson.Number:
		if isIntLiteral(v.Raw) {
			return kindInt
		}
		return kindFloat
	}
	return kindJSON
}

// isIntLiteral reports whether a JSON number is an integer that fits int64.
// Limitation: larger integers are typed float64 and lose digits past 2^53.
func isIntLiteral(raw string) bool {
	if strings.ContainsAny(raw, ".eE") {
		return false
	}
	_, err := strconv.ParseInt(raw, 10, 64)
	return err == nil
}

// widen combines two kinds: integers and floats make floats, anything with JSON is JSON,
// other mixtures become text.
func widen(a, b kind) kind {
	switch {
	case a == b || b == kindNull:
		return a
	case a == kindNull:
		return b
	case a == kindJSON || b == kindJSON:
		return kindJSON
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	}
	return kindString
}

func (k kind) columnType() string {
	switch k {
	case kindInt:
		return drivers.TypeInt
	case kindFloat:
		return drivers.TypeFloat
	case kindBool:
		return drivers.TypeBool
	case kindJSON:
		return drivers.TypeJSON
	}
	return drivers.TypeString
}

// schema is the column list fixed by the first page with rows. Later pages are read
// against it: a missing field is null and a field it does not know is dropped, reported
// once per name through unknown.
type schema struct {
	columns []drivers.Column
	index   map[string]int
	unknown func(name string)
	warned  map[string]bool
}

// inferSchema builds the columns from every item of a page, in order of first appearance.
func inferSchema(items []gjson.Result, flatten bool) *schema {
	s := &schema{index: map[string]int{}, warned: map[string]bool{}}
	var kinds []kind
	for _, item := range items {
		for _, f := range fieldsOf(item, flatten) {
			i, ok := s.index[f.name]
			if !ok {
				i = len(kinds)
				s.index[f.name] = i
				s.columns = append(s.columns, drivers.Column{Name: f.name})
				kinds = append(kinds, kindNull)
			}
			kinds[i] = widen(kinds[i], kindOf(f.value))
		}
	}
	for i := range s.columns {
		s.columns[i].Type = kinds[i].columnType()
		s.columns[i].SourceType = jsonTypeName(kinds[i])
	}
	return s
}

func jsonTypeName(k kind) string {
	switch k {
	case kindInt:
		return "integer"
	case kindFloat:
		return "number"
	case kindBool:
		return "boolean"
	case kindJSON:
		return "json"
	case kindNull:
		return "null"
	}
	return "string"
}

// rows converts a page's items to typed rows. page is only used in error messages.
func (s *schema) rows(items []gjson.Result, flatten bool, page int) ([][]any, error) {
	out := make([][]any, 0, len(items))
	for _, item := range items {
		row := make([]any, len(s.columns))
		for _, f := range fieldsOf(item, flatten) {
			i, ok := s.index[f.name]
			if !ok {
				// Limitation: a field first seen after the first page with rows is not
				// extracted (the downstream table already has its columns); it is logged.
				if !s.warned[f.name] && s.unknown != nil {
					s.unknown(f.name)
				}
				s.warned[f.name] = true
				continue
			}
			v, err := convert(f.value, s.columns[i].Type)
			if err != nil {
				return nil, fmt.Errorf("page %d, column %q: %w", page, f.name, err)
			}
			row[i] = v
		}
		out = append(out, row)
	}
	return out, nil
}

// convert gives a JSON value the Go type of its column.
func convert(v gjson.Result, columnType string) (any, error) {
	if v.Type == gjson.Null {
		return nil, nil
	}
	switch columnType {
	case drivers.TypeString:
		if v.Type == gjson.String {
			return v.Str, nil
		}
		return v.Raw, nil
	case drivers.TypeJSON:
		return json.RawMessage(append([]byte(nil), v.Raw...)), nil
	case drivers.TypeInt:
		if v.Type != gjson.Number {
			return nil, fmt.Errorf("%s value in an int64 column", kindName(v))
		}
		if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
			return n, nil
		}
		if f := v.Float(); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		// Limitation: a column typed int64 from the first page cannot take fractions later.
		return nil, fmt.Errorf("non-integer number %s in a column typed int64 from the "+
			"first page", v.Raw)
	case drivers.TypeFloat:
		if v.Type != gjson.Number {
			return nil, fmt.Errorf("%s value in a float64 column", kindName(v))
		}
		f, err := strconv.ParseFloat(v.Raw, 64)
		if err != nil || math.IsNaN(f) {
			return nil, nil
		}
		return f, nil
	case drivers.TypeBool:
		if v.Type != gjson.True && v.Type != gjson.False {
			return nil, fmt.Errorf("%s value in a bool column", kindName(v))
		}
		return v.Bool(), nil
	}
	return nil, fmt.Errorf("unsupported column type %s", columnType)
}

func kindName(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	}
	if v.IsArray() {
		return "array"
	}
	return "object"
}
