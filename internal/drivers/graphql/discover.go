package graphql

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/osirisgo/osiris/internal/drivers"
)

// introspectionQuery asks for every type and the type of each of its fields, deep enough
// for wrappers such as [Airport!]!.
const introspectionQuery = `query OsirisIntrospection {
  __schema {
    queryType { name }
    types {
      kind
      name
      fields(includeDeprecated: true) { name type { ...TypeRef } }
    }
  }
}
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}`

// doctorQuery is the smallest query every GraphQL server answers.
const doctorQuery = `{ __schema { queryType { name } } }`

// Discover lists the server's object and interface types with their fields, by
// introspection. GraphQL has no row counts or cheap samples, so those stay empty.
func (e *Extractor) Discover(ctx context.Context, cfg map[string]any,
	opts drivers.DiscoverOptions) (*drivers.Discovery, error) {
	c, err := parseConfig("discovery", cfg, false)
	if err != nil {
		return nil, err
	}
	cl := newClient(c, nil)
	defer cl.close()

	body, err := cl.post(ctx, introspectionQuery, nil)
	if err != nil {
		return nil, err
	}

	found := &drivers.Discovery{Tables: []drivers.TableInfo{}}
	queryType := gjson.GetBytes(body, "data.__schema.queryType.name").String()
	for _, t := range gjson.GetBytes(body, "data.__schema.types").Array() {
		name := t.Get("name").String()
		kind := t.Get("kind").String()
		if strings.HasPrefix(name, "__") || (kind != "OBJECT" && kind != "INTERFACE") {
			continue
		}
		info := drivers.TableInfo{Name: name, Columns: []drivers.ColumnInfo{}}
		for _, f := range t.Get("fields").Array() {
			typeName, nullable := renderType(f.Get("type"))
			info.Columns = append(info.Columns, drivers.ColumnInfo{
				Name: f.Get("name").String(), Type: typeName, Nullable: &nullable,
			})
		}
		found.Tables = append(found.Tables, info)
	}
	sort.Slice(found.Tables, func(i, j int) bool {
		// The query type (the entry point) first, then by name.
		a, b := found.Tables[i].Name, found.Tables[j].Name
		if (a == queryType) != (b == queryType) {
			return a == queryType
		}
		return a < b
	})
	// Limitation: discovery reports no row counts and no sample rows for GraphQL types.
	if opts.Samples > 0 {
		found.Warnings = append(found.Warnings,
			"GraphQL discovery lists types and fields only; it takes no sample rows")
	}
	return found, nil
}

// renderType writes a field type the way GraphQL does ([Airport!]!) and says whether the
// outermost level may be null.
func renderType(t gjson.Result) (string, bool) {
	switch t.Get("kind").String() {
	case "NON_NULL":
		inner, _ := renderType(t.Get("ofType"))
		return inner + "!", false
	case "LIST":
		inner, _ := renderType(t.Get("ofType"))
		return "[" + inner + "]", true
	}
	if name := t.Get("name").String(); name != "" {
		return name, true
	}
	return "Unknown", true
}

// Doctor tests a GraphQL connection with the smallest introspection query. A server that
// answers but has introspection disabled passes: it is reachable and accepted the request.
func (e *Extractor) Doctor(ctx context.Context, conn map[string]any,
	timeout time.Duration) drivers.DoctorResult {
	start := time.Now()
	result := func(category, message string) drivers.DoctorResult {
		ms := float64(time.Since(start).Microseconds()) / 1000
		return drivers.DoctorResult{
			OK: category == drivers.CategoryOK, Category: category, Message: message,
			LatencyMS: math.Round(ms*100) / 100,
		}
	}

	c, err := parseConfig("doctor", conn, false)
	if err != nil {
		return result(drivers.CategoryConfig, "Connection settings are incomplete or invalid")
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	c.timeout = timeout
	c.maxRetries = 0
	cl := newClient(c, nil)
	defer cl.close()

	_, err = cl.post(ctx, doctorQuery, nil)
	var de *drivers.Error
	switch {
	case err == nil:
		return result(drivers.CategoryOK, "Connection test passed")
	case !errors.As(err, &de):
		return result(drivers.CategoryUnknown, "Connection test failed")
	case de.Category == drivers.CategoryAuth:
		return result(drivers.CategoryAuth, "Authentication failed")
	case de.Kind == drivers.KindQuery &&
		strings.Contains(strings.ToLower(de.Msg), "introspection"):
		return result(drivers.CategoryOK, "Connection test passed (introspection disabled)")
	case de.Category == drivers.CategoryTimeout:
		return result(drivers.CategoryTimeout, "Connection timeout")
	case de.Category == drivers.CategoryNetwork && de.Kind == drivers.KindConnection:
		return result(drivers.CategoryNetwork, "Cannot connect to server")
	}
	return result(drivers.CategoryUnknown, "Connection test failed")
}
