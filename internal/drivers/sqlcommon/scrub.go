package sqlcommon

import (
	"regexp"
	"strings"
)

// scrubRules remove what a database server or a dialer puts into its text that tells a
// reader who connected from where: quoted user@host pairs, bare user@host, IP addresses,
// host:port pairs and the user named after "user" or "role".
var scrubRules = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`'[^']*'@'[^']*'`), "<user>@<host>"},
	{regexp.MustCompile(`"[^"]*"@"[^"]*"`), "<user>@<host>"},
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.\[\]:_-]+`), "<user>@<host>"},
	{regexp.MustCompile(`(?i)\b(user|role|for)\s+("[^"]*"|'[^']*')`), "${1} <user>"},
	{regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?`), "<address>"},
	{regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`), "<address>"},
	{regexp.MustCompile(`\b([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}\b`), "<address>"},
	{regexp.MustCompile(`\b[A-Za-z0-9][A-Za-z0-9.-]*:\d{2,5}\b`), "<address>"},
	{regexp.MustCompile(`(?i)\b(dial|lookup)\s+[^\s:]+`), "${1} <host>"},
}

// Scrub returns server or network text with users, hosts, addresses and ports removed,
// and with each literal (the step's host, user and password) replaced, so that what is
// left can be shown to a user or written to a log.
func Scrub(text string, literals ...string) string {
	for _, lit := range literals {
		if len(lit) >= 3 {
			text = strings.ReplaceAll(text, lit, "***")
		}
	}
	for _, rule := range scrubRules {
		text = rule.re.ReplaceAllString(text, rule.repl)
	}
	return text
}
