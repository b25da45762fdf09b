package graphql

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Authentication schemes a step may ask for.
const (
	authNone   = "none"
	authBearer = "bearer"
	authBasic  = "basic"
	authAPIKey = "api_key"
)

// Pagination modes: Relay pageInfo cursors, or an offset variable advanced by the rows read.
const (
	pageByCursor = "cursor"
	pageByOffset = "offset"
)

// Defaults of the configuration keys.
const (
	defaultTimeout      = 30 * time.Second
	defaultMaxRetries   = 3
	defaultRetryDelay   = time.Second
	maxRetryDelay       = 30 * time.Second
	maxRetryAfter       = 5 * time.Minute
	defaultAuthHeader   = "X-API-Key"
	defaultUserAgent    = "Osiris GraphQL Extractor/1.0"
	defaultDataPath     = "data"
	defaultPagePath     = "data.pageInfo"
	defaultCursorField  = "endCursor"
	defaultHasNextField = "hasNextPage"
	defaultCursorVar    = "after"
	defaultOffsetVar    = "offset"
	defaultPageSizeVar  = "first"
)

// config is a step's validated configuration. Credentials are kept as secrets.Secret so
// that no accidental print of the struct shows them.
type config struct {
	stepID        string
	endpoint      *url.URL
	query         string
	variables     map[string]any
	headers       map[string]secrets.Secret // custom headers, applied after auth
	authType      string
	authToken     secrets.Secret
	authUsername  secrets.Secret
	authHeader    string
	timeout       time.Duration
	maxRetries    int
	retryDelay    time.Duration
	validateSSL   bool
	paginate      bool
	pageMode      string
	pagePath      string
	cursorField   string
	hasNextField  string
	cursorVar     string
	offsetVar     string
	pageSize      int // 0 = not set
	pageSizeVar   string
	maxPages      int // 0 = unlimited
	dataPath      string
	flattenResult bool
}

