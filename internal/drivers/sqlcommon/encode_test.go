package sqlcommon

import "testing"

func TestAppendEscaped(t *testing.T) {
	in := "a\\b\tc\nd\re\x00f"
	if got := string(AppendEscaped([]byte("x|"), in, true)); got != `x|a\\b\tc\nd\re\0f` {
		t.Errorf("with NUL escaping: %q", got)
	}
	if got := string(AppendEscaped(nil, in, false)); got != "a\\\\b\\tc\\nd\\re\x00f" {
		t.Errorf("without NUL escaping: %q", got)
	}
}

func TestPhraseFallsBackForUnknownCategories(t *testing.T) {
	if Phrase("auth") != "Authentication failed" || Phrase("no such") != "Connection test failed" {
		t.Errorf("phrases: %q, %q", Phrase("auth"), Phrase("no such"))
	}
}
