package resources

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/memory"
)

// project lays out runtime files the way discovery, oml save and memory capture do.
func project(t *testing.T) (*Dirs, string) {
	t.Helper()
	base := t.TempDir()
	logs := filepath.Join(base, ".osiris", "mcp", "logs")
	d := &Dirs{
		Discovery: filepath.Join(logs, "cache"),
		Drafts:    filepath.Join(logs, "cache", "oml"),
		Memory:    filepath.Join(logs, "memory"),
	}
	write := func(p, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(d.Discovery, "disc_0011223344556677", "overview.json"),
		`{"discovery_id":"disc_0011223344556677","tables_found":2}`)
	write(filepath.Join(d.Discovery, "disc_0011223344556677", "tables.json"), `{not json`)
	write(filepath.Join(d.Drafts, "chat_20260301_120000.yaml"), "oml_version: \"0.1.0\"\n")
	write(filepath.Join(d.Drafts, "team", "nested.yml"), "name: x\n")
	write(filepath.Join(base, "outside.txt"), "TOP-SECRET outside the root")
	return d, base
}

func dirsOf(d *Dirs) func() (*Dirs, error) { return func() (*Dirs, error) { return d, nil } }

func TestReadStaticResources(t *testing.T) {
	noProject := func() (*Dirs, error) {
		t.Fatal("a static resource asked for the project")
		return nil, nil
	}
	tests := []struct {
		uri, mime, contains string
	}{
		{"osiris://mcp/schemas/oml/v0.1.0.json", "application/json", `"oml_version"`},
		{"osiris://mcp/prompts/oml_authoring_guide.md", "text/markdown", "# Writing OML"},
		{"osiris://mcp/usecases/catalog.yaml", "application/x-yaml", "id: incremental_sync"},
		{"osiris://mcp/usecases/mysql_to_csv.yaml", "application/x-yaml", "mysql.extractor"},
		{"osiris://instructions/workflow", "text/markdown", "guide_start"},
		{"osiris://instructions/oml-syntax", "text/markdown", "oml_version"},
		{"osiris://instructions/best-practices", "text/markdown", "upsert"},
	}
	for _, tt := range tests {
		c, err := Read(tt.uri, noProject)
		if err != nil {
			t.Errorf("%s: %v", tt.uri, err)
			continue
		}
		if c.URI != tt.uri || c.MIMEType != tt.mime || !strings.Contains(c.Text, tt.contains) {
			t.Errorf("%s: mime %s, text %.80q", tt.uri, c.MIMEType, c.Text)
		}
	}
}

func TestSchemaIsReindentedJSON(t *testing.T) {
	c, err := Read("osiris://mcp/schemas/oml/v0.1.0.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(c.Text), &doc); err != nil || doc["version"] != "0.1.0" {
		t.Fatalf("schema: %v %v", err, doc["version"])
	}
	if !strings.Contains(c.Text, "\n  \"") {
		t.Errorf("schema not indented with two spaces:\n%.200s", c.Text)
	}
}

func TestEveryListedResourceIsReadable(t *testing.T) {
	l, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Resources) != 11 || len(l.ResourceTemplates) != 3 {
		t.Errorf("%d resources, %d templates", len(l.Resources), len(l.ResourceTemplates))
	}
	for _, r := range l.Resources {
		c, err := Read(r.URI, nil)
		if err != nil || c.MIMEType != r.MIMEType {
			t.Errorf("%s: %v (listed %s, served %v)", r.URI, err, r.MIMEType, c)
		}
	}
}

