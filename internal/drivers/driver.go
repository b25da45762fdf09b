// Package drivers defines what a component driver is, how rows move between steps, and
// the registry that maps a component name to its driver. Each family lives in a
// sub-package that registers itself from init; internal/drivers/all imports them all.
package drivers

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Driver runs one pipeline step. A new Driver is made for every step, so a driver may keep
// per-step state in its fields but never in package variables.
type Driver interface {
	Run(ctx context.Context, req Request) (Result, error)
}

// Request is everything a step receives. Config is the step's resolved configuration with
// the meta keys (component, connection) removed; connection fields arrive under
// Config["resolved_connection"] as a map.
type Request struct {
	StepID string
	Config map[string]any
	Inputs []Input
	State  map[string]any
	Env    StepEnv
}

// Input is one upstream step's output as seen by a consumer.
type Input struct {
	Key      string // df_<sanitised upstream id>, or input_df for a sole upstream
	FromStep string
	Rows     Stream
}

// Result is what a step hands downstream. Writers return a nil Rows. A returned Rows is
// pulled by the runner (or a consumer) and closed by it.
type Result struct {
	Rows  Stream
	State map[string]any
}

// StepEnv is the step's window onto the run: where to put artifacts, and how to report.
// Everything reported through it is redacted before it is written.
type StepEnv interface {
	OutputDir() string // <run dir>/artifacts/<step_id>, already created
	BasePath() string  // the project's base path, for relative file paths
	Metric(name string, value any, unit string)
	Event(name string, fields map[string]any)
	Logger() *slog.Logger
}

// Discoverer is implemented by drivers that can list what a source holds.
type Discoverer interface {
	Discover(ctx context.Context, cfg map[string]any, opts DiscoverOptions) (*Discovery, error)
}

// DiscoverOptions tunes a discovery.
type DiscoverOptions struct {
	Samples int // sample rows per table; 0 = none
	// BasePath is the project's base path, against which a relative file or directory
	// of the connection (a CSV folder, a DuckDB file) is resolved.
	BasePath string
}

// Discovery is what a source holds.
type Discovery struct {
	Tables   []TableInfo `json:"tables"`
	Warnings []string    `json:"warnings,omitempty"`
}

// TableInfo describes one table (or file, or GraphQL type).
type TableInfo struct {
	Name        string           `json:"name"`
	RowCount    *int64           `json:"row_count"`
	Columns     []ColumnInfo     `json:"columns"`
	PrimaryKeys []string         `json:"primary_keys,omitempty"`
	SampleData  []map[string]any `json:"sample_data,omitempty"`
}

// ColumnInfo is a column as discovery reports it: the source's type name.
type ColumnInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable *bool  `json:"nullable,omitempty"`
}

// Doctor is implemented by drivers that can test a connection.
type Doctor interface {
	Doctor(ctx context.Context, conn map[string]any, timeout time.Duration) DoctorResult
}

// DoctorResult is the outcome of a connection test. Message is a fixed phrase that never
// carries server text, users, hosts or ports.
type DoctorResult struct {
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
	Category  string  `json:"category"` // ok, auth, network, permission, timeout, config, unknown
	Message   string  `json:"message"`
}

// Doctor categories.
const (
	CategoryOK         = "ok"
	CategoryAuth       = "auth"
	CategoryNetwork    = "network"
	CategoryPermission = "permission"
	CategoryTimeout    = "timeout"
	CategoryConfig     = "config"
	CategoryUnknown    = "unknown"
)

// Factory makes a fresh driver for one step.
type Factory func() Driver

var (
	registryMu sync.RWMutex
	factories  = map[string]Factory{}
)

// Register makes a driver available under a component name. It panics on a duplicate,
// which is a programming error caught by any test that imports the driver.
func Register(component string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := factories[component]; dup {
		panic(fmt.Sprintf("drivers: %s registered twice", component))
	}
	factories[component] = f
}

// Lookup returns the factory for a component.
func Lookup(component string) (Factory, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := factories[component]
	return f, ok
}

// Registered lists the component names that have a driver, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(factories))
	for name := range factories {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Error is a driver failure whose message is safe to print: it never holds a password,
// a user@host pair, a DSN or raw server text that might. The cause is kept for errors.Is
// and errors.As but is never printed.
type Error struct {
	Step     string
	Kind     string // config, connection, query, io, data, remote
	Category string // auth, network, timeout, permission, ... where known
	Msg      string
	Cause    error
}

// Error kinds.
const (
	KindConfig     = "config"
	KindConnection = "connection"
	KindQuery      = "query"
	KindIO         = "io"
	KindData       = "data"
	KindRemote     = "remote"
)

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds a print-safe driver error.
func Errorf(step, kind string, cause error, format string, args ...any) *Error {
	return &Error{Step: step, Kind: kind, Msg: fmt.Sprintf(format, args...), Cause: cause}
}
