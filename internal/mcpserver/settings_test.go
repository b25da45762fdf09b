package mcpserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func lookupOf(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// The cache lifetime follows the discovery cache's own rule (fractional hours allowed;
// invalid, negative or absurd values warn and give 24), and every clamped tunable warns.
func TestSettingsParseLikeTheirUsersAndWarnWhenClamped(t *testing.T) {
	cases := []struct {
		name, value string
		get         func(Settings) float64
		want        float64
		warning     string // "" means no warning
	}{
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "0.01", ttlOf, 0.01, ""},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "0", ttlOf, 0, ""},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "48", ttlOf, 48, ""},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "-1", ttlOf, 24, "OSIRIS_MCP_CACHE_TTL_HOURS"},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "soon", ttlOf, 24, "OSIRIS_MCP_CACHE_TTL_HOURS"},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "NaN", ttlOf, 24, "OSIRIS_MCP_CACHE_TTL_HOURS"},
		{"OSIRIS_MCP_CACHE_TTL_HOURS", "1e9", ttlOf, 24, "OSIRIS_MCP_CACHE_TTL_HOURS"},
		{"OSIRIS_MCP_PAYLOAD_LIMIT_MB", "8", payloadOf, 8, ""},
		{"OSIRIS_MCP_PAYLOAD_LIMIT_MB", "200", payloadOf, 100, "above the maximum 100"},
		{"OSIRIS_MCP_PAYLOAD_LIMIT_MB", "0", payloadOf, 1, "below the minimum 1"},
		{"OSIRIS_MCP_MEMORY_RETENTION_DAYS", "1000", retentionOf, 730, "above the maximum 730"},
		{"OSIRIS_MCP_MEMORY_RETENTION_DAYS", "-5", retentionOf, 0, "below the minimum 0"},
		{"OSIRIS_MCP_MEMORY_RETENTION_DAYS", "30", retentionOf, 30, ""},
	}
	for _, c := range cases {
		s := LoadSettings(lookupOf(map[string]string{c.name: c.value}))
		if got := c.get(s); got != c.want {
			t.Errorf("%s=%s: got %v, want %v", c.name, c.value, got, c.want)
		}
		warnings := strings.Join(s.Warnings, "\n")
		switch {
		case c.warning == "" && warnings != "":
			t.Errorf("%s=%s: unexpected warning %q", c.name, c.value, warnings)
		case c.warning != "" && !strings.Contains(warnings, c.warning):
			t.Errorf("%s=%s: warnings %q lack %q", c.name, c.value, warnings, c.warning)
		}
	}
}

func ttlOf(s Settings) float64       { return s.CacheTTLHours }
func payloadOf(s Settings) float64   { return float64(s.PayloadLimitMB) }
func retentionOf(s Settings) float64 { return float64(s.MemoryRetentionDays) }

// Without OSIRIS_CLI the printed settings name the CLI the shim would run, not "".
func TestDocumentShowsTheResolvedCLI(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "osiris")
	if err := os.WriteFile(cli, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	doc := LoadSettings(lookupOf(nil)).Document()
	if doc["cli"] != cli || doc["cli_found"] != true {
		t.Errorf("cli %v (found %v), want %s", doc["cli"], doc["cli_found"], cli)
	}

	doc = LoadSettings(lookupOf(map[string]string{"OSIRIS_CLI": filepath.Join(dir, "none")})).
		Document()
	if doc["cli"] != "" || doc["cli_found"] != false {
		t.Errorf("missing CLI shown as %v (found %v)", doc["cli"], doc["cli_found"])
	}
}
