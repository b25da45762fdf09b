//go:build noduckdb

package duckdb

import (
	"context"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ExtractorComponent is the component that reads a DuckDB database file.
const ExtractorComponent = "duckdb.extractor"

func init() {
	drivers.Register(ExtractorComponent, func() drivers.Driver { return &Extractor{} })
}

// Extractor is the stand-in for builds without DuckDB: it is listed, but fails clearly.
type Extractor struct{}

const noDuckDB = "this osiris binary was built without DuckDB (build tag noduckdb)"

// Run always fails: this binary was built without DuckDB.
func (e *Extractor) Run(_ context.Context, req drivers.Request) (drivers.Result, error) {
	return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
		"DuckDB query failed: %s", noDuckDB)
}

// Discover always fails: this binary was built without DuckDB.
func (e *Extractor) Discover(context.Context, map[string]any,
	drivers.DiscoverOptions) (*drivers.Discovery, error) {
	return nil, drivers.Errorf("", drivers.KindConfig, nil, "DuckDB discovery failed: %s",
		noDuckDB)
}
