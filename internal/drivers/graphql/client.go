package graphql

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/secrets"
)

const (
	// maxResponseBytes bounds one page in memory; a larger page is an error, not an OOM.
	// Limitation: a page is read whole before its rows are handed on.
	maxResponseBytes = 256 << 20
	// maxErrorBodyBytes is how much of a failed response is read to find GraphQL errors.
	maxErrorBodyBytes = 1 << 20
	// drainLimit is how much of an unread body is drained so its connection can be reused.
	drainLimit = 64 << 10
	// maxErrorText cuts server error text in messages.
	maxErrorText = 500
)

// client sends the step's GraphQL requests. It owns its own transport, so closing its idle
// connections at the end of the step touches nobody else's.
type client struct {
	cfg       *config
	http      *http.Client
	transport *http.Transport
	scrubbed  []string
	report    func(name string, fields map[string]any) // nil = no events
	sleep     func(ctx context.Context, d time.Duration) error
}

func newClient(cfg *config, report func(string, map[string]any)) *client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 2
	if !cfg.validateSSL {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // #nosec: user asked
	}
	return &client{
		cfg:       cfg,
		http:      &http.Client{Transport: transport},
		transport: transport,
		scrubbed:  cfg.secretValues(),
		report:    report,
		sleep:     sleepContext,
	}
}

// close drops the client's idle connections. Call it when the step is over, whatever way.
func (c *client) close() { c.transport.CloseIdleConnections() }

func (c *client) event(name string, fields map[string]any) {
	if c.report != nil {
		c.report(name, fields)
	}
}

// scrub hides the step's own credentials and anything credential-shaped in server text,
// and cuts it to a readable length.
func (c *client) scrub(text string) string {
	for _, s := range c.scrubbed {
		text = strings.ReplaceAll(text, s, secrets.Stars)
	}
	text = secrets.RedactText(strings.TrimSpace(text))
	if len(text) > maxErrorText {
		text = text[:maxErrorText] + "…"
	}
	return text
}

// requestError is a failed attempt. transient ones (network, timeout, 429, 5xx) are
// retried; the others end the step at once.
type requestError struct {
	transient  bool
	retryAfter time.Duration
	err        *drivers.Error
}

func (e *requestError) Error() string { return e.err.Msg }

// post sends one GraphQL request, retrying transient failures with exponential backoff
// and jitter, or after the server's Retry-After. It returns the body of a 2xx response
// without GraphQL errors.
func (c *client) post(ctx context.Context, query string, variables map[string]any) (
	[]byte, error) {
	payload, err := encodeRequest(query, variables)
	if err != nil {
		return nil, drivers.Errorf(c.cfg.stepID, drivers.KindConfig, err,
			"Step %s: 'variables' cannot be sent as JSON", c.cfg.stepID)
	}

	attempts := c.cfg.maxRetries + 1
	for attempt := 1; ; attempt++ {
		body, failure := c.attempt(ctx, payload)
		if failure == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, c.cancelled(ctx)
		}
		if !failure.transient {
			return nil, failure.err
		}
		if attempt >= attempts {
			if attempts > 1 {
				c.event("step_retry_exhausted", map[string]any{
					"step_id": c.cfg.stepID, "attempts": attempt, "error": failure.err.Msg,
				})
				failure.err.Msg = fmt.Sprintf("%s (after %d attempts)", failure.err.Msg, attempt)
			}
			return nil, failure.err
		}

		delay := c.backoff(attempt)
		if failure.retryAfter > 0 {
			delay = min(failure.retryAfter, maxRetryAfter)
		}
		c.event("step_retry_attempt", map[string]any{
			"step_id": c.cfg.stepID, "attempt": attempt, "error": failure.err.Msg,
			"next_delay_ms": delay.Milliseconds(),
		})
		if err := c.sleep(ctx, delay); err != nil {
			return nil, c.cancelled(ctx)
		}
	}
}

