//go:build noduckdb

// Package duckdb holds the DuckDB drivers. This build was made with the noduckdb tag
// (no cgo toolchain), so duckdb.processor is registered but fails with a clear message.
package duckdb

import (
	"context"

	"github.com/osirisgo/osiris/internal/drivers"
)

// ProcessorComponent is the component name the processor registers under.
const ProcessorComponent = "duckdb.processor"

func init() {
	drivers.Register(ProcessorComponent, func() drivers.Driver { return &Processor{} })
}

// Processor is the stand-in for builds without DuckDB.
type Processor struct{}

// Run always fails: this binary was built without DuckDB.
func (p *Processor) Run(_ context.Context, req drivers.Request) (drivers.Result, error) {
	return drivers.Result{}, drivers.Errorf(req.StepID, drivers.KindConfig, nil,
		"DuckDB transformation failed: this osiris binary was built without DuckDB "+
			"(build tag noduckdb)")
}
