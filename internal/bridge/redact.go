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

// MaxMessageBytes bounds what RedactMessage returns. Messages are for people; a longer
// text is cut first, which also keeps the pattern scan cheap on huge inputs.
const MaxMessageBytes = 4096

// RedactMessage hides credentials in a message that leaves the shim (an error envelope,
// an audit or telemetry string): URL user info, key=value secrets, and everything the
// shared secrets rules know. A text over MaxMessageBytes is cut, at a space when one is
// near, and the unfinished last word is dropped so a half secret is never shown.
func RedactMessage(s string) string {
	if len(s) > MaxMessageBytes {
		s = cutAtWord(s, MaxMessageBytes) + " … [cut]"
	}
	return RedactText(s)
}

// RedactText applies the rules of RedactMessage to the whole of s, however long, without
// cutting it. Callers that keep only part of a long text redact that part with it.
func RedactText(s string) string {
	s = userinfoPattern.ReplaceAllString(s, "${1}***@")
	s = keyValuePattern.ReplaceAllString(s, "${1}=***")
	return secrets.RedactText(s)
}

// collapseSpace turns every run of whitespace into one space and trims the ends.
func collapseSpace(s string) string {
	return strings.TrimSpace(whitespaceRun.ReplaceAllString(s, " "))
}

// cutAtWord returns s cut to at most n bytes, without its last, possibly partial, word.
func cutAtWord(s string, n int) string {
	cut := s[:n]
	if i := strings.LastIndexAny(cut, " \t\n"); i >= 0 {
		return cut[:i]
	}
	return ""
}
