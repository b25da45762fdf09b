package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Error families. Every tool error carries exactly one, so a client can branch on the
// kind of problem (bad input, unknown thing, unreachable source, lint, policy).
const (
	FamilySchema    = "SCHEMA"
	FamilySemantic  = "SEMANTIC"
	FamilyDiscovery = "DISCOVERY"
	FamilyLint      = "LINT"
	FamilyPolicy    = "POLICY"
	FamilyInternal  = "INTERNAL"
)

// codePattern ties one lower-case message fragment to a code suffix.
type codePattern struct {
	fragment string
	suffix   string
	order    int
}

// messageCodes lists, per suffix, the message fragments that select it. The order here
// breaks ties between fragments of equal length.
var messageCodes = []struct {
	suffix    string
	fragments []string
}{
	{"OML001", []string{"missing required field: name"}},
	{"OML002", []string{"missing required field: steps"}},
	{"OML003", []string{"missing required field: version"}},
	{"OML004", []string{"missing required field"}},
	{"OML005", []string{"invalid type"}},
	{"OML006", []string{"invalid format"}},
	{"OML007", []string{"unknown property"}},
	{"OML010", []string{"yaml parse error", "oml parse error"}},
	{"OML020", []string{"intent is required"}},
	{"SEM001", []string{"unknown tool"}},
	{"SEM002", []string{"invalid connection"}},
	{"SEM003", []string{"invalid component"}},
	{"SEM004", []string{"circular dependency"}},
	{"SEM005", []string{"duplicate name"}},
	{"DISC001", []string{"connection not found"}},
	{"DISC002", []string{"source unreachable"}},
	{"DISC003", []string{"permission denied"}},
	{"DISC005", []string{"invalid schema"}},
	{"LINT001", []string{"naming convention"}},
	{"LINT002", []string{"deprecated feature"}},
	{"LINT003", []string{"performance warning"}},
	{"POL001", []string{"consent required"}},
	{"POL002", []string{"payload too large"}},
	{"POL003", []string{"rate limit exceeded"}},
	{"POL004", []string{"unauthorized"}},
	{"POL005", []string{"forbidden operation"}},
	{"E_CONN_SECRET_MISSING", []string{"missing environment variable", "environment variable",
		"not set"}},
	{"E_CONN_AUTH_FAILED", []string{"authentication failed", "invalid password",
		"invalid credentials"}},
	{"E_CONN_REFUSED", []string{"connection refused"}},
	{"E_CONN_DNS", []string{"dns resolution failed", "no such host", "name or service not known"}},
	{"E_CONN_UNREACHABLE", []string{"could not connect", "network is unreachable",
		"unreachable host"}},
	{"E_CONN_TIMEOUT", []string{"connection timeout", "request timeout", "timed out", "timeout"}},
}

// orderedPatterns holds every fragment, longest first, so "missing required field: name"
// wins over "missing required field" whatever the listing order.
var orderedPatterns = func() []codePattern {
	var out []codePattern
	for _, entry := range messageCodes {
		for _, fragment := range entry.fragments {
			out = append(out, codePattern{fragment: fragment, suffix: entry.suffix, order: len(out)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if len(out[i].fragment) != len(out[j].fragment) {
			return len(out[i].fragment) > len(out[j].fragment)
		}
		return out[i].order < out[j].order
	})
	return out
}()

// MatchSuffix returns the code suffix whose fragment occurs in message (case-insensitive,
// longest fragment first), or "" when none does.
func MatchSuffix(message string) string {
	lower := strings.ToLower(message)
	for _, p := range orderedPatterns {
		if strings.Contains(lower, p.fragment) {
			return p.suffix
		}
	}
	return ""
}

// FamilyOfSuffix is the family a code suffix belongs to, or "" for an unknown suffix.
func FamilyOfSuffix(suffix string) string {
	switch {
	case suffix == "E_CONN_TIMEOUT":
		return FamilyDiscovery
	case strings.HasPrefix(suffix, "E_CONN_"):
		return FamilySemantic
	case strings.HasPrefix(suffix, "OML"):
		return FamilySchema
	case strings.HasPrefix(suffix, "SEM"):
		return FamilySemantic
	case strings.HasPrefix(suffix, "DISC"):
		return FamilyDiscovery
	case strings.HasPrefix(suffix, "LINT"):
		return FamilyLint
	case strings.HasPrefix(suffix, "POL"):
		return FamilyPolicy
	}
	return ""
}

// familyPrefix is the suffix prefix of a family's hashed fallback codes.
var familyPrefix = map[string]string{
	FamilySchema: "OML", FamilySemantic: "SEM", FamilyDiscovery: "DISC", FamilyLint: "LINT",
	FamilyPolicy: "POL", FamilyInternal: "INT",
}

// FamilyOfExitCode is the family of a CLI failure whose message names no known problem.
func FamilyOfExitCode(exitCode int) string {
	switch exitCode {
	case 2:
		return FamilySchema
	case 124:
		return FamilyDiscovery
	}
	return FamilySemantic
}

// DeriveCode gives a message its family and full code ("FAMILY/SUFFIX"). A message that
// matches no fragment keeps fallbackFamily and gets a suffix hashed from its text, so the
// same message always yields the same code.
func DeriveCode(message, fallbackFamily string) (family, code string) {
	if suffix := MatchSuffix(message); suffix != "" {
		family = FamilyOfSuffix(suffix)
		return family, family + "/" + suffix
	}
	family = fallbackFamily
	if familyPrefix[family] == "" {
		family = FamilySemantic
	}
	sum := sha256.Sum256([]byte(message))
	suffix := familyPrefix[family] + strings.ToUpper(hex.EncodeToString(sum[:])[:3])
	return family, family + "/" + suffix
}

// DocumentCode gives a CLI error document that carries no code its family and code. A
// message naming a problem of the taxonomy keeps that fixed code; otherwise the
// document's error_type becomes the suffix ("not_found" → NOT_FOUND) under the family of
// the exit code, so "Run not found: r1" and "Run not found: r2" share one code. Only a
// document without error_type gets a code hashed from its message.
func DocumentCode(message, errorType string, exitCode int) (family, code string) {
	fallback := FamilyOfExitCode(exitCode)
	if MatchSuffix(message) != "" {
		return DeriveCode(message, fallback)
	}
	suffix := errorTypeSuffix(errorType)
	if suffix == "" {
		return DeriveCode(message, fallback)
	}
	family = fallback
	if named := FamilyOfSuffix(suffix); named != "" {
		family = named
	}
	return family, family + "/" + suffix
}

// errorTypeSuffix upper-cases a snake_case error type into a code suffix: letters,
// digits and single underscores, at most 64 characters.
func errorTypeSuffix(errorType string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToUpper(errorType) {
		switch {
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(r)
		default:
			gap = true
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}

// SuggestForCode is the hint shown with a connection error code, or "".
func SuggestForCode(code string) string {
	_, suffix, _ := strings.Cut(code, "/")
	switch suffix {
	case "E_CONN_AUTH_FAILED":
		return "Verify the user name and password of the connection in osiris_connections.yaml."
	case "E_CONN_SECRET_MISSING":
		return "Check that the environment variables the connection names are set (or in .env)."
	case "E_CONN_REFUSED":
		return "Check that the database service is running and listening on the configured port."
	case "E_CONN_DNS":
		return "Check the host name of the connection."
	case "E_CONN_UNREACHABLE":
		return "Check the network path and firewall between this machine and the host."
	case "E_CONN_TIMEOUT":
		return "Check the network, or raise OSIRIS_MCP_TOOL_TIMEOUT if the source is slow."
	}
	return ""
}
