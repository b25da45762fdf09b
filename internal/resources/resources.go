// Package resources answers osiris:// resource URIs: the embedded schema, guide,
// instructions and use cases, and the files discovery, drafts and memory leave in the
// project. Runtime files are read only from under their own directory; a URI that tries
// to leave it is refused, however it is spelled.
package resources

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/usecases"
)

//go:embed content
var content embed.FS

// URI prefixes of the two schemes.
const (
	mcpPrefix          = "osiris://mcp/"
	instructionsPrefix = "osiris://instructions/"
)

// Error messages. MCP clients see them verbatim, so they stay fixed.
const (
	MsgInvalidScheme   = "Invalid URI scheme"
	MsgInvalidFormat   = "Invalid URI format"
	MsgUnknownType     = "Unknown resource type"
	MsgUnknownArtifact = "Unknown discovery artifact"
	MsgNotFound        = "Resource not found"
	MsgTraversal       = "Path traversal attempt detected"
	MsgReadFailed      = "Failed to read resource"
)

// Error families of the MCP error taxonomy.
const (
	FamilySemantic = "SEMANTIC"
	FamilyPolicy   = "POLICY"
)

// Error is a URI that cannot be read. Message is one of the Msg constants; Detail says
// what was wrong for a person reading it.
type Error struct {
	Family  string
	Message string
	Detail  string
	Err     error
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Message
	}
	return e.Message + ": " + e.Detail
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Code is the stable MCP error code: the family and a suffix derived from the message,
// the way the shim derives codes for messages it has no fixed code for.
func (e *Error) Code() string {
	prefix := map[string]string{FamilySemantic: "SEM", FamilyPolicy: "POL"}[e.Family]
	sum := sha256.Sum256([]byte(e.Message))
	return e.Family + "/" + prefix + strings.ToUpper(hex.EncodeToString(sum[:])[:3])
}

// IsReadFailure reports whether the resource exists but could not be served, an
// operational failure rather than a bad URI.
func (e *Error) IsReadFailure() bool { return e.Message == MsgReadFailed }

func semantic(msg, detail string) *Error {
	return &Error{Family: FamilySemantic, Message: msg, Detail: detail}
}

func traversal(detail string) *Error {
	return &Error{Family: FamilyPolicy, Message: MsgTraversal, Detail: detail}
}

// Dirs are the project directories runtime resources are read from.
type Dirs struct {
	Discovery string // <discovery_id>/<artifact>.json
	Drafts    string // OML drafts
	Memory    string // sessions/<session_id>.jsonl
}

// Content is one resource as served.
type Content struct {
	URI      string `json:"uri"`
	MIMEType string `json:"mime_type"`
	Text     string `json:"text"`
}

// Read serves one URI. dirs is called only for runtime resources, so the static ones
// work without a project.
func Read(uri string, dirs func() (*Dirs, error)) (*Content, error) {
	scheme, segments, err := splitURI(uri)
	if err != nil {
		return nil, err
	}
	if scheme == instructionsPrefix {
		return readInstructions(uri, segments)
	}
	if len(segments) < 2 {
		return nil, semantic(MsgInvalidFormat, "expected osiris://mcp/<type>/<name>")
	}

	switch segments[0] {
	case "schemas":
		if strings.Join(segments, "/") != "schemas/oml/v0.1.0.json" {
			return nil, semantic(MsgNotFound, uri)
		}
		return serve(uri, "v0.1.0.json", oml.SchemaJSON())
	case "prompts":
		if len(segments) != 2 || segments[1] != "oml_authoring_guide.md" {
			return nil, semantic(MsgNotFound, uri)
		}
		return serveEmbedded(uri, "content/oml_authoring_guide.md")
	case "usecases":
		return readUseCase(uri, segments)
	case "discovery", "drafts", "memory":
		d, err := dirs()
		if err != nil {
			return nil, err
		}
		return readRuntime(uri, segments, d)
	}
	return nil, semantic(MsgUnknownType, segments[0])
}

// splitURI checks the scheme and returns the decoded path segments. The path is
// percent-decoded exactly once, then every segment must be a plain name.
func splitURI(uri string) (string, []string, error) {
	var scheme string
	switch {
	case strings.HasPrefix(uri, mcpPrefix):
		scheme = mcpPrefix
	case strings.HasPrefix(uri, instructionsPrefix):
		scheme = instructionsPrefix
	default:
		return "", nil, semantic(MsgInvalidScheme,
			"expected osiris://mcp/... or osiris://instructions/...")
	}
	rest, err := url.PathUnescape(strings.TrimPrefix(uri, scheme))
	if err != nil {
		return "", nil, semantic(MsgInvalidFormat, "bad percent-encoding")
	}
	if rest == "" {
		return "", nil, semantic(MsgInvalidFormat, "no resource named")
	}
	if strings.ContainsAny(rest, "\x00\\") {
		return "", nil, traversal("NUL or backslash in the path")
	}
	if strings.HasPrefix(rest, "/") || filepath.IsAbs(rest) || hasDriveLetter(rest) {
		return "", nil, traversal("absolute path")
	}
	segments := strings.Split(rest, "/")
	for _, s := range segments {
		if s == "" || s == "." || s == ".." {
			return "", nil, traversal("empty, '.' or '..' path segment")
		}
	}
	return scheme, segments, nil
}

