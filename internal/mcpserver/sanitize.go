package mcpserver

import (
	"encoding/json"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Audit previews: arguments whose compact JSON passes previewLimit are kept as a string
// of their first previewKeep bytes, so one huge OML document does not bloat the log.
const (
	previewLimit = 4096
	previewKeep  = 2048
)

var placeholderOnly = regexp.MustCompile(`^\$\{[^}]+\}$`)

// maskForAudit copies v with secret-named values masked (unresolved ${VAR} placeholders
// kept, since they are names) and every string redacted. memory turns on the personal
// data rules that memory_capture arguments also get.
func maskForAudit(v any, memory bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			s, isString := val.(string)
			switch {
			case secrets.IsSecretKey(k) && !(isString && (s == "" || placeholderOnly.MatchString(s))) &&
				val != nil:
				out[k] = secrets.Masked
			default:
				out[k] = maskForAudit(val, memory)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = maskForAudit(val, memory)
		}
		return out
	case string:
		s := bridge.RedactMessage(t)
		if memory {
			s = redactPersonalData(s)
		}
		return s
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

// auditArguments is the audit form of a call's arguments: masked, and cut to a preview
// string when large. raw is used only when the arguments could not be decoded (too
// large to parse, or not JSON); it is then previewed as redacted text.
func auditArguments(decoded map[string]any, raw []byte, memory bool) any {
	if decoded == nil {
		text := bridge.RedactMessage(string(raw[:min(len(raw), 2*bridge.MaxMessageBytes)]))
		if len(raw) > previewLimit {
			return truncatedPreview(text, len(raw))
		}
		return text
	}
	masked := maskForAudit(decoded, memory)
	compact, err := json.Marshal(masked)
	if err != nil {
		return map[string]any{}
	}
	// Long strings were already cut by the redaction; the total is the real size.
	if len(compact) > previewLimit || len(raw) > previewLimit {
		return truncatedPreview(string(compact), max(len(raw), len(compact)))
	}
	return masked
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
