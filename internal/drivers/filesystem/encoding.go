package filesystem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// normaliseEncoding maps the accepted spellings to one name per encoding.
func normaliseEncoding(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "utf-8", "utf8":
		return "utf-8", nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return "latin-1", nil
	case "ascii", "us-ascii":
		return "ascii", nil
	case "utf-16", "utf16":
		return "utf-16", nil
	}
	return "", fmt.Errorf("unsupported encoding %q (use utf-8, latin-1, ascii or utf-16)", name)
}

// decodingReader turns a file in the given encoding into UTF-8. A UTF-8 byte order mark
// is dropped; UTF-16 reads its byte order mark and defaults to little endian without one.
func decodingReader(r io.Reader, encoding string) io.Reader {
	br := bufio.NewReaderSize(r, 64*1024)
	switch encoding {
	case "latin-1":
		return &latin1Reader{src: br}
	case "ascii":
		return &asciiReader{src: br}
	case "utf-16":
		return &utf16Reader{src: br}
	}
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	return br
}

// errEncoding marks bytes that are not valid in the configured encoding.
var errEncoding = errors.New("invalid byte for encoding")

type latin1Reader struct {
	src     *bufio.Reader
	pending []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			l.pending = l.pending[c:]
			n += c
			continue
		}
		b, err := l.src.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		l.pending = utf8.AppendRune(l.pending[:0], rune(b))
	}
	return n, nil
}

type asciiReader struct {
	src    *bufio.Reader
	offset int64
}

func (a *asciiReader) Read(p []byte) (int, error) {
	n, err := a.src.Read(p)
	for i := 0; i < n; i++ {
		if p[i] >= utf8.RuneSelf {
			return i, fmt.Errorf("%w ascii at byte offset %d", errEncoding, a.offset+int64(i))
		}
	}
	a.offset += int64(n)
	return n, err
}

type utf16Reader struct {
	src       *bufio.Reader
	started   bool
	bigEndian bool
	pending   []byte
}

func (u *utf16Reader) unit() (uint16, error) {
	var b [2]byte
	if _, err := io.ReadFull(u.src, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("%w utf-16: odd number of bytes", errEncoding)
		}
		return 0, err
	}
	if u.bigEndian {
		return uint16(b[0])<<8 | uint16(b[1]), nil
	}
	return uint16(b[1])<<8 | uint16(b[0]), nil
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	if !u.started {
		u.started = true
		if bom, err := u.src.Peek(2); err == nil {
			switch {
			case bom[0] == 0xFF && bom[1] == 0xFE:
				_, _ = u.src.Discard(2)
			case bom[0] == 0xFE && bom[1] == 0xFF:
				u.bigEndian = true
				_, _ = u.src.Discard(2)
			}
		}
	}
	n := 0
	for n < len(p) {
		if len(u.pending) > 0 {
			c := copy(p[n:], u.pending)
			u.pending = u.pending[c:]
			n += c
			continue
		}
		first, err := u.unit()
		if err != nil {
			if n > 0 && err == io.EOF {
				return n, nil
			}
			return n, err
		}
		r := rune(first)
		if utf16.IsSurrogate(r) {
			second, err := u.unit()
			if err != nil {
				if err == io.EOF {
					return n, fmt.Errorf("%w utf-16: truncated surrogate pair", errEncoding)
				}
				return n, err
			}
			r = utf16.DecodeRune(r, rune(second))
			if r == utf8.RuneError {
				return n, fmt.Errorf("%w utf-16: invalid surrogate pair", errEncoding)
			}
		}
		u.pending = utf8.AppendRune(u.pending[:0], r)
	}
	return n, nil
}

// encodingWriter turns UTF-8 text into the given encoding. latin-1 and ascii fail on a
// character they cannot hold rather than writing a replacement.
func encodingWriter(w io.Writer, encoding string) io.Writer {
	switch encoding {
	case "latin-1":
		return &narrowWriter{dst: w, max: 0xFF, name: "latin-1"}
	case "ascii":
		return &narrowWriter{dst: w, max: 0x7F, name: "ascii"}
	case "utf-16":
		return &utf16Writer{dst: w}
	}
	return w
}

type narrowWriter struct {
	dst  io.Writer
	max  rune
	name string
	buf  []byte
}

func (n *narrowWriter) Write(p []byte) (int, error) {
	n.buf = n.buf[:0]
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRune(p[i:])
		if r > n.max || (r == utf8.RuneError && size == 1) {
			return i, fmt.Errorf("character %q cannot be written as %s", r, n.name)
		}
		n.buf = append(n.buf, byte(r))
		i += size
	}
	if _, err := n.dst.Write(n.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// utf16Writer writes little-endian UTF-16 with a byte order mark, as spreadsheet tools
// expect.
type utf16Writer struct {
	dst     io.Writer
	started bool
	buf     []byte
}

func (u *utf16Writer) Write(p []byte) (int, error) {
	u.buf = u.buf[:0]
	if !u.started {
		u.started = true
		u.buf = append(u.buf, 0xFF, 0xFE)
	}
	for _, r := range string(p) {
		for _, unit := range utf16.Encode([]rune{r}) {
			u.buf = append(u.buf, byte(unit), byte(unit>>8))
		}
	}
	if _, err := u.dst.Write(u.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