func TestReadRuntimeResources(t *testing.T) {
	d, _ := project(t)
	id, err := memory.Capture(d.Memory, memory.Request{SessionID: "chat-7", Consent: true,
		Events: []any{map[string]any{"notes": "call 415-555-0134"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri, mime, contains string
	}{
		{"osiris://mcp/discovery/disc_0011223344556677/overview.json", "application/json",
			"\"tables_found\": 2"},
		{"osiris://mcp/drafts/oml/chat_20260301_120000.yaml", "application/x-yaml",
			"oml_version"},
		{"osiris://mcp/drafts/oml/team/nested.yml", "application/x-yaml", "name: x"},
		{"osiris://mcp/drafts/oml/chat%5F20260301_120000.yaml", "application/x-yaml",
			"oml_version"},
		{id.MemoryURI, "text/plain", "***PHONE***"},
	}
	for _, tt := range tests {
		c, err := Read(tt.uri, dirsOf(d))
		if err != nil {
			t.Errorf("%s: %v", tt.uri, err)
			continue
		}
		if c.MIMEType != tt.mime || !strings.Contains(c.Text, tt.contains) {
			t.Errorf("%s: mime %s text %q", tt.uri, c.MIMEType, c.Text)
		}
	}
}

func TestReadErrors(t *testing.T) {
	d, base := project(t)
	outside := filepath.Join(base, "outside.txt")
	mustSymlink(t, outside, filepath.Join(d.Drafts, "escape.yaml"))
	mustSymlink(t, base, filepath.Join(d.Drafts, "up"))
	mustSymlink(t, filepath.Join(d.Drafts, "chat_20260301_120000.yaml"),
		filepath.Join(d.Drafts, "alias.yaml"))
	if err := os.MkdirAll(filepath.Join(d.Memory, "sessions"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, outside, filepath.Join(d.Memory, "sessions", "evil.jsonl"))

	tests := []struct {
		name, uri, msg, family string
	}{
		{"other scheme", "file:///etc/passwd", MsgInvalidScheme, FamilySemantic},
		{"http", "https://example.com/x", MsgInvalidScheme, FamilySemantic},
		{"other osiris host", "osiris://other/x/y", MsgInvalidScheme, FamilySemantic},
		{"one segment", "osiris://mcp/schemas", MsgInvalidFormat, FamilySemantic},
		{"nothing", "osiris://mcp/", MsgInvalidFormat, FamilySemantic},
		{"bad escape", "osiris://mcp/drafts/oml/%zz", MsgInvalidFormat, FamilySemantic},
		{"discovery short", "osiris://mcp/discovery/disc_0011223344556677", MsgInvalidFormat,
			FamilySemantic},
		{"aiop", "osiris://mcp/aiop/run/summary.json", MsgUnknownType, FamilySemantic},
		{"unknown type", "osiris://mcp/secrets/all", MsgUnknownType, FamilySemantic},
		{"artifact", "osiris://mcp/discovery/disc_0011223344556677/columns.json",
			MsgUnknownArtifact, FamilySemantic},
		{"missing artifact", "osiris://mcp/discovery/disc_ffff/overview.json", MsgNotFound,
			FamilySemantic},
		{"missing draft", "osiris://mcp/drafts/oml/none.yaml", MsgNotFound, FamilySemantic},
		{"draft dir", "osiris://mcp/drafts/oml/team", MsgNotFound, FamilySemantic},
		{"missing memory", "osiris://mcp/memory/sessions/nobody.jsonl", MsgNotFound,
			FamilySemantic},
		{"memory lock file", "osiris://mcp/memory/sessions/x.jsonl.lock", MsgNotFound,
			FamilySemantic},
		{"unknown use case", "osiris://mcp/usecases/nope.yaml", MsgNotFound, FamilySemantic},
		{"other schema", "osiris://mcp/schemas/oml/v9.json", MsgNotFound, FamilySemantic},
		{"unknown instruction", "osiris://instructions/secrets", MsgNotFound, FamilySemantic},
		{"dot dot", "osiris://mcp/drafts/oml/../../../outside.txt", MsgTraversal, FamilyPolicy},
		{"encoded dot dot", "osiris://mcp/drafts/oml/%2e%2e/%2E%2E/x", MsgTraversal, FamilyPolicy},
		{"encoded slash", "osiris://mcp/drafts/oml/..%2F..%2Foutside.txt", MsgTraversal,
			FamilyPolicy},
		{"absolute", "osiris://mcp//etc/passwd", MsgTraversal, FamilyPolicy},
		{"encoded absolute", "osiris://mcp/%2Fetc%2Fpasswd", MsgTraversal, FamilyPolicy},
		{"drive letter", "osiris://mcp/C:%5Cwindows", MsgTraversal, FamilyPolicy},
		{"nul", "osiris://mcp/drafts/oml/a%00.yaml", MsgTraversal, FamilyPolicy},
		{"raw nul", "osiris://mcp/drafts/oml/a\x00.yaml", MsgTraversal, FamilyPolicy},
		{"backslash", `osiris://mcp/drafts/oml/..\..\outside.txt`, MsgTraversal, FamilyPolicy},
		{"encoded backslash", "osiris://mcp/drafts/oml/..%5Coutside.txt", MsgTraversal,
			FamilyPolicy},
		{"dot segment", "osiris://mcp/drafts/oml/./x.yaml", MsgTraversal, FamilyPolicy},
		{"trailing slash", "osiris://mcp/drafts/oml/", MsgTraversal, FamilyPolicy},
		{"symlink file out", "osiris://mcp/drafts/oml/escape.yaml", MsgTraversal, FamilyPolicy},
		{"symlink dir out", "osiris://mcp/drafts/oml/up/outside.txt", MsgTraversal,
			FamilyPolicy},
		{"memory symlink out", "osiris://mcp/memory/sessions/evil.jsonl", MsgTraversal,
			FamilyPolicy},
		{"invalid json", "osiris://mcp/discovery/disc_0011223344556677/tables.json",
			MsgReadFailed, FamilySemantic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Read(tt.uri, dirsOf(d))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Read(%q) = %v, %v; want %s", tt.uri, c, err, tt.msg)
			}
			if e.Message != tt.msg || e.Family != tt.family {
				t.Errorf("Read(%q): %s %q, want %s %q", tt.uri, e.Family, e.Message, tt.family,
					tt.msg)
			}
			if strings.Contains(e.Error(), "TOP-SECRET") {
				t.Error("error leaks the outside file")
			}
		})
	}

	// A symlink that stays inside its root is served.
	if c, err := Read("osiris://mcp/drafts/oml/alias.yaml", dirsOf(d)); err != nil ||
		!strings.Contains(c.Text, "oml_version") {
		t.Errorf("inside symlink: %v %v", c, err)
	}
}

func TestErrorCodes(t *testing.T) {
	codes := map[string]bool{}
	for _, e := range []*Error{semantic(MsgInvalidScheme, ""), semantic(MsgNotFound, "x"),
		semantic(MsgNotFound, "y"), traversal("z")} {
		codes[e.Code()] = true
		if !strings.HasPrefix(e.Code(), e.Family+"/") || len(e.Code()) != len(e.Family)+7 {
			t.Errorf("code %q", e.Code())
		}
	}
	if len(codes) != 3 {
		t.Errorf("codes must depend on the message only: %v", codes)
	}
	if got := traversal("").Code(); !strings.HasPrefix(got, "POLICY/POL") {
		t.Errorf("traversal code = %s", got)
	}
}

func TestMIMEType(t *testing.T) {
	for name, want := range map[string]string{"a.json": "application/json",
		"b.MD": "text/markdown", "c.yaml": "application/x-yaml", "d.yml": "application/x-yaml",
		"e.jsonl": "text/plain", "f": "text/plain"} {
		if got := MIMEType(name); got != want {
			t.Errorf("MIMEType(%s) = %s, want %s", name, got, want)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
