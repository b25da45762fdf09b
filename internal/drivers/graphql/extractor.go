// Package graphql is the graphql.extractor driver: it sends a GraphQL query over HTTP,
// follows Relay cursor or offset pagination, and hands each page downstream as one batch,
// so memory stays flat however many pages there are.
package graphql

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/osirisgo/osiris/internal/drivers"
)

// Component is the name pipelines use for this driver.
const Component = "graphql.extractor"

func init() {
	drivers.Register(Component, func() drivers.Driver { return &Extractor{} })
}

// Extractor runs one graphql.extractor step. It also discovers a schema by introspection
// and tests a connection, so one type answers every question asked of the family.
type Extractor struct{}

// Run validates the config, fetches pages until one has rows (to fix the columns) and
// returns a stream whose Next fetches the following pages one at a time.
func (e *Extractor) Run(ctx context.Context, req drivers.Request) (drivers.Result, error) {
	cfg, err := parseConfig(req.StepID, req.Config, true)
	if err != nil {
		return drivers.Result{}, err
	}
	p := newPager(cfg, req.Env)
	p.env.Event("extraction.start", map[string]any{
		"endpoint": cfg.maskedEndpoint(), "auth_type": cfg.authType,
		"pagination_enabled": cfg.paginate, "pagination_mode": cfg.pageMode,
	})
	if !cfg.validateSSL {
		p.log.Warn("TLS certificate verification is off for this step (validate_ssl: false)",
			"step_id", cfg.stepID)
	}

	if err := p.prime(ctx); err != nil {
		return drivers.Result{}, p.fail(err)
	}
	stream := &drivers.FuncStream{Cols: p.columns(), NextFunc: p.next, CloseFunc: p.close}
	return drivers.Result{Rows: stream}, nil
}

// pager walks the pages of one step. It is used by one consumer at a time; close may come
// from another goroutine.
type pager struct {
	cfg    *config
	client *client
	env    drivers.StepEnv
	log    *slog.Logger
	start  time.Time

	variables map[string]any // sent with the next request
	pageSize  int            // rows a full page holds, 0 = unknown
	offset    int
	cursors   map[string]bool
	schema    *schema
	pending   [][]any // the first page's rows, served by the first Next
	done      bool    // no more pages to fetch

	pages    int // pages fetched (= successful requests)
	rowsRead int

	reportOnce sync.Once
}

