package bridge

import (
	"regexp"
	"strings"

	"github.com/osirisgo/osiris/internal/secrets"
)

var (
	// userinfoPattern hides the whole user:password part of a URL, not just the password:
	// a user name next to a host already tells an attacker half of a login.
	userinfoPattern = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://)[^@\s/]+@`)
	// keyValuePattern hides password=, token=, secret= and key= values up to the next
	// whitespace, '&' or ';'.
	keyValuePattern = regexp.MustCompile(`(?i)\b(password|token|secret|key)=[^\s&;]*`)
	whitespaceRun   = regexp.MustCompile(`\s+`)
)

// RedactMessage hides credentials in a message that leaves the shim (an error envelope,
// an audit or telemetry string): URL user info, key=value secrets, and everything the
// shared secrets rules know.
func RedactMessage(s string) string {
	s = userinfoPattern.ReplaceAllString(s, "${1}***@")
	s = keyValuePattern.ReplaceAllString(s, "${1}=***")
	return secrets.RedactText(s)
}

// collapseSpace turns every run of whitespace into one space and trims the ends.
func collapseSpace(s string) string {
	return strings.TrimSpace(whitespaceRun.ReplaceAllString(s, " "))
}
