// Package discovery lists what a connection holds (tables, columns, row counts, sample
// rows) through the family's drivers.Discoverer, writes the overview, tables and samples
// artifacts an assistant reads back, and keeps the result in a persistent cache that every
// request consults: two processes asking the same question share one answer until it
// expires.
package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/osirisgo/osiris/internal/discovery/keys"
	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/secrets"
)

// ArtifactURIPrefix starts the resource URI of every discovery artifact.
const ArtifactURIPrefix = "osiris://mcp/discovery/"

// Request is one discovery of one connection.
type Request struct {
	ConnectionID   string // "@family.alias"
	Family         string
	Alias          string
	Component      string // validated by the caller against the family and its modes
	Samples        int    // sample rows per table; 0 = none
	IdempotencyKey string
	Refresh        bool // ignore a fresh entry and discover again
	// Connection is the resolved connection (secrets included). It reaches only the
	// Discoverer; its secret values are scrubbed from everything written or printed.
	Connection map[string]any
	BasePath   string
	// Timeout bounds the source's work (0 = none); waiting for another process that is
	// discovering the same id is bounded by the caller's context only.
	Timeout time.Duration
	// SessionID names the command session that logs this discovery; a fresh document
	// carries it, a cached one keeps the session that made it.
	SessionID string
}

// Artifacts are the resource URIs of a discovery's files.
type Artifacts struct {
	Overview string `json:"overview"`
	Tables   string `json:"tables"`
	Samples  string `json:"samples"`
}