func hasDriveLetter(p string) bool {
	return len(p) >= 2 && p[1] == ':' &&
		(p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z')
}

var instructionNames = map[string]bool{"workflow": true, "oml-syntax": true, "best-practices": true}

func readInstructions(uri string, segments []string) (*Content, error) {
	if len(segments) != 1 || !instructionNames[segments[0]] {
		return nil, semantic(MsgNotFound, uri)
	}
	raw, err := content.ReadFile("content/instructions/" + segments[0] + ".md")
	if err != nil {
		return nil, semantic(MsgNotFound, uri)
	}
	return &Content{URI: uri, MIMEType: "text/markdown", Text: string(raw)}, nil
}

func readUseCase(uri string, segments []string) (*Content, error) {
	if len(segments) != 2 || !strings.HasSuffix(segments[1], ".yaml") {
		return nil, semantic(MsgNotFound, uri)
	}
	if segments[1] == "catalog.yaml" {
		return serve(uri, "catalog.yaml", usecases.CatalogYAML())
	}
	id := strings.TrimSuffix(segments[1], ".yaml")
	all, err := usecases.All()
	if err != nil {
		return nil, &Error{Family: FamilySemantic, Message: MsgReadFailed, Err: err}
	}
	for _, uc := range all {
		if uc.ID == id {
			return serve(uri, segments[1], []byte(uc.Example))
		}
	}
	return nil, semantic(MsgNotFound, uri)
}

var discoveryArtifacts = map[string]bool{
	"overview.json": true, "tables.json": true, "samples.json": true,
}

func readRuntime(uri string, segments []string, d *Dirs) (*Content, error) {
	var root string
	var rel []string
	switch segments[0] {
	case "discovery":
		if len(segments) != 3 {
			return nil, semantic(MsgInvalidFormat,
				"expected osiris://mcp/discovery/<discovery_id>/<artifact>.json")
		}
		if !discoveryArtifacts[segments[2]] {
			return nil, semantic(MsgUnknownArtifact, segments[2]+
				"; expected overview.json, tables.json or samples.json")
		}
		root, rel = d.Discovery, segments[1:]
	case "drafts":
		if len(segments) < 3 || segments[1] != "oml" {
			return nil, semantic(MsgNotFound, uri)
		}
		root, rel = d.Drafts, segments[2:]
	case "memory":
		if len(segments) != 3 || segments[1] != "sessions" ||
			!strings.HasSuffix(segments[2], ".jsonl") {
			return nil, semantic(MsgNotFound, uri)
		}
		root, rel = filepath.Join(d.Memory, "sessions"), segments[2:]
	}

	file, err := resolveUnder(root, rel)
	if err != nil {
		if e, ok := err.(*Error); ok && e.Message == MsgNotFound {
			e.Detail = uri
		}
		return nil, err
	}
	raw, err := readFile(file, segments[0] == "memory")
	if err != nil {
		return nil, &Error{Family: FamilySemantic, Message: MsgReadFailed,
			Detail: filepath.Base(file), Err: err}
	}
	return serve(uri, path.Base(strings.Join(rel, "/")), raw)
}

// resolveUnder joins rel to root and follows symlinks; the real file must stay under the
// real root and be a regular file.
func resolveUnder(root string, rel []string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", semantic(MsgNotFound, "")
	}
	// A missing file, a file used as a directory and a symlink loop all mean there is
	// nothing to serve.
	real, err := filepath.EvalSymlinks(filepath.Join(append([]string{root}, rel...)...))
	if err != nil {
		return "", semantic(MsgNotFound, "")
	}
	inside, err := filepath.Rel(realRoot, real)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) ||
		filepath.IsAbs(inside) {
		return "", traversal("the path leads outside its directory")
	}
	info, err := os.Stat(real)
	if err != nil || !info.Mode().IsRegular() {
		return "", semantic(MsgNotFound, "")
	}
	return real, nil
}

// readFile reads a runtime file. Memory files are read under their writer's lock, so a
// capture in progress is never seen half-written.
func readFile(file string, locked bool) ([]byte, error) {
	if !locked {
		return os.ReadFile(file)
	}
	var raw []byte
	err := audit.WithLock(file, func() error {
		var err error
		raw, err = os.ReadFile(file)
		return err
	})
	return raw, err
}

func serveEmbedded(uri, name string) (*Content, error) {
	raw, err := content.ReadFile(name)
	if err != nil {
		return nil, semantic(MsgNotFound, uri)
	}
	return serve(uri, name, raw)
}

// serve sets the MIME type from the file name; JSON is re-indented with two spaces.
func serve(uri, name string, raw []byte) (*Content, error) {
	c := &Content{URI: uri, MIMEType: MIMEType(name), Text: string(raw)}
	if c.MIMEType == "application/json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
			return nil, &Error{Family: FamilySemantic, Message: MsgReadFailed,
				Detail: name + " is not valid JSON", Err: err}
		}
		c.Text = buf.String()
	}
	return c, nil
}

// MIMEType maps a file name to the type MCP clients are told.
func MIMEType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		return "application/json"
	case ".md":
		return "text/markdown"
	case ".yaml", ".yml":
		return "application/x-yaml"
	}
	return "text/plain"
}
