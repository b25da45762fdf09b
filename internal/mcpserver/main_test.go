package mcpserver

import (
	"bytes"
	"strings"
	"testing"
)

// A bad command line exits 2 with a message on stderr, before any server starts and
// without writing to stdout (which belongs to the protocol).
func TestBadCommandLineIsAUsageError(t *testing.T) {
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown flag":        {[]string{"--bogus"}, "unknown flag: --bogus"},
		"positional argument": {[]string{"serve"}, `unexpected argument "serve"`},
		"after a flag":        {[]string{"--debug", "a", "b"}, `unexpected arguments "a" "b"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(c.args, strings.NewReader(""), &stdout, &stderr, "v-test")
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), c.want) ||
				!strings.Contains(stderr.String(), "Usage: osiris-mcp") {
				t.Errorf("stderr %q lacks %q and the usage", stderr.String(), c.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

func TestHelpPrintsUsageAndExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--help"}, strings.NewReader(""), &stdout, &stderr, "v"); code != 0 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(stderr.String(), "--base-path") {
		t.Errorf("stderr %q", stderr.String())
	}
}
