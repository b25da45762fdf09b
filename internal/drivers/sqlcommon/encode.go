package sqlcommon

// AppendEscaped appends s in the backslash escaping that MySQL's LOAD DATA and
// PostgreSQL's COPY text formats share: backslash, tab, newline and carriage return become
// \\, \t, \n and \r. A NUL byte becomes \0 when escapeNUL is set (MySQL) and is copied
// as is otherwise (PostgreSQL's writer refuses or removes it before).
func AppendEscaped(b []byte, s string, escapeNUL bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == 0 && escapeNUL:
			b = append(b, '\\', '0')
		default:
			b = append(b, c)
		}
	}
	return b
}