// backoff is retry_delay doubled per attempt, capped, with ±10 % jitter so that many
// clients do not retry in step.
func (c *client) backoff(attempt int) time.Duration {
	d := c.cfg.retryDelay
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	jitter := 0.9 + 0.2*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func encodeRequest(query string, variables map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"query":`)
	q, err := json.Marshal(query)
	if err != nil {
		return nil, err
	}
	buf.Write(q)
	buf.WriteString(`,"variables":`)
	if variables == nil {
		variables = map[string]any{}
	}
	v, err := json.Marshal(variables)
	if err != nil {
		return nil, err
	}
	buf.Write(v)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// attempt is one HTTP exchange. The response body is always drained (up to 64 KiB) and
// closed before it returns.
func (c *client) attempt(ctx context.Context, payload []byte) ([]byte, *requestError) {
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, c.cfg.endpoint.String(),
		bytes.NewReader(payload))
	if err != nil {
		return nil, c.fatal(drivers.KindConfig, "", err, "GraphQL request could not be built")
	}
	c.setHeaders(req)

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.networkError(ctx, reqCtx, err)
	}
	defer closeBody(resp.Body)

	limit := int64(maxResponseBytes)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		limit = maxErrorBodyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, c.networkError(ctx, reqCtx, err)
	}
	c.event("extraction.response", map[string]any{
		"status_code": resp.StatusCode, "response_size": len(body),
	})
	return c.judge(resp, body, limit)
}

// judge decides what a received response means.
func (c *client) judge(resp *http.Response, body []byte, limit int64) ([]byte, *requestError) {
	status := resp.StatusCode
	if status == http.StatusTooManyRequests || status >= 500 {
		failure := c.fatal(drivers.KindRemote, drivers.CategoryNetwork, nil,
			"GraphQL request failed: HTTP %d", status)
		failure.transient = true
		failure.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, failure
	}
	if int64(len(body)) > limit && status >= 200 && status <= 299 {
		return nil, c.fatal(drivers.KindData, "", nil,
			"GraphQL response larger than %d MiB; use pagination with a smaller page size",
			maxResponseBytes>>20)
	}
	// Limitation: a response with both data and errors fails the step; partial data is
	// not kept.
	if msg, ok := graphQLErrors(body); ok {
		msg = c.scrub(msg)
		if status < 200 || status > 299 {
			msg += fmt.Sprintf(" (HTTP %d)", status)
		}
		return nil, c.fatal(drivers.KindQuery, categoryOf(status), nil, "GraphQL errors: %s",
			msg)
	}
	if status < 200 || status > 299 {
		return nil, c.fatal(drivers.KindRemote, categoryOf(status), nil,
			"GraphQL request failed: HTTP %d", status)
	}
	if !gjson.ValidBytes(body) {
		return nil, c.fatal(drivers.KindData, "", nil,
			"GraphQL response is not valid JSON (HTTP %d)", status)
	}
	return body, nil
}

func categoryOf(status int) string {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return drivers.CategoryAuth
	}
	return ""
}

// graphQLErrors returns the messages of a response's non-empty "errors" list.
func graphQLErrors(body []byte) (string, bool) {
	if !gjson.ValidBytes(body) {
		return "", false
	}
	list := gjson.GetBytes(body, "errors")
	if !list.IsArray() || len(list.Array()) == 0 {
		return "", false
	}
	var msgs []string
	for _, e := range list.Array() {
		if m := e.Get("message"); m.Exists() {
			msgs = append(msgs, m.String())
		} else {
			msgs = append(msgs, e.Raw)
		}
	}
	return strings.Join(msgs, "; "), true
}

func (c *client) fatal(kind, category string, cause error, format string,
	args ...any) *requestError {
	e := drivers.Errorf(c.cfg.stepID, kind, cause, format, args...)
	e.Category = category
	return &requestError{err: e}
}

// networkError words a transport failure without the URL, host or port, and marks it
// transient unless the step itself was cancelled.
func (c *client) networkError(stepCtx, reqCtx context.Context, err error) *requestError {
	if stepCtx.Err() != nil {
		return &requestError{err: c.cancelled(stepCtx)}
	}
	var failure *requestError
	var netErr net.Error
	switch {
	case reqCtx.Err() != nil || (errors.As(err, &netErr) && netErr.Timeout()):
		failure = c.fatal(drivers.KindConnection, drivers.CategoryTimeout, err,
			"GraphQL request timed out after %s", c.cfg.timeout)
	default:
		failure = c.fatal(drivers.KindConnection, drivers.CategoryNetwork, err,
			"GraphQL request failed: cannot reach the server")
	}
	failure.transient = true
	return failure
}

// cancelled is the error for a step whose context ended: cancelled, or past its deadline.
func (c *client) cancelled(ctx context.Context) *drivers.Error {
	e := drivers.Errorf(c.cfg.stepID, drivers.KindConnection, ctx.Err(),
		"GraphQL request cancelled")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.Msg = "GraphQL request stopped: the step's deadline passed"
		e.Category = drivers.CategoryTimeout
	}
	return e
}

// setHeaders applies, in order, the defaults, the auth header and the custom headers, so
// a custom header may replace either.
func (c *client) setHeaders(req *http.Request) {
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", defaultUserAgent)
	switch c.cfg.authType {
	case authBearer:
		req.Header.Set("Authorization", "Bearer "+c.cfg.authToken.Reveal())
	case authBasic:
		pair := c.cfg.authUsername.Reveal() + ":" + c.cfg.authToken.Reveal()
		req.Header.Set("Authorization",
			"Basic "+base64.StdEncoding.EncodeToString([]byte(pair)))
	case authAPIKey:
		req.Header.Set(c.cfg.authHeader, c.cfg.authToken.Reveal())
	}
	for name, value := range c.cfg.headers {
		req.Header.Set(name, value.Reveal())
	}
}

// closeBody drains what is left of a body, up to a limit, then closes it.
func closeBody(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainLimit)
	_ = body.Close()
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date. Zero = absent.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if secs, err := strconv.Atoi(value); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
