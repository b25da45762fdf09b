// Package secrets is the one place that decides what a secret is and how it is hidden.
//
// Every writer of user-visible text (JSON output, logs, events, audit, manifests, error
// messages) asks this package, so a new secret-looking field is masked everywhere at once.
package secrets

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask tokens. Displays and cleaned configs use Masked, logs and free text use Stars, memory
// uses Redacted. Users of the Python product know all three, so they stay distinct.
const (
	Masked   = "***MASKED***"
	Stars    = "***"
	Redacted = "***REDACTED***"
)

// Secret is a string that never prints itself. Use Reveal where the real value is needed
// (building a connector), and nowhere else.
type Secret string

// Reveal returns the real value.
func (s Secret) Reveal() string { return string(s) }

// String hides the value from fmt and string concatenation through Stringer.
func (s Secret) String() string { return Stars }

// Format hides the value from every fmt verb, including %#v and %q.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Stars)) }

// LogValue hides the value from slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Stars) }

// MarshalJSON hides the value from encoding/json.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(Stars) }

// secretNames are key names that hold a secret wherever they appear. A key matches when it
// equals a name or when one of its "_" parts equals or ends with one.
var secretNames = []string{
	"password", "passwd", "pass", "pwd", "secret", "key", "token", "auth", "credential",
	"credentials", "api_key", "apikey", "access_token", "refresh_token", "private_key",
	"client_secret", "service_role_key", "anon_key", "access_key_id", "secret_access_key",
	"authorization", "bearer", "dsn", "connection_string", "secret_key", "service_key",
	"auth_token", "bearer_token", "client_key", "encryption_key", "session_key", "sql_dsn",
	"pg_dsn", "pg_password", "auth_username", "access_key",
}

// structuralNames look like secrets by their parts but are not: counts, ids and key
// column lists.
var structuralNames = map[string]bool{
	"primary_key": true, "primary_keys": true, "foreign_key": true, "foreign_keys": true,
	"upsert_keys": true, "token_count": true, "tokens": true, "key_columns": true,
	"keys": true, "sort_key": true, "partition_key": true, "auth_type": true,
	"auth_header_name": true, "idempotency_key": true, "cache_key": true,
	"redactions_applied": true, "keys_removed": true, "on_conflict_key": true,
	"x-secret": true, "secrets": true, "api_key_header": true,
}

// IsSecretKey reports whether a config, event or argument key holds a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(strings.TrimSpace(key))
	k = strings.ReplaceAll(k, "-", "_")
	if k == "" || structuralNames[k] || strings.HasSuffix(k, "_tokens") {
		return false
	}
	if strings.Contains(k, "primary") || strings.Contains(k, "foreign") {
		return false
	}
	for _, name := range secretNames {
		if k == name {
			return true
		}
	}
	if strings.Contains(k, "password") || strings.Contains(k, "secret") ||
		strings.Contains(k, "token") || strings.Contains(k, "credential") {
		return true
	}
	for _, part := range strings.Split(k, "_") {
		for _, name := range secretNames {
			if !strings.Contains(name, "_") && (part == name || strings.HasSuffix(part, name)) {
				return true
			}
		}
	}
	for _, name := range secretNames {
		if strings.Contains(name, "_") && strings.HasSuffix(k, name) {
			return true
		}
	}
	return false
}

// IsSecretHeader reports whether an HTTP header carries a credential. Names compare
// lower-cased without "-" and "_".
func IsSecretHeader(name string) bool {
	n := strings.ToLower(name)
	n = strings.NewReplacer("-", "", "_", "").Replace(n)
	switch n {
	case "authorization", "proxyauthorization", "apikey", "xapikey", "xsupabaseapikey",
		"cookie", "xaccesstoken", "xauthtoken":
		return true
	}
	return IsSecretKey(name)
}

// MaskMap returns a deep copy of v with every secret-named value replaced by token.
// Values that are still unresolved placeholders (${VAR}) stay visible, because they are
// names, not secrets.
func MaskMap(v any, token string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if IsSecretKey(k) && !isPlaceholderOnly(val) && !isEmpty(val) {
				if _, nested := val.(map[string]any); nested && k == "headers" {
					out[k] = maskHeaders(val.(map[string]any), token)
					continue
				}
				out[k] = token
				continue
			}
			if k == "headers" {
				if hm, ok := val.(map[string]any); ok {
					out[k] = maskHeaders(hm, token)
					continue
				}
			}
			out[k] = MaskMap(val, token)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = MaskMap(val, token)
		}
		return out
	case string:
		return RedactText(t)
	default:
		return v
	}
}

func maskHeaders(h map[string]any, token string) map[string]any {
	out := make(map[string]any, len(h))
	for name, val := range h {
		if isPlaceholderOnly(val) {
			out[name] = val
			continue
		}
		out[name] = token
	}
	return out
}

