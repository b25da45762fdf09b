package oml

import (
	"bytes"
	"regexp"
	"strings"
)

// refToken is a bare connection reference such as @mysql.shop.
var refToken = regexp.MustCompile(`^@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*`)

// blockScalarStart ends a line that opens a literal or folded block scalar.
var blockScalarStart = regexp.MustCompile(`(?:^|[:\-]\s+|^\s*)[|>][0-9+-]*\s*(?:#.*)?$`)

// QuoteReferences puts double quotes around bare @family.alias scalars, which YAML
// cannot parse because "@" is reserved. Only a whole scalar is quoted: e-mail addresses,
// URLs, quoted strings, comments and block scalar text stay as written. Lines are never
// added or removed, so line numbers of the result match the input.
func QuoteReferences(src []byte) []byte {
	if !bytes.Contains(src, []byte("@")) {
		return src
	}
	lines := strings.Split(string(src), "\n")
	blockIndent := -1 // indent of the line that opened a block scalar, -1 = none
	for i, line := range lines {
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		if blockIndent >= 0 {
			if strings.TrimSpace(line) == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		lines[i] = quoteLine(line)
		if blockScalarStart.MatchString(stripComment(lines[i])) {
			blockIndent = indent
		}
	}
	return []byte(strings.Join(lines, "\n"))
}

// quoteLine quotes every bare reference on one line that starts a scalar (after
// indentation, "- ", ": ", "[", "{" or ", ") and ends it (end of line, " #", ",", "]",
// "}").
func quoteLine(line string) string {
	if !strings.Contains(line, "@") {
		return line
	}
	var out strings.Builder
	inSingle, inDouble := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case inDouble:
			if c == '\\' && i+1 < len(line) {
				out.WriteByte(c)
				i++
				c = line[i]
			} else if c == '"' {
				inDouble = false
			}
		case inSingle:
			if c == '\'' {
				inSingle = false
			}
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			out.WriteString(line[i:])
			return out.String()
		case c == '"' && startsScalar(line, i):
			inDouble = true
		case c == '\'' && startsScalar(line, i):
			inSingle = true
		case c == '@' && startsScalar(line, i):
			ref := refToken.FindString(line[i:])
			if ref != "" && endsScalar(line, i+len(ref)) {
				out.WriteString(`"` + ref + `"`)
				i += len(ref) - 1
				continue
			}
		}
		out.WriteByte(c)
	}
	return out.String()
}

// startsScalar reports whether position i is where a scalar may begin.
func startsScalar(line string, i int) bool {
	j := i - 1
	for j >= 0 && (line[j] == ' ' || line[j] == '\t') {
		j--
	}
	if j < 0 {
		return true
	}
	switch line[j] {
	case '[', '{', ',':
		return true
	case ':', '-':
		return j < i-1 && (j == 0 || line[j] != '-' || isSpaceOrStart(line, j-1))
	}
	return false
}

func isSpaceOrStart(line string, j int) bool {
	return j < 0 || line[j] == ' ' || line[j] == '\t'
}

// endsScalar reports whether position i is where a plain scalar ends.
func endsScalar(line string, i int) bool {
	rest := strings.TrimLeft(line[i:], " \t")
	if rest == "" || strings.HasPrefix(rest, "#") && (i < len(line) && line[i] != '#') {
		return true
	}
	return rest[0] == ',' || rest[0] == ']' || rest[0] == '}'
}

// stripComment removes a trailing " # comment" outside quotes (roughly), so a block
// scalar indicator followed by a comment is still recognised.
func stripComment(line string) string {
	if i := strings.Index(line, " #"); i >= 0 && !strings.ContainsAny(line[:i], `"'`) {
		return line[:i]
	}
	return line
}