// CacheInfo tells a caller which request it made and how long the answer stays fresh.
type CacheInfo struct {
	CacheKey   string    `json:"cache_key"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	TTLSeconds float64   `json:"ttl_seconds"`
}

// Result is the discovery document both 'osiris discovery run' and 'osiris mcp discovery
// run' print. Tables holds JSON-shaped values (numbers as json.Number) so a document
// read back from the cache prints exactly as it was first printed.
type Result struct {
	DiscoveryID  string    `json:"discovery_id"`
	Cached       bool      `json:"cached"`
	ConnectionID string    `json:"connection_id"`
	Family       string    `json:"family"`
	Alias        string    `json:"alias"`
	Component    string    `json:"component"`
	Samples      int       `json:"samples"`
	Tables       any       `json:"tables"`
	TablesFound  int       `json:"tables_found"`
	Warnings     []string  `json:"warnings,omitempty"`
	DurationMS   int64     `json:"duration_ms"`
	SessionID    string    `json:"session_id"`
	Artifacts    Artifacts `json:"artifacts"`
	Cache        CacheInfo `json:"cache"`
	Status       string    `json:"status"`
}

// Error is a discovery that could not be served; its message is safe to print. Kind says
// why: unsupported (no discoverer for the component), source (the source failed), cache
// (the cache directory could not be written).
type Error struct {
	Kind string
	Msg  string
	Err  error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error kinds.
const (
	KindUnsupported = "unsupported"
	KindSource      = "source"
	KindCache       = "cache"
)

// Service runs discoveries through the cache.
type Service struct {
	Cache *Cache
	// Lookup finds the Discoverer of a component; nil means drivers.LookupDiscoverer.
	Lookup func(component string) (drivers.Discoverer, bool)
	Logger *slog.Logger
}

// Run answers a request from a fresh cache entry when there is one (unless Refresh), else
// discovers, writes artifacts and entry, and returns the new document. While one process
// discovers an id, others asking for it wait and then read its entry.
func (s *Service) Run(ctx context.Context, req Request) (*Result, error) {
	discoveryID := keys.DiscoveryID(req.ConnectionID, req.Component, req.Samples)
	cacheKey := keys.CacheKey(req.ConnectionID, req.Component, req.Samples,
		req.IdempotencyKey)

	if !req.Refresh {
		if e := s.Cache.Lookup(discoveryID); e != nil {
			if res, err := s.fromEntry(e, cacheKey); err == nil {
				return res, nil
			}
		}
	}

	unlock, err := s.Cache.Lock(ctx, discoveryID)
	if err != nil {
		return nil, &Error{Kind: KindCache, Msg: "could not lock the discovery cache", Err: err}
	}
	defer unlock()

	if !req.Refresh {
		if e := s.Cache.LookupLocked(discoveryID); e != nil {
			if res, err := s.fromEntry(e, cacheKey); err == nil {
				return res, nil
			}
		}
	}
	return s.discover(ctx, req, discoveryID, cacheKey)
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// fromEntry turns a cache entry into the caller's document: the stored document with
// cached true and the entry's times under the caller's cache_key.
func (s *Service) fromEntry(e *Entry, cacheKey string) (*Result, error) {
	var res Result
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil || res.DiscoveryID != e.DiscoveryID {
		s.logger().Warn("discovery cache entry holds an unreadable document",
			"discovery_id", e.DiscoveryID)
		return nil, errors.New("unreadable cached document")
	}
	res.Cached = true
	res.Cache = CacheInfo{CacheKey: cacheKey, CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt,
		TTLSeconds: e.TTLSeconds}
	res.Status = "success"
	return &res, nil
}

// discover asks the source, writes the artifacts, then the entry. The caller holds the
// discovery_id's lock.
func (s *Service) discover(ctx context.Context, req Request, discoveryID,
	cacheKey string) (*Result, error) {
	lookup := s.Lookup
	if lookup == nil {
		lookup = drivers.LookupDiscoverer
	}
	discoverer, ok := lookup(req.Component)
	if !ok {
		return nil, &Error{Kind: KindUnsupported, Msg: fmt.Sprintf(
			"component %s cannot discover: no discovery driver is built into this osiris",
			req.Component)}
	}

	redactor := secrets.NewRedactor()
	redactor.AddFromMap(req.Connection)

	sourceCtx := ctx
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		sourceCtx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}
	started := time.Now()
	found, err := discoverer.Discover(sourceCtx, driverConfig(req.Connection),
		drivers.DiscoverOptions{Samples: req.Samples, BasePath: req.BasePath})
	duration := time.Since(started)
	if err != nil {
		return nil, sourceError(err, redactor, req)
	}
	if found == nil {
		found = &drivers.Discovery{}
	}

	tables, samples, err := scrubTables(found.Tables, req.Samples, redactor)
	if err != nil {
		return nil, &Error{Kind: KindSource, Msg: "discovery returned values that cannot be " +
			"written as JSON", Err: err}
	}
	warnings := make([]string, 0, len(found.Warnings))
	for _, w := range found.Warnings {
		warnings = append(warnings, redactor.Redact(w))
	}

	now := s.Cache.now()
	if req.SessionID == "" {
		req.SessionID = fmt.Sprintf("discovery_%d", now.UnixMilli())
	}
	res := &Result{
		DiscoveryID:  discoveryID,
		ConnectionID: req.ConnectionID,
		Family:       req.Family,
		Alias:        req.Alias,
		Component:    req.Component,
		Samples:      req.Samples,
		Tables:       tables,
		TablesFound:  len(found.Tables),
		Warnings:     warnings,
		DurationMS:   duration.Milliseconds(),
		SessionID:    req.SessionID,
		Artifacts:    artifactURIs(discoveryID),
		Status:       "success",
	}
	if err := s.writeArtifacts(res, tables, samples, now); err != nil {
		return nil, &Error{Kind: KindCache, Msg: "could not write discovery artifacts", Err: err}
	}

	data, err := json.Marshal(res)
	if err != nil {
		return nil, &Error{Kind: KindCache, Msg: "could not encode the discovery", Err: err}
	}
	entry := s.Cache.NewEntry(Entry{
		DiscoveryID: discoveryID, CacheKey: cacheKey, ConnectionID: req.ConnectionID,
		ComponentID: req.Component, Samples: req.Samples, IdempotencyKey: req.IdempotencyKey,
		Data: data,
	})
	if err := s.Cache.Put(entry); err != nil {
		return nil, &Error{Kind: KindCache, Msg: "could not write the discovery cache entry",
			Err: err}
	}
	res.Cache = CacheInfo{CacheKey: cacheKey, CreatedAt: entry.CreatedAt,
		ExpiresAt: entry.ExpiresAt, TTLSeconds: entry.TTLSeconds}
	return res, nil
}

// driverConfig hands the Discoverer the connection both ways drivers read it: as the
// step config's resolved_connection and as top-level keys.
func driverConfig(conn map[string]any) map[string]any {
	cfg := make(map[string]any, len(conn)+1)
	for k, v := range conn {
		cfg[k] = v
	}
	cfg["resolved_connection"] = conn
	return cfg
}

// sourceError keeps a driver's print-safe message and hides anything else a library said.
func sourceError(err error, redactor *secrets.Redactor, req Request) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindSource, Msg: fmt.Sprintf(
			"discovery of %s timed out", req.ConnectionID), Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var driverErr *drivers.Error
	msg := "discovery of " + req.ConnectionID + " failed"
	if errors.As(err, &driverErr) {
		msg += ": " + redactor.Redact(driverErr.Msg)
	}
	return &Error{Kind: KindSource, Msg: msg, Err: err}
}

func artifactURIs(discoveryID string) Artifacts {
	base := ArtifactURIPrefix + discoveryID + "/"
	return Artifacts{Overview: base + "overview.json", Tables: base + "tables.json",
		Samples: base + "samples.json"}
}

// tableSample is one table's rows in samples.json.
type tableSample struct {
	Table string `json:"table"`
	Rows  any    `json:"rows"`
	Count int    `json:"count"`
}

// scrubTables caps sample rows at the requested count, turns values JSON cannot carry
// (NaN, infinities) into null, masks secret-named columns and the connection's own
// secret values, and returns the tables as JSON-shaped values plus the per-table samples.
func scrubTables(tables []drivers.TableInfo, samples int,
	redactor *secrets.Redactor) ([]any, []tableSample, error) {
	capped := make([]drivers.TableInfo, len(tables))
	for i, t := range tables {
		if len(t.SampleData) > samples {
			t.SampleData = t.SampleData[:samples]
		}
		rows := make([]map[string]any, len(t.SampleData))
		for j, row := range t.SampleData {
			rows[j] = jsonSafeRow(row)
		}
		t.SampleData = rows
		if len(rows) == 0 {
			t.SampleData = nil
		}
		capped[i] = t
	}

	raw, err := json.Marshal(capped)
	if err != nil {
		return nil, nil, err
	}
	var shaped []any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&shaped); err != nil {
		return nil, nil, err
	}

	out := make([]any, len(shaped))
	var perTable []tableSample
	for i, t := range shaped {
		clean, _ := scrub(t, redactor).(map[string]any)
		out[i] = clean
		if rows, ok := clean["sample_data"].([]any); ok {
			perTable = append(perTable, tableSample{Table: tables[i].Name, Rows: rows,
				Count: len(rows)})
		}
	}
	return out, perTable, nil
}

// scrub masks the value of every secret-named key (a "password" column of a sample row)
// and removes the connection's secret values and credential-looking text from strings.
// Limitation: masking goes by name, so a harmless column named key or token is hidden too.
func scrub(v any, redactor *secrets.Redactor) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if secrets.IsSecretKey(k) && val != nil && val != "" {
				out[k] = secrets.Masked
				continue
			}
			out[k] = scrub(val, redactor)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = scrub(val, redactor)
		}
		return out
	case string:
		return redactor.Redact(t)
	}
	return v
}

// jsonSafeRow replaces floats JSON cannot encode with null.
func jsonSafeRow(row map[string]any) map[string]any {
	out := make(map[string]any, len(row))
	for k, v := range row {
		switch f := v.(type) {
		case float64:
			if math.IsNaN(f) || math.IsInf(f, 0) {
				v = nil
			}
		case float32:
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				v = nil
			}
		}
		out[k] = v
	}
	return out
}

// writeArtifacts writes overview.json, tables.json (without sample rows) and samples.json.
func (s *Service) writeArtifacts(res *Result, tables []any, samples []tableSample,
	now time.Time) error {
	overview := map[string]any{
		"discovery_id":  res.DiscoveryID,
		"connection_id": res.ConnectionID,
		"family":        res.Family,
		"alias":         res.Alias,
		"component":     res.Component,
		"tables_found":  res.TablesFound,
		"samples":       res.Samples,
		"duration_ms":   res.DurationMS,
		"session_id":    res.SessionID,
		"timestamp":     now.Truncate(time.Millisecond),
	}
	withoutSamples := make([]any, len(tables))
	for i, t := range tables {
		table, _ := t.(map[string]any)
		copied := make(map[string]any, len(table))
		for k, v := range table {
			if k != "sample_data" {
				copied[k] = v
			}
		}
		withoutSamples[i] = copied
	}
	if samples == nil {
		samples = []tableSample{}
	}
	docs := map[string]any{
		"overview": overview,
		"tables":   map[string]any{"tables": withoutSamples, "count": len(tables)},
		"samples":  map[string]any{"samples": samples, "tables_with_samples": len(samples)},
	}
	for _, name := range artifactNames {
		if err := s.Cache.WriteArtifact(res.DiscoveryID, name, docs[name]); err != nil {
			return err
		}
	}
	return nil
}