var placeholderOnly = regexp.MustCompile(`^\$\{[^}]+\}$`)

func isPlaceholderOnly(v any) bool {
	s, ok := v.(string)
	return ok && placeholderOnly.MatchString(s)
}

func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && s == ""
}

// Free-text patterns, applied in order by RedactText.
var textRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	// scheme://user:password@host keeps the user and hides the password.
	{regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@\s]*@`), "${1}:***@"},
	{regexp.MustCompile(`(?i)(Authorization\s*[:=]\s*(?:Bearer|Basic|Token)?\s*)[^\s"',;]+`),
		"${1}***"},
	{regexp.MustCompile(`(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}`), "${1} ***"},
	{regexp.MustCompile(`(?i)("(?:[a-z_]*(?:password|passwd|pwd|secret|token|api_?key|` +
		`access_key|private_key|dsn|auth)[a-z_]*)"\s*:\s*)"(?:[^"\\]|\\.)*"`), `${1}"***"`},
	{regexp.MustCompile(`(?i)\b([a-z_]*(?:password|passwd|pwd|secret|token|api_?key|` +
		`access_key|private_key|apikey)[a-z_]*)(\s*[=:]\s*)([^\s&;,"']+)`), "${1}${2}***"},
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`), Stars},
	{regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`), Stars},
	{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,}\b`), Stars},
	{regexp.MustCompile(`\bxox[abpors]-[A-Za-z0-9-]{10,}\b`), Stars},
	{regexp.MustCompile(`\be2b_[A-Za-z0-9]{16,}\b`), Stars},
}

// RedactText hides credentials that appear inside free text: DSN passwords, bearer
// tokens, key=value pairs, JSON secret fields and well-known token shapes.
func RedactText(s string) string {
	for _, rule := range textRules {
		s = rule.re.ReplaceAllString(s, rule.repl)
	}
	return s
}

// Redactor hides the literal secret values of one run (passwords read from the
// environment, tokens from a connections file) wherever they appear, on top of RedactText.
// It is safe for concurrent use.
type Redactor struct {
	mu     sync.RWMutex
	values []string
}

// NewRedactor returns an empty redactor.
func NewRedactor() *Redactor { return &Redactor{} }

// minLiteralLen keeps short values ("1", "root") from blanking unrelated text.
const minLiteralLen = 6

// Add registers literal secret values. Values shorter than six characters are only hidden
// by key-based rules, so that common words do not vanish from every log line.
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range values {
		if len(v) < minLiteralLen {
			continue
		}
		r.values = append(r.values, v)
	}
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

// AddFromMap registers every secret-named string value found in m, at any depth.
func (r *Redactor) AddFromMap(m map[string]any) {
	for k, v := range m {
		switch t := v.(type) {
		case string:
			if IsSecretKey(k) {
				r.Add(t)
			}
		case map[string]any:
			if IsSecretKey(k) {
				for _, hv := range t {
					if s, ok := hv.(string); ok {
						r.Add(s)
					}
				}
			}
			r.AddFromMap(t)
		}
	}
}

// Redact applies the literal values and then RedactText.
func (r *Redactor) Redact(s string) string {
	if r != nil {
		r.mu.RLock()
		for _, v := range r.values {
			s = strings.ReplaceAll(s, v, Stars)
		}
		r.mu.RUnlock()
	}
	return RedactText(s)
}

// RedactValue applies Redact to every string inside v and masks secret-named keys. Use it
// for event payloads and other structured records.
func (r *Redactor) RedactValue(v any) any { return r.redactValue(v, true) }

// RedactStrings applies Redact to every string inside v and, unlike RedactValue, does not
// blank secret-named keys: for documents already masked by key (a cleaned config), whose
// ***MASKED*** tokens must stay as they are while stray literal secrets still go.
func (r *Redactor) RedactStrings(v any) any { return r.redactValue(v, false) }

func (r *Redactor) redactValue(v any, maskKeys bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if maskKeys && IsSecretKey(k) && !isEmpty(val) && !isPlaceholderOnly(val) {
				out[k] = Stars
				continue
			}
			out[k] = r.redactValue(val, maskKeys)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = r.redactValue(val, maskKeys)
		}
		return out
	case []string:
		out := make([]string, len(t))
		for i, val := range t {
			out[i] = r.Redact(val)
		}
		return out
	case string:
		return r.Redact(t)
	case error:
		return r.Redact(t.Error())
	default:
		return v
	}
}

// RedactTextCount is RedactText that also reports how many replacements it made, for
// writers that must say how much they hid (memory capture reports redactions_applied).
func RedactTextCount(s string) (string, int) {
	count := 0
	for _, rule := range textRules {
		s = rule.re.ReplaceAllStringFunc(s, func(match string) string {
			count++
			return rule.re.ReplaceAllString(match, rule.repl)
		})
	}
	return s, count
}
