package oml

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/osirisgo/osiris/internal/registry"
)

func TestQuoteReferences(t *testing.T) {
	cases := map[string]string{
		"connection: @mysql.shop":               `connection: "@mysql.shop"`,
		"  - @mysql.shop":                       `  - "@mysql.shop"`,
		"connection: @mysql.shop  # main db":    `connection: "@mysql.shop"  # main db`,
		"config: {connection: @fs.local, a: 1}": `config: {connection: "@fs.local", a: 1}`,
		"needs: [@a.b, c]":                      `needs: ["@a.b", c]`,
		"email: ops@example.com":                "email: ops@example.com",
		`connection: "@mysql.shop"`:             `connection: "@mysql.shop"`,
		"q: 'x @a.b'":                           "q: 'x @a.b'",
		"# connection: @mysql.shop":             "# connection: @mysql.shop",
		"url: https://u@host.io/x":              "url: https://u@host.io/x",
	}
	for in, want := range cases {
		if got := string(QuoteReferences([]byte(in))); got != want {
			t.Errorf("QuoteReferences(%q) = %q, want %q", in, got, want)
		}
	}

	block := "query: |\n  @not.a.ref\n  SELECT 1\nconnection: @a.b\n"
	want := "query: |\n  @not.a.ref\n  SELECT 1\nconnection: \"@a.b\"\n"
	if got := string(QuoteReferences([]byte(block))); got != want {
		t.Errorf("block scalar: got %q, want %q", got, want)
	}
}

func TestParseCoreSchema(t *testing.T) {
	src := "a: yes\nb: on\nc: 2024-01-01\nd: 012\ne: 1_000\nf: 0x1F\ng: true\nh: ~\n" +
		"i: 1.5\nj: 10\nk: !!str 10\nl: '10'\nm: @mysql.main\n"
	doc, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": "yes", "b": "on", "c": "2024-01-01", "d": int64(12), "e": "1_000",
		"f": int64(31), "g": true, "h": nil, "i": 1.5, "j": int64(10), "k": "10", "l": "10",
		"m": "@mysql.main",
	}
	got := doc.Map()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v (%T), want %#v (%T)", k, got[k], got[k], w, w)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, typ, location string
		line                     int
	}{
		{"syntax", "name: a\nsteps: [\n", "yaml_parse_error", "root", 2},
		{"duplicate key", "name: a\nsteps: []\nname: b\n", "duplicate_key", "name", 3},
		{"two documents", "name: a\n---\nname: b\n", "yaml_parse_error", "root", 2},
		{"tab indent", "name: a\n\tsteps: []\n", "yaml_parse_error", "root", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.src))
			verr, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			is := verr.Issues[0]
			if is.Type != tc.typ || is.Location != tc.location || is.Line != tc.line {
				t.Fatalf("got %+v", is)
			}
			if !strings.HasPrefix(err.Error(), "bad.yaml:") {
				t.Fatalf("message %q does not name the file", err.Error())
			}
		})
	}
}

func TestParseAnchorsAndMerge(t *testing.T) {
	src := "base: &b {path: in.csv, delimiter: ';'}\nstep:\n  <<: *b\n  delimiter: ','\n"
	doc, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	step := doc.Map()["step"].(map[string]any)
	if step["path"] != "in.csv" || step["delimiter"] != "," {
		t.Fatalf("merge: got %v", step)
	}
}

func TestStepsImplicitNeeds(t *testing.T) {
	doc, err := Parse("p.yaml", []byte(csvPipeline+
		"  - id: third\n    component: filesystem.csv_writer\n    mode: write\n"+
		"    needs: []\n    config: {path: x.csv}\n"))
	if err != nil {
		t.Fatal(err)
	}
	steps := doc.Steps()
	if len(steps[0].Needs) != 0 || steps[1].Needs[0] != "read-contacts" || len(steps[2].Needs) != 0 {
		t.Fatalf("needs: %+v", steps)
	}
}

// overlayRegistry adds a writer whose write_mode has no enum and whose primary_key has no
// constraint, to reach the validator's generic writer rules.
func overlayRegistry(t *testing.T) *registry.Registry {
	dir := t.TempDir()
	spec := `name: test.writer
version: 1.0.0
modes: [write]
capabilities: {discover: false}
configSchema:
  type: object
  properties:
    table: {type: string}
    write_mode: {type: string}
    primary_key: {type: array}
  required: [table]
`
	if err := os.MkdirAll(filepath.Join(dir, "components", "test.writer"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(dir, "components", "test.writer", "spec.yaml"),
		[]byte(spec), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Get("test.writer"); !ok {
		t.Fatalf("overlay not loaded: %v", reg.Warnings)
	}
	return reg
}

func TestGenericWriterRules(t *testing.T) {
	reg := overlayRegistry(t)
	cases := []struct{ extra, typ, severity, location string }{
		{"write_mode: merge", "unknown_write_mode", "warning", "steps[1].config.write_mode"},
		{"write_mode: upsert", "missing_required_field", "error", "steps[1].config.primary_key"},
	}
	for _, tc := range cases {
		src := strings.Replace(supabaseWriterPipeline(tc.extra, "table: t"), "supabase.writer",
			"test.writer", 1)
		doc, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, is := range Validate(doc, reg) {
			if is.Type == tc.typ && is.Location == tc.location && is.Severity == tc.severity {
				found = is.Line >= 13 && is.Column > 0
			}
		}
		if !found {
			t.Errorf("%s: no %s at %s in %+v", tc.extra, tc.typ, tc.location, Validate(doc, reg))
		}
	}
}

func TestSchemaJSONIsDraft07AndAcceptsExamples(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(SchemaJSON(), &schema); err != nil {
		t.Fatal(err)
	}
	if schema["$schema"] != "http://json-schema.org/draft-07/schema#" || schema["version"] != "0.1.0" {
		t.Fatalf("header: %v %v", schema["$schema"], schema["version"])
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(SchemaJSON())))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURI, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaURI)
	if err != nil {
		t.Fatal(err)
	}

	good, _ := Parse("p.yaml", []byte(csvPipeline))
	if err := sch.Validate(jsonValue(good.Value)); err != nil {
		t.Fatalf("valid pipeline rejected: %v", err)
	}
	bad, _ := Parse("p.yaml", []byte(csvPipeline+"tasks: []\n"))
	if err := sch.Validate(jsonValue(bad.Value)); err == nil {
		t.Fatal("forbidden key accepted by the schema")
	}
}
