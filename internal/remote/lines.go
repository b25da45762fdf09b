package remote

import (
	"bytes"
	"fmt"
)

// MaxLineBytes is the longest output line kept whole; longer lines are cut and marked, so
// one runaway line cannot exhaust the host's memory.
const MaxLineBytes = 1 << 20

// LineSplitter rebuilds lines from output that arrives in arbitrary chunks: a chunk may
// end in the middle of a line (or of a UTF-8 rune). Each complete line, without its
// newline, goes to the callback; the slice is only valid during the call. It is not safe
// for concurrent use.
type LineSplitter struct {
	onLine   func(line []byte)
	max      int
	pending  []byte
	dropping int // bytes dropped from the current over-long line
}

// NewLineSplitter returns a splitter calling onLine for every complete line.
func NewLineSplitter(onLine func(line []byte)) *LineSplitter {
	return &LineSplitter{onLine: onLine, max: MaxLineBytes}
}

// truncatedMarker ends a line that was cut at MaxLineBytes.
func truncatedMarker(dropped int) string {
	return fmt.Sprintf(" …[line truncated, %d bytes dropped]", dropped)
}

// Write takes the next chunk. It never fails.
func (s *LineSplitter) Write(chunk []byte) (int, error) {
	n := len(chunk)
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			s.add(chunk)
			break
		}
		s.add(chunk[:i])
		s.emit()
		chunk = chunk[i+1:]
	}
	return n, nil
}

// Flush delivers a last line that had no newline.
func (s *LineSplitter) Flush() {
	if len(s.pending) > 0 || s.dropping > 0 {
		s.emit()
	}
}

func (s *LineSplitter) add(part []byte) {
	room := s.max - len(s.pending)
	if room >= len(part) {
		s.pending = append(s.pending, part...)
		return
	}
	if room > 0 {
		s.pending = append(s.pending, part[:room]...)
	}
	s.dropping += len(part) - max(room, 0)
}

func (s *LineSplitter) emit() {
	line := bytes.TrimSuffix(s.pending, []byte("\r"))
	if s.dropping > 0 {
		line = append(line, truncatedMarker(s.dropping)...)
	}
	s.onLine(line)
	s.pending = s.pending[:0]
	s.dropping = 0
}