func newPager(cfg *config, env drivers.StepEnv) *pager {
	if env == nil {
		env = nopEnv{}
	}
	p := &pager{
		cfg: cfg, env: env, log: env.Logger(), start: time.Now(),
		variables: map[string]any{}, cursors: map[string]bool{},
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.client = newClient(cfg, env.Event)
	for k, v := range cfg.variables {
		p.variables[k] = v
	}
	if cfg.pageSize > 0 {
		p.variables[cfg.pageSizeVar] = cfg.pageSize
	}
	p.pageSize = wholeNumber(p.variables[cfg.pageSizeVar])
	if cfg.paginate && cfg.pageMode == pageByOffset {
		p.offset = wholeNumber(p.variables[cfg.offsetVar])
		p.variables[cfg.offsetVar] = p.offset
	}
	return p
}

// wholeNumber reads a page size or offset given in variables; 0 when absent or not a number.
func wholeNumber(v any) int {
	f, ok := toFloat(v)
	if !ok || f < 0 || f > math.MaxInt32 {
		return 0
	}
	return int(f)
}

func (p *pager) columns() []drivers.Column {
	if p.schema == nil {
		return nil
	}
	return p.schema.columns
}

// prime fetches pages until one has items, and fixes the columns from it.
func (p *pager) prime(ctx context.Context) error {
	for {
		items, err := p.fetch(ctx)
		if err == io.EOF {
			p.schema = inferSchema(nil, p.cfg.flattenResult)
			return nil
		}
		if err != nil {
			return err
		}
		if len(items) == 0 {
			continue
		}
		p.schema = inferSchema(items, p.cfg.flattenResult)
		p.schema.unknown = p.unknownField
		rows, err := p.schema.rows(items, p.cfg.flattenResult, p.pages)
		if err != nil {
			return p.dataError(err)
		}
		p.pending = rows
		p.rowsRead += len(rows)
		return nil
	}
}

// next serves the first page, then fetches one page per call.
func (p *pager) next(ctx context.Context) ([][]any, error) {
	if p.pending != nil {
		rows := p.pending
		p.pending = nil
		p.progress(len(rows))
		return rows, nil
	}
	for {
		items, err := p.fetch(ctx)
		if err == io.EOF {
			p.complete()
			return nil, io.EOF
		}
		if err != nil {
			return nil, p.fail(err)
		}
		if len(items) == 0 {
			continue
		}
		rows, err := p.schema.rows(items, p.cfg.flattenResult, p.pages)
		if err != nil {
			return nil, p.fail(p.dataError(err))
		}
		p.rowsRead += len(rows)
		p.progress(len(rows))
		return rows, nil
	}
}

func (p *pager) progress(batch int) {
	p.env.Event("extraction.progress", map[string]any{
		"rows": p.rowsRead, "pages": p.pages, "batch_rows": batch,
	})
}

// fetch requests the next page and returns its items, or io.EOF when pagination is over.
func (p *pager) fetch(ctx context.Context) ([]gjson.Result, error) {
	if p.done {
		return nil, io.EOF
	}
	if ctx.Err() != nil {
		return nil, p.client.cancelled(ctx)
	}

	p.env.Event("extraction.query", map[string]any{
		"page": p.pages + 1, "variables": variableNames(p.variables),
	})
	body, err := p.client.post(ctx, p.cfg.query, p.variables)
	if err != nil {
		return nil, err
	}
	p.pages++

	data := selectPath(body, p.cfg.dataPath)
	if !data.Exists() {
		p.log.Warn("data_path matched nothing in the response; the page has no rows",
			"step_id", p.cfg.stepID, "data_path", p.cfg.dataPath, "page", p.pages)
	}
	items := itemsOf(data)
	cursor := p.advance(body, len(items))
	p.env.Event("extraction.page", map[string]any{
		"page": p.pages, "cursor": cursor, "data_count": len(items),
	})
	return items, nil
}

// advance reads where the next page starts from the response just received, and decides
// whether there is one. It returns the cursor for the next page ("" when none).
func (p *pager) advance(body []byte, items int) string {
	if !p.cfg.paginate {
		p.done = true
		return ""
	}
	if p.cfg.maxPages > 0 && p.pages >= p.cfg.maxPages {
		p.done = true
	}
	if p.cfg.pageMode == pageByOffset {
		if items == 0 || (p.pageSize > 0 && items < p.pageSize) {
			p.done = true
		}
		p.offset += items
		p.variables[p.cfg.offsetVar] = p.offset
		return ""
	}

	info := selectPath(body, p.cfg.pagePath)
	if !info.IsObject() {
		p.log.Warn("pagination_path matched no pageInfo object; stopping",
			"step_id", p.cfg.stepID, "pagination_path", p.cfg.pagePath, "page", p.pages)
		p.done = true
		return ""
	}
	cursor := info.Get(gjson.Escape(p.cfg.cursorField)).String()
	if !info.Get(gjson.Escape(p.cfg.hasNextField)).Bool() {
		p.done = true
		return cursor
	}
	if cursor == "" {
		p.log.Warn("pageInfo says there is a next page but gives no cursor; stopping",
			"step_id", p.cfg.stepID, "page", p.pages)
		p.done = true
		return ""
	}
	if p.cursors[cursor] {
		p.log.Warn("the server returned a cursor it had already returned; stopping",
			"step_id", p.cfg.stepID, "page", p.pages)
		p.done = true
		return cursor
	}
	p.cursors[cursor] = true
	p.variables[p.cfg.cursorVar] = cursor
	return cursor
}

func (p *pager) unknownField(name string) {
	p.log.Warn("a later page has a field the first page did not; it is not extracted",
		"step_id", p.cfg.stepID, "field", name, "page", p.pages)
}

func (p *pager) dataError(err error) error {
	return drivers.Errorf(p.cfg.stepID, drivers.KindData, err,
		"GraphQL response does not fit the columns of the first page: %s", err.Error())
}

// fail reports a failure, releases the connections and returns the error, print-safe.
func (p *pager) fail(err error) error {
	var de *drivers.Error
	if !errors.As(err, &de) {
		de = drivers.Errorf(p.cfg.stepID, drivers.KindRemote, err, "GraphQL extraction failed")
	}
	p.env.Event("extraction.error", map[string]any{"error": de.Msg})
	p.log.Error("GraphQL extraction failed", "error", de.Msg, "pages", p.pages)
	p.client.close()
	p.report()
	return de
}

func (p *pager) complete() {
	p.env.Event("extraction.complete", map[string]any{
		"rows": p.rowsRead, "pages": p.pages, "requests": p.pages,
	})
	p.log.Info("GraphQL extraction complete", "rows", p.rowsRead, "pages", p.pages)
	p.client.close()
	p.report()
}

// close ends the step for the consumer: idle connections go, metrics are written once.
func (p *pager) close() error {
	p.client.close()
	p.report()
	return nil
}

func (p *pager) report() {
	p.reportOnce.Do(func() {
		p.env.Metric("rows_read", p.rowsRead, "rows")
		p.env.Metric("requests_made", p.pages, "requests")
		p.env.Metric("pages_fetched", p.pages, "pages")
		p.env.Metric("duration_ms", time.Since(p.start).Milliseconds(), "ms")
	})
}

func variableNames(vars map[string]any) []string {
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// nopEnv stands in when a caller (discovery, doctor) has no step environment.
type nopEnv struct{}

func (nopEnv) OutputDir() string            { return "" }
func (nopEnv) BasePath() string             { return "" }
func (nopEnv) Metric(string, any, string)   {}
func (nopEnv) Event(string, map[string]any) {}
func (nopEnv) Logger() *slog.Logger         { return slog.New(slog.DiscardHandler) }