// parseConfig reads a step's config; the query is optional for discovery and doctor.
// Connection fields (endpoint, auth_*, headers) come from resolved_connection first; keys
// written on the step win over them, except headers, which are merged with the step's
// own taking precedence per name.
func parseConfig(stepID string, raw map[string]any, needQuery bool) (*config, error) {
	merged := mergeConnection(raw)
	r := reader{step: stepID, cfg: merged}
	c := &config{stepID: stepID}

	c.query = strings.TrimSpace(r.str("query", ""))
	endpoint := strings.TrimSpace(r.str("endpoint", ""))
	c.variables = r.object("variables")
	c.headers = map[string]secrets.Secret{}
	for name, v := range r.object("headers") {
		c.headers[name] = secrets.Secret(fmt.Sprint(v))
	}

	c.authToken = secrets.Secret(r.str("auth_token", ""))
	c.authUsername = secrets.Secret(r.str("auth_username", ""))
	c.authType = strings.ToLower(r.str("auth_type", ""))
	if c.authType == "" {
		// A token given without a scheme is meant to be sent: bearer is the common case.
		c.authType = authNone
		if c.authToken != "" {
			c.authType = authBearer
		}
	}
	c.authHeader = r.str("auth_header_name", defaultAuthHeader)

	c.timeout = r.seconds("timeout", defaultTimeout)
	c.maxRetries = r.integer("max_retries", defaultMaxRetries)
	c.retryDelay = r.seconds("retry_delay", defaultRetryDelay)
	c.validateSSL = r.boolean("validate_ssl", true)

	c.paginate = r.boolean("pagination_enabled", false)
	c.pageMode = strings.ToLower(r.str("pagination_mode", pageByCursor))
	c.pagePath = r.str("pagination_path", defaultPagePath)
	c.cursorField = r.str("pagination_cursor_field", defaultCursorField)
	c.hasNextField = r.str("pagination_has_next_field", defaultHasNextField)
	c.cursorVar = r.str("pagination_variable_name", defaultCursorVar)
	c.offsetVar = r.str("offset_variable_name", defaultOffsetVar)
	c.pageSize = r.integer("page_size", 0)
	c.pageSizeVar = r.str("page_size_variable_name", defaultPageSizeVar)
	c.maxPages = r.integer("max_pages", 0)
	c.dataPath = r.str("data_path", defaultDataPath)
	c.flattenResult = r.boolean("flatten_result", true)
	if r.err != nil {
		return nil, r.err
	}

	if endpoint == "" {
		return nil, required(stepID, "endpoint")
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalid(stepID, "endpoint", "must be an http:// or https:// URL")
	}
	c.endpoint = u
	if c.query == "" && needQuery {
		return nil, required(stepID, "query")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *config) check() error {
	switch c.authType {
	case authNone, authBearer, authAPIKey:
	case authBasic:
		if c.authUsername == "" {
			return required(c.stepID, "auth_username")
		}
	default:
		return invalid(c.stepID, "auth_type", "must be one of none, bearer, basic, api_key")
	}
	if c.authType != authNone && c.authToken == "" {
		return required(c.stepID, "auth_token")
	}
	if c.authType == authAPIKey && strings.TrimSpace(c.authHeader) == "" {
		return invalid(c.stepID, "auth_header_name", "must not be empty")
	}
	if c.pageMode != pageByCursor && c.pageMode != pageByOffset {
		return invalid(c.stepID, "pagination_mode", "must be cursor or offset")
	}
	for key, v := range map[string]int{
		"max_retries": c.maxRetries, "page_size": c.pageSize, "max_pages": c.maxPages,
	} {
		if v < 0 {
			return invalid(c.stepID, key, "must not be negative")
		}
	}
	if c.timeout <= 0 {
		return invalid(c.stepID, "timeout", "must be greater than 0")
	}
	if c.retryDelay < 0 {
		return invalid(c.stepID, "retry_delay", "must not be negative")
	}
	return nil
}

// Format keeps the credentials out of every fmt verb: fmt cannot reach the Secret
// methods of unexported fields, so the struct prints a summary instead.
func (c config) Format(f fmt.State, _ rune) {
	endpoint := ""
	if c.endpoint != nil {
		endpoint = c.maskedEndpoint()
	}
	_, _ = fmt.Fprintf(f, "graphql config{step: %s, endpoint: %s, auth_type: %s}",
		c.stepID, endpoint, c.authType)
}

// LogValue keeps the credentials out of slog records in the same way.
func (c config) LogValue() slog.Value { return slog.StringValue(fmt.Sprint(c)) }

// secretValues lists the literal credentials of the step, so that server text echoing one
// of them can be scrubbed before it reaches an error, an event or a log.
func (c *config) secretValues() []string {
	var out []string
	for _, s := range []secrets.Secret{c.authToken, c.authUsername} {
		if s != "" {
			out = append(out, s.Reveal())
		}
	}
	for _, v := range c.headers {
		if v != "" {
			out = append(out, v.Reveal())
		}
	}
	// Longest first, so a token that contains another is replaced whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// maskedEndpoint is the endpoint as events and logs show it: no user info and every
// query-string value hidden, since APIs often take keys there.
func (c *config) maskedEndpoint() string {
	u := *c.endpoint
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{secrets.Stars}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// mergeConnection lays the step's own keys over the resolved connection's.
func mergeConnection(raw map[string]any) map[string]any {
	merged := map[string]any{}
	conn, _ := raw["resolved_connection"].(map[string]any)
	for k, v := range conn {
		merged[k] = v
	}
	for k, v := range raw {
		if k == "resolved_connection" {
			continue
		}
		merged[k] = v
	}
	connHeaders, _ := conn["headers"].(map[string]any)
	stepHeaders, _ := raw["headers"].(map[string]any)
	if connHeaders != nil && stepHeaders != nil {
		headers := map[string]any{}
		for k, v := range connHeaders {
			headers[k] = v
		}
		for k, v := range stepHeaders {
			headers[k] = v
		}
		merged["headers"] = headers
	}
	return merged
}

func required(step, key string) error {
	return drivers.Errorf(step, drivers.KindConfig, nil, "Step %s: '%s' is required", step, key)
}

func invalid(step, key, why string) error {
	return drivers.Errorf(step, drivers.KindConfig, nil, "Step %s: '%s' %s", step, key, why)
}

// reader converts loosely typed config values (JSON numbers, YAML ints, numeric strings)
// and remembers the first bad one.
type reader struct {
	step string
	cfg  map[string]any
	err  error
}

func (r *reader) fail(key, why string) {
	if r.err == nil {
		r.err = invalid(r.step, key, why)
	}
}

func (r *reader) str(key, def string) string {
	v, ok := r.cfg[key]
	if !ok || v == nil {
		return def
	}
	switch t := v.(type) {
	case string:
		return t
	case secrets.Secret:
		return t.Reveal()
	case fmt.Stringer:
		return t.String()
	case bool, int, int64, float64:
		return fmt.Sprint(t)
	}
	r.fail(key, "must be a string")
	return def
}

func (r *reader) number(key string) (float64, bool) {
	v, ok := r.cfg[key]
	if !ok || v == nil {
		return 0, false
	}
	if f, ok := toFloat(v); ok {
		return f, true
	}
	if t, ok := v.(string); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err == nil {
			return f, true
		}
	}
	r.fail(key, "must be a number")
	return 0, false
}

// toFloat reads the number types configs arrive with: JSON numbers (json.Number from the
// manifest, float64 from plain decoding) and YAML or Go integers.
func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int32:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float32:
		return float64(t), true
	case float64:
		return t, true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

func (r *reader) integer(key string, def int) int {
	f, ok := r.number(key)
	if !ok {
		return def
	}
	if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		r.fail(key, "must be a whole number")
		return def
	}
	return int(f)
}

func (r *reader) seconds(key string, def time.Duration) time.Duration {
	f, ok := r.number(key)
	if !ok {
		return def
	}
	if math.IsNaN(f) || f > 24*3600 {
		r.fail(key, "must be a number of seconds up to one day")
		return def
	}
	return time.Duration(f * float64(time.Second))
}

func (r *reader) boolean(key string, def bool) bool {
	v, ok := r.cfg[key]
	if !ok || v == nil {
		return def
	}
	switch t := v.(type) {
	case bool:
		return t
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(t)); err == nil {
			return b
		}
	}
	r.fail(key, "must be true or false")
	return def
}

func (r *reader) object(key string) map[string]any {
	v, ok := r.cfg[key]
	if !ok || v == nil {
		return map[string]any{}
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.fail(key, "must be an object")
		return map[string]any{}
	}
	return m
}
