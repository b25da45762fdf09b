package filesystem

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// recordReader splits CSV text into records. It is written here rather than taken from
// encoding/csv because the quote character is configurable and every error must name the
// line where its record started.
type recordReader struct {
	src         *bufio.Reader
	delimiter   byte
	quote       byte // 0 = no quoting
	comment     byte // 0 = none
	line        int  // physical lines consumed so far
	recordStart int  // line where the last returned record started
	field       bytes.Buffer
	fields      []string
}

// errBareQuote is a quote inside an unquoted field or stray text after a closing quote.
var errBareQuote = errors.New("unexpected quote character")

func newRecordReader(r io.Reader, delimiter, quote, comment byte) *recordReader {
	return &recordReader{
		src: bufio.NewReaderSize(r, 256*1024), delimiter: delimiter, quote: quote,
		comment: comment,
	}
}

// skipLine drops one physical line, for skip_rows.
func (rr *recordReader) skipLine() error {
	for {
		_, err := rr.src.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			rr.line++
			return nil
		}
		return err
	}
}

// next returns the fields of the next record (reused between calls) and whether the line
// was blank. It returns io.EOF after the last record.
func (rr *recordReader) next() ([]string, bool, error) {
	rr.fields = rr.fields[:0]
	rr.field.Reset()
	rr.recordStart = rr.line + 1

	first, err := rr.src.ReadByte()
	if err == io.EOF {
		return nil, false, io.EOF
	}
	if err != nil {
		return nil, false, err
	}
	if rr.comment != 0 && first == rr.comment {
		if err := rr.skipLine(); err != nil && err != io.EOF {
			return nil, false, err
		}
		if err == io.EOF {
			rr.line++
		}
		return nil, true, nil
	}
	if first == '\n' || first == '\r' {
		rr.endOfLine(first)
		return nil, true, nil
	}
	_ = rr.src.UnreadByte()

	for {
		c, err := rr.src.ReadByte()
		if err == io.EOF {
			rr.line++
			rr.fields = append(rr.fields, rr.field.String())
			return rr.fields, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		switch {
		case c == rr.quote && rr.quote != 0 && rr.field.Len() == 0:
			if err := rr.quoted(); err != nil {
				return nil, false, err
			}
			continue
		case c == rr.quote && rr.quote != 0:
			return nil, false, fmt.Errorf("line %d: %w in an unquoted field", rr.line+1, errBareQuote)
		case c == rr.delimiter:
			rr.fields = append(rr.fields, rr.field.String())
			rr.field.Reset()
			continue
		case c == '\n' || c == '\r':
			rr.endOfLine(c)
			rr.fields = append(rr.fields, rr.field.String())
			return rr.fields, false, nil
		}
		rr.field.WriteByte(c)
	}
}

// endOfLine consumes the rest of a line ending ("\r\n", "\n" or a lone "\r").
func (rr *recordReader) endOfLine(c byte) {
	rr.line++
	if c == '\r' {
		if next, err := rr.src.ReadByte(); err == nil && next != '\n' {
			_ = rr.src.UnreadByte()
		}
	}
}

// quoted reads a quoted field up to its closing quote, then expects a delimiter or the end
// of the line, which it leaves unread.
func (rr *recordReader) quoted() error {
	startLine := rr.line + 1
	for {
		c, err := rr.src.ReadByte()
		if err == io.EOF {
			return fmt.Errorf("line %d: quoted field never closed", startLine)
		}
		if err != nil {
			return err
		}
		if c == '\n' {
			rr.line++
		}
		if c != rr.quote {
			rr.field.WriteByte(c)
			continue
		}
		next, err := rr.src.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if next == rr.quote {
			rr.field.WriteByte(c)
			continue
		}
		_ = rr.src.UnreadByte()
		if next != rr.delimiter && next != '\n' && next != '\r' {
			return fmt.Errorf("line %d: %w after a closing quote", rr.line+1, errBareQuote)
		}
		return nil
	}
}
