package remote

import (
	"strings"
	"testing"
)

func TestLineSplitterRebuildsLinesAcrossChunks(t *testing.T) {
	var got []string
	s := NewLineSplitter(func(line []byte) { got = append(got, string(line)) })
	input := "first line\nsécond ligne\r\n\nthird"
	// Split at every byte, including inside the two-byte 'é'.
	for i := 0; i < len(input); i++ {
		_, _ = s.Write([]byte{input[i]})
	}
	if len(got) != 3 {
		t.Fatalf("before Flush got %q, want three complete lines", got)
	}
	s.Flush()
	want := []string{"first line", "sécond ligne", "", "third"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestLineSplitterCutsOverlongLines(t *testing.T) {
	var got []string
	s := NewLineSplitter(func(line []byte) { got = append(got, string(line)) })
	s.max = 10
	_, _ = s.Write([]byte("0123456789abcdef"))
	_, _ = s.Write([]byte("ghij\nnext\n"))
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(got), got)
	}
	if !strings.HasPrefix(got[0], "0123456789 …[line truncated, 10 bytes dropped]") {
		t.Errorf("overlong line = %q, want the first 10 bytes and a marker", got[0])
	}
	if got[1] != "next" {
		t.Errorf("line after the overlong one = %q, want %q", got[1], "next")
	}
}
