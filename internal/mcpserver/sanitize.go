package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"unicode/utf8"

	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/jsonvalue"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Audit previews: arguments whose compact JSON passes previewLimit are kept as a string
// of their first previewKeep bytes, so one huge OML document does not bloat the log.
// previewScan is how much of one long string is redacted to fill a preview.
const (
	previewLimit = 4096
	previewKeep  = 2048
	previewScan  = 64 << 10
)

var placeholderOnly = regexp.MustCompile(`^\$\{[^}]+\}$`)

// masksWhole reports whether the value under key is replaced as a whole by the secret
// mask: a secret-named key, unless its value is empty or only an unresolved ${VAR}
// placeholder (a name, not a secret).
func masksWhole(key string, val any) bool {
	if val == nil || !secrets.IsSecretKey(key) {
		return false
	}
	s, isString := val.(string)
	return !isString || s != "" && !placeholderOnly.MatchString(s)
}

// auditMasker gives the values of a call's arguments their audit form: secret-named
// values masked and every string redacted. memory turns on the personal data rules that
// memory_capture arguments also get.
type auditMasker struct {
	memory bool
	// redact hides credentials in one string.
	redact func(string) string
}

func (m auditMasker) text(s string) string {
	s = m.redact(s)
	if m.memory {
		s = redactPersonalData(s)
	}
	return s
}

// value copies v in its audit form.
func (m auditMasker) value(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			if masksWhole(k, val) {
				out[k] = secrets.Masked
			} else {
				out[k] = m.value(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = m.value(val)
		}
		return out
	case string:
		return m.text(t)
	}
	return v
}

// Personal data patterns for memory_capture arguments, applied in order. The first
// keeps the scheme and host of a URL and hides its user info.
var personalDataRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`\b((?i:mysql|postgresql|postgres|mongodb|redis|https?)://)[^@\s]+@([^/\s]+)`),
		"${1}***@${2}"},
	{regexp.MustCompile(`\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b`), "***EMAIL***"},
	{regexp.MustCompile(`\b(?:\+?1[-.\s]?)?\(?\d{3}\)?[-.\s]?\d{3}[-.\s]?\d{4}\b`), "***PHONE***"},
	{regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), "***SSN***"},
	{regexp.MustCompile(`\b\d{4}[-\s]?\d{4}[-\s]?\d{4}[-\s]?\d{4}\b`), "***CARD***"},
	{regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`), "***IP***"},
}

func redactPersonalData(s string) string {
	for _, rule := range personalDataRules {
		s = rule.re.ReplaceAllString(s, rule.repl)
	}
	return s
}

// auditArguments is the audit form of a call's arguments: masked, and when their compact
// JSON (raw) passes previewLimit, a string of the first previewKeep bytes of the masked
// JSON followed by the total size. decoded is nil when the arguments could not be
// decoded (too large to parse, or not JSON); raw is then previewed as redacted text.
func auditArguments(decoded map[string]any, raw []byte, memory bool) any {
	if memory {
		if decoded == nil {
			return omittedMarker(len(raw))
		}
		decoded = omitMemoryText(decoded)
	}
	if decoded == nil {
		text := redactForPreview(string(raw[:min(len(raw), 4*previewScan)]))
		if len(raw) > previewLimit {
			return truncatedPreview(text, len(raw))
		}
		return text
	}
	if len(raw) <= previewLimit {
		masked := auditMasker{memory: memory, redact: bridge.RedactMessage}.value(decoded)
		if compact, err := json.Marshal(masked); err == nil && len(compact) <= previewLimit {
			return masked
		}
	}
	w := previewWriter{masker: auditMasker{memory: memory, redact: redactForPreview}}
	w.write(decoded)
	return truncatedPreview(w.buf.String(), len(raw))
}

// memoryIdentifiers are the memory_capture arguments audited as given (masked and
// redacted): short identifiers and flags, not prose.
var memoryIdentifiers = map[string]bool{
	"session_id": true, "consent": true, "retention_days": true, "oml_uri": true,
}

// omitMemoryText copies memory_capture arguments with every free-text string (intent,
// notes, decisions, actor_trace, artifacts, error_report and any other) replaced by a
// marker with its size. A user may paste a connection password into notes; only the CLI
// knows the connection secrets, and it stores the redacted text in the memory store.
func omitMemoryText(args map[string]any) map[string]any {
	out := make(map[string]any, len(args))
	for k, v := range args {
		if memoryIdentifiers[k] {
			out[k] = v
			continue
		}
		out[k] = omitText(v)
	}
	return out
}

func omitText(v any) any {
	return jsonvalue.MapStrings(v, func(s string) string { return omittedMarker(len(s)) })
}

// omittedMarker stands for a text of size bytes left out of the audit log.
func omittedMarker(size int) string { return fmt.Sprintf("***OMITTED*** (%d bytes)", size) }

// redactForPreview redacts the start of a long string, enough to fill a preview. When
// the redaction shrank that start so much that the preview could reach its cut end (where
// a secret may be split and unrecognisable), the whole string is redacted instead.
func redactForPreview(s string) string {
	if len(s) <= previewScan {
		return bridge.RedactText(s)
	}
	redacted := bridge.RedactText(utf8Prefix(s, previewScan))
	if len(redacted) < 2*previewKeep {
		return bridge.RedactText(s)
	}
	return redacted
}

// previewWriter writes the compact JSON of masked arguments, in the key order of
// encoding/json, and stops once it holds more than a preview keeps: the rest of a huge
// call is never masked nor encoded.
type previewWriter struct {
	buf    bytes.Buffer
	masker auditMasker
}

func (w *previewWriter) full() bool { return w.buf.Len() > previewKeep }

func (w *previewWriter) write(v any) {
	if w.full() {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.buf.WriteByte('{')
		for i, k := range keys {
			if w.full() {
				return
			}
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.scalar(k)
			w.buf.WriteByte(':')
			if masksWhole(k, t[k]) {
				w.scalar(secrets.Masked)
			} else {
				w.write(t[k])
			}
		}
		w.buf.WriteByte('}')
	case []any:
		w.buf.WriteByte('[')
		for i, val := range t {
			if w.full() {
				return
			}
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.write(val)
		}
		w.buf.WriteByte(']')
	case string:
		w.scalar(w.masker.text(t))
	default:
		w.scalar(t)
	}
}

func (w *previewWriter) scalar(v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		raw = []byte("null")
	}
	w.buf.Write(raw)
}

func truncatedPreview(text string, total int) string {
	return fmt.Sprintf("%s... [TRUNCATED: %d bytes total]", utf8Prefix(text, previewKeep), total)
}

// utf8Prefix is the longest prefix of s of at most n bytes that does not split a rune.
func utf8Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// redactValue redacts every string inside v (error details from the CLI).
func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = redactValue(val)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = redactValue(val)
		}
		return out
	case string:
		return bridge.RedactMessage(t)
	}
	return v
}
