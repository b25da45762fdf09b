package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMCPResourcesListGolden(t *testing.T) {
	r := runCLI(t, t.TempDir(), "", "mcp", "resources", "list", "--json")
	if r.Code != ExitOK {
		t.Fatalf("exit %d %s", r.Code, r.Stdout)
	}
	jsonDoc(t, r)
	assertGolden(t, "mcp_resources_list.json", r.Stdout)
}

func TestMCPResourcesReadStatic(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "", "mcp", "resources", "read", "osiris://mcp/usecases/catalog.yaml",
		"--json")
	if r.Code != ExitOK {
		t.Fatalf("exit %d %s", r.Code, r.Stdout)
	}
	assertGolden(t, "mcp_resources_read_catalog.json", r.Stdout)

	r = runCLI(t, dir, "", "mcp", "resources", "read", "osiris://mcp/schemas/oml/v0.1.0.json",
		"--json")
	doc := jsonDoc(t, r)
	if r.Code != ExitOK || doc["mime_type"] != "application/json" ||
		!strings.Contains(doc["text"].(string), `"0.1.0"`) {
		t.Errorf("schema: exit %d %v", r.Code, doc["mime_type"])
	}

	human := runCLI(t, dir, "", "mcp", "resources", "read", "osiris://instructions/workflow")
	if human.Code != ExitOK || !strings.HasPrefix(human.Stdout, "# Osiris workflow") {
		t.Errorf("human read: %q", human.Stdout)
	}
}

// TestMemoryURIReadsBack captures a session and reads it through its memory_uri.
func TestMemoryURIReadsBack(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, `[{"notes":"card 4111 1111 1111 1111"}]`, "mcp", "memory", "capture",
		"--session-id", "readback", "--consent", "--events", "-", "--json")
	capture := jsonDoc(t, r)
	if r.Code != ExitOK {
		t.Fatalf("capture: %v", capture)
	}
	r = runCLI(t, dir, "", "mcp", "resources", "read", capture["memory_uri"].(string), "--json")
	doc := jsonDoc(t, r)
	text, _ := doc["text"].(string)
	if r.Code != ExitOK || doc["mime_type"] != "text/plain" || !strings.Contains(text, "***CARD***") ||
		strings.Contains(text, "4111") || strings.Count(text, "\n") != 1 {
		t.Errorf("read back: exit %d %v", r.Code, doc)
	}
}

func TestMCPResourcesReadErrors(t *testing.T) {
	dir := t.TempDir()
	drafts := filepath.Join(dir, ".osiris", "mcp", "logs", "cache", "oml")
	if err := os.MkdirAll(drafts, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "osiris_connections.yaml"),
		[]byte("password: S3ntinel-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "osiris_connections.yaml"),
		filepath.Join(drafts, "conn.yaml")); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		uri, message string
		code         int
	}{
		{"https://example.com/x", "Invalid URI scheme", ExitUsage},
		{"osiris://mcp/x", "Invalid URI format", ExitUsage},
		{"osiris://mcp/aiop/x", "Unknown resource type", ExitUsage},
		{"osiris://mcp/discovery/disc_1/columns.json", "Unknown discovery artifact", ExitUsage},
		{"osiris://mcp/drafts/oml/missing.yaml", "Resource not found", ExitUsage},
		{"osiris://mcp/drafts/oml/../../../../osiris_connections.yaml",
			"Path traversal attempt detected", ExitUsage},
		{"osiris://mcp/drafts/oml/%2e%2e%2f%2e%2e%2fosiris_connections.yaml",
			"Path traversal attempt detected", ExitUsage},
		{"osiris://mcp/drafts/oml/conn.yaml", "Path traversal attempt detected", ExitUsage},
	}
	for _, tt := range tests {
		r := runCLI(t, dir, "", "mcp", "resources", "read", tt.uri, "--json")
		doc := jsonDoc(t, r)
		if r.Code != tt.code || doc["message"] != tt.message || doc["status"] != "error" {
			t.Errorf("%s: exit %d %v; want %d %q", tt.uri, r.Code, doc, tt.code, tt.message)
		}
		if strings.Contains(r.Stdout+r.Stderr, "S3ntinel-pw") {
			t.Errorf("%s: output holds the file behind the symlink", tt.uri)
		}
	}

	r := runCLI(t, dir, "", "mcp", "resources", "read", "osiris://mcp/drafts/oml/../x", "--json")
	assertGolden(t, "mcp_resources_read_traversal.json", r.Stdout)
}
