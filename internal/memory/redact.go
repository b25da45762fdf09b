package memory

import (
	"regexp"
	"strings"

	"github.com/osirisgo/osiris/internal/secrets"
)

// memorySecretNames are the key names whose whole value a memory entry never keeps. Beyond
// the connection secrets they name personal identifiers (ssn, card numbers), because a
// chat transcript carries those more often than a connections file does.
var memorySecretNames = []string{
	"password", "passwd", "pass", "pwd", "secret", "key", "token", "auth", "credential",
	"api_key", "apikey", "access_token", "refresh_token", "private_key", "client_secret",
	"service_role_key", "anon_key", "access_key_id", "secret_access_key", "ssn",
	"credit_card", "card_number",
}

// isMemorySecretName applies the memory key rule: the lower-cased key equals a name, or
// one of its "_" parts equals or ends with one (names holding "_" match as a suffix). A
// match on "key" alone does not count for primary and foreign keys, which are column
// lists, not secrets.
func isMemorySecretName(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
	if k == "" {
		return false
	}
	keyVoid := strings.Contains(k, "primary") || strings.Contains(k, "foreign")
	parts := strings.Split(k, "_")
	for _, name := range memorySecretNames {
		if keyVoid && name == "key" {
			continue
		}
		if k == name {
			return true
		}
		if strings.Contains(name, "_") {
			if strings.HasSuffix(k, "_"+name) {
				return true
			}
			continue
		}
		for _, part := range parts {
			if part == name || strings.HasSuffix(part, name) {
				return true
			}
		}
	}
	return false
}

// Limitation: the rules are patterns. Names, street addresses, non-US phone formats, IPv6
// addresses and passwords written as prose pass through; ten-digit numbers in text (order
// ids, Unix timestamps) are taken for phone numbers.
//
// piiRules hide personal data inside free text, in this order: credentials in database
// and web URLs first (so the e-mail rule does not eat "user@host"), then e-mail
// addresses, phone numbers, US social security numbers, card numbers and IPv4 addresses.
// Each rule names a substring its matches cannot lack, so long texts skip rules that
// cannot apply; an empty need means "at least one digit".
var piiRules = []struct {
	re   *regexp.Regexp
	repl string
	need string
}{
	{regexp.MustCompile(`\b((?i:mysql|postgresql|postgres|mongodb|redis|https?)://)[^@\s]+@([^/\s]+)`),
		"${1}***@${2}", "://"},
	{regexp.MustCompile(`\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b`), "***EMAIL***", "@"},
	// A leading "+1" or "(" belongs to the number, so it is hidden with it.
	{regexp.MustCompile(`(?:\+1[-.\s]?|\b1[-.\s]?)?(?:\(\d{3}\)|\b\d{3})[-.\s]?\d{3}[-.\s]?\d{4}\b`),
		"***PHONE***", ""},
	{regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`), "***SSN***", ""},
	{regexp.MustCompile(`\b\d{4}[-\s]?\d{4}[-\s]?\d{4}[-\s]?\d{4}\b`), "***CARD***", ""},
	{regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`), "***IP***", ""},
}

// RedactText hides personal data and credentials in one string and says how many
// replacements it made. After the personal-data rules it applies the product-wide
// credential rules of package secrets (key=value passwords, bearer tokens, known token
// shapes), so a note like "password=hunter2" is hidden too.
func RedactText(s string) (string, int) {
	count := 0
	hasDigit := strings.ContainsAny(s, "0123456789")
	for _, rule := range piiRules {
		if rule.need == "" && !hasDigit || rule.need != "" && !strings.Contains(s, rule.need) {
			continue
		}
		s = rule.re.ReplaceAllStringFunc(s, func(match string) string {
			count++
			return rule.re.ReplaceAllString(match, rule.repl)
		})
	}
	s, n := secrets.RedactTextCount(s)
	return s, count + n
}

// Redact returns a deep copy of v (as decoded from JSON) in which every string is passed
// through RedactText and every value under a secret-named key is replaced by
// ***REDACTED***, with the number of replacements. Keys, numbers, booleans and nulls are
// kept as they are.
//
// A nested object or list under a key that only the product-wide rule calls secret (such
// as "credentials" or "authorization") is searched rather than blanked, so its harmless
// fields survive and its secret-named fields are still hidden; the memory names above
// blank whatever they hold.
func Redact(v any) (any, int) {
	count := 0
	out := redactValue(v, &count)
	return out, count
}

func redactValue(v any, count *int) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			out[k] = redactField(k, val, count)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = redactValue(val, count)
		}
		return out
	case string:
		s, n := RedactText(t)
		*count += n
		return s
	default:
		return v
	}
}

func redactField(key string, val any, count *int) any {
	if val == nil || val == "" {
		return val
	}
	if isMemorySecretName(key) {
		*count++
		return secrets.Redacted
	}
	switch val.(type) {
	case map[string]any, []any:
		return redactValue(val, count)
	}
	if secrets.IsSecretKey(key) {
		*count++
		return secrets.Redacted
	}
	return redactValue(val, count)
}
