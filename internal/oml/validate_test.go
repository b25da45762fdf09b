package oml

import (
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/registry"
)

func testRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// csvPipeline is a valid document; cases below change one thing in it.
const csvPipeline = `oml_version: "0.1.0"
name: csv-copy
steps:
  - id: read-contacts
    component: filesystem.csv_extractor
    mode: read
    config:
      path: in.csv
  - id: write-contacts
    component: filesystem.csv_writer
    mode: write
    config:
      path: out.csv
`

func TestValidDocumentsHaveNoIssues(t *testing.T) {
	reg := testRegistry(t)
	docs := map[string]string{
		"csv": csvPipeline,
		"example-a": `oml_version: "0.1.0"
name: orders-daily-revenue
params: {since: {type: string, default: "2024-01-01"}}
profiles: {prod: {params: {since: "2023-01-01"}}}
metadata: {intent: Daily revenue table for finance}
steps:
  - id: load-orders
    component: mysql.extractor
    mode: read
    config:
      connection: @mysql.shop
      query: "SELECT id FROM orders WHERE created_at >= '${params.since}'"
  - id: daily-totals
    component: duckdb.processor
    mode: transform
    needs: [load-orders]
    config:
      query: "SELECT 1 FROM df_load_orders"
  - id: store-totals
    component: supabase.writer
    mode: write
    needs: [daily-totals]
    config: {connection: "@supabase.warehouse", table: daily_revenue, write_mode: upsert, primary_key: [day]}
`,
		"example-b": `oml_version: "0.1.0"
name: contacts-csv-copy
steps:
  - id: read-contacts
    component: filesystem.csv_extractor
    mode: read
    config: {connection: @filesystem.local, path: inbox/contacts.csv, columns: [id, email, country]}
  - id: write-contacts
    component: filesystem.csv_writer
    mode: write
    needs: [read-contacts]
    config: {path: output/contacts_clean.csv, delimiter: ";", header: true, newline: lf}
`,
	}
	// mysql.writer takes its upsert keys as upsert_keys or, as other writers do,
	// primary_key.
	docs["mysql-upsert-primary-key"] = mysqlWriterPipeline("write_mode: upsert\n" +
		"      primary_key: [id]\n      connection: \"@mysql.shop\"")
	docs["mysql-upsert-keys"] = mysqlWriterPipeline("write_mode: upsert\n" +
		"      upsert_keys: [id]\n      connection: \"@mysql.shop\"")
	for name, src := range docs {
		t.Run(name, func(t *testing.T) {
			doc, err := Parse(name+".yaml", []byte(src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if issues := Validate(doc, reg); len(issues) != 0 {
				t.Fatalf("want no issues, got %+v", issues)
			}
		})
	}
}

func TestValidatorIssues(t *testing.T) {
	reg := testRegistry(t)
	cases := []struct {
		name     string
		src      string
		typ      string
		severity string
		location string
		line     int
		column   int
	}{
		{"not a mapping", "- a\n- b\n", "invalid_type", "error", "root", 1, 1},
		{"empty document", "", "invalid_type", "error", "root", 1, 1},
		{"missing name", strings.Replace(csvPipeline, "name: csv-copy\n", "", 1),
			"missing_required_key", "error", "name", 1, 1},
		{"forbidden key", csvPipeline + "version: 2\n", "forbidden_key", "error",
			"version", 14, 1},
		{"version not a string", strings.Replace(csvPipeline, `"0.1.0"`, "0.1", 1),
			"invalid_version_type", "error", "oml_version", 1, 14},
		{"major version", strings.Replace(csvPipeline, `"0.1.0"`, `"1.0.0"`, 1),
			"unsupported_version", "error", "oml_version", 1, 14},
		{"minor version", strings.Replace(csvPipeline, `"0.1.0"`, `"0.2.0"`, 1),
			"unsupported_version", "warning", "oml_version", 1, 14},
		{"name not a string", strings.Replace(csvPipeline, "name: csv-copy", "name: [a]", 1),
			"invalid_name_type", "error", "name", 2, 7},
		{"empty name", strings.Replace(csvPipeline, "name: csv-copy", `name: ""`, 1),
			"empty_name", "error", "name", 2, 7},
		{"name convention", strings.Replace(csvPipeline, "name: csv-copy", "name: CSV Copy", 1),
			"naming_convention", "warning", "name", 2, 7},
		{"unknown top key", csvPipeline + "owner: me\n", "unknown_key", "warning", "owner", 14, 1},
		{"steps not a list", "oml_version: \"0.1.0\"\nname: a\nsteps: {}\n",
			"invalid_steps_type", "error", "steps", 3, 8},
		{"empty steps", "oml_version: \"0.1.0\"\nname: a\nsteps: []\n",
			"empty_steps", "error", "steps", 3, 8},
		{"step not a mapping", "oml_version: \"0.1.0\"\nname: a\nsteps:\n  - just-text\n",
			"invalid_step_type", "error", "steps[0]", 4, 5},
		{"missing step field", strings.Replace(csvPipeline, "    mode: write\n", "", 1),
			"missing_step_field", "error", "steps[1].mode", 9, 5},
		{"id not a string", strings.Replace(csvPipeline, "id: write-contacts", "id: 7", 1),
			"invalid_id_type", "error", "steps[1].id", 9, 9},
		{"id with slash", strings.Replace(csvPipeline, "id: write-contacts", "id: a/b", 1),
			"invalid_id", "error", "steps[1].id", 9, 9},
		{"id not kebab", strings.Replace(csvPipeline, "id: write-contacts", "id: Write_It", 1),
			"naming_convention", "warning", "steps[1].id", 9, 9},
		{"duplicate id", strings.Replace(csvPipeline, "id: write-contacts", "id: read-contacts", 1),
			"duplicate_id", "error", "steps[1].id", 9, 9},
		{"component not a string",
			strings.Replace(csvPipeline, "component: filesystem.csv_writer", "component: 3", 1),
			"invalid_component_type", "error", "steps[1].component", 10, 16},
		{"unknown component",
			strings.Replace(csvPipeline, "filesystem.csv_writer", "oracle.writer", 1),
			"unknown_component", "warning", "steps[1].component", 10, 16},
		{"mode not a string", strings.Replace(csvPipeline, "mode: write", "mode: [write]", 1),
			"invalid_mode_type", "error", "steps[1].mode", 11, 11},
		{"invalid mode", strings.Replace(csvPipeline, "mode: write", "mode: load", 1),
			"invalid_mode", "error", "steps[1].mode", 11, 11},
		{"incompatible mode", strings.Replace(csvPipeline, "mode: write", "mode: read", 1),
			"incompatible_mode", "error", "steps[1].mode", 11, 11},
		{"needs not a list",
			strings.Replace(csvPipeline, "    config:\n      path: out.csv",
				"    needs: read-contacts\n    config:\n      path: out.csv", 1),
			"invalid_needs_type", "error", "steps[1].needs", 12, 12},
		{"dependency not a string",
			strings.Replace(csvPipeline, "    config:\n      path: out.csv",
				"    needs: [1]\n    config:\n      path: out.csv", 1),
			"invalid_dependency_type", "error", "steps[1].needs[0]", 12, 13},
		{"unknown dependency",
			strings.Replace(csvPipeline, "    config:\n      path: out.csv",
				"    needs: [nowhere]\n    config:\n      path: out.csv", 1),
			"unknown_dependency", "error", "steps[1].needs[0]", 12, 13},
		{"self dependency",
			strings.Replace(csvPipeline, "    config:\n      path: out.csv",
				"    needs: [write-contacts]\n    config:\n      path: out.csv", 1),
			"self_dependency", "error", "steps[1].needs[0]", 12, 13},
		{"dependency cycle",
			strings.Replace(strings.Replace(csvPipeline, "    config:\n      path: in.csv",
				"    needs: [write-contacts]\n    config:\n      path: in.csv", 1),
				"component: filesystem.csv_extractor", "component: duckdb.processor", 1),
			"dependency_cycle", "error", "steps[1]", 10, 5},
		{"config not a mapping", strings.Replace(csvPipeline, "    config:\n      path: out.csv",
			"    config: out.csv", 1),
			"invalid_config_type", "error", "steps[1].config", 12, 13},
		{"bad connection ref", strings.Replace(csvPipeline, "path: in.csv",
			"path: in.csv\n      connection: filesystem.local", 1),
			"invalid_connection_ref", "error", "steps[0].config.connection", 9, 19},
		{"connection family mismatch", strings.Replace(csvPipeline, "path: in.csv",
			"path: in.csv\n      connection: \"@mysql.local\"", 1),
			"invalid_connection_ref", "error", "steps[0].config.connection", 9, 19},
		{"unknown config key", strings.Replace(csvPipeline, "path: out.csv",
			"path: out.csv\n      colour: red", 1),
			"unknown_config_key", "error", "steps[1].config.colour", 14, 7},
		{"missing config key", strings.Replace(csvPipeline, "path: out.csv", "header: true", 1),
			"missing_config_key", "error", "steps[1].config.path", 13, 7},
		{"forbidden override", mysqlPipeline("user: admin"),
			"forbidden_override", "error", "steps[0].config.user", 9, 7},
		{"override warning", graphqlPipeline("headers: {X-Trace: on}"),
			"override_warning", "warning", "steps[0].config.headers", 10, 7},
		{"constraint violation", mysqlWriterPipeline("write_mode: upsert"),
			"constraint_violation", "error", "steps[1].config.upsert_keys", 13, 7},
		{"unknown write mode", supabaseWriterPipeline("write_mode: merge", "table: t"),
			"invalid_config_value", "error", "steps[1].config.write_mode", 14, 19},
		{"inline secret", mysqlPipeline("password: hunter22"),
			"inline_secret", "error", "steps[0].config.password", 9, 17},
		{"inline secret nested", graphqlPipeline("headers: {Authorization: Bearer abcdef}"),
			"inline_secret", "error", "steps[0].config.headers.Authorization", 10, 32},
		{"csv delimiter type", strings.Replace(csvPipeline, "path: out.csv",
			"path: out.csv\n      delimiter: 9", 1),
			"invalid_config_value", "error", "steps[1].config.delimiter", 14, 18},
		{"csv newline", strings.Replace(csvPipeline, "path: out.csv",
			"path: out.csv\n      newline: cr", 1),
			"invalid_config_value", "error", "steps[1].config.newline", 14, 16},
		{"csv encoding", strings.Replace(csvPipeline, "path: out.csv",
			"path: out.csv\n      encoding: latin-1", 1),
			"unusual_encoding", "warning", "steps[1].config.encoding", 14, 17},
		{"table or query", mysqlPipeline("schema: s", "table: orders"),
			"missing_config_key", "error", "steps[0].config", 8, 7},
		{"metadata not a mapping", csvPipeline + "metadata: intent\n",
			"invalid_type", "error", "metadata", 14, 11},
		{"param type", csvPipeline + "params: {since: {type: date}}\n",
			"invalid_type", "error", "params.since.type", 14, 24},
		{"unknown step key", strings.Replace(csvPipeline, "    mode: write\n",
			"    mode: write\n    depends_on: [read-contacts]\n", 1),
			"unknown_key", "warning", "steps[1].depends_on", 12, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := Parse("pipe.yaml", []byte(tc.src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			issues := Validate(doc, reg)
			for _, is := range issues {
				if is.Type == tc.typ && is.Location == tc.location {
					if is.Severity != tc.severity || is.Line != tc.line || is.Column != tc.column {
						t.Fatalf("got %s %d:%d, want %s %d:%d (%s)", is.Severity, is.Line,
							is.Column, tc.severity, tc.line, tc.column, is.Message)
					}
					if is.Message == "" {
						t.Fatal("empty message")
					}
					return
				}
			}
			t.Fatalf("no %s at %s; got %+v", tc.typ, tc.location, issues)
		})
	}
}

func mysqlPipeline(extra ...string) string {
	cfg := "      table: orders\n"
	if len(extra) > 1 {
		cfg = ""
		extra = extra[:1]
	}
	return `oml_version: "0.1.0"
name: mysql-read
steps:
  - id: load
    component: mysql.extractor
    mode: read
    config:
      connection: "@mysql.shop"
      ` + extra[0] + "\n" + cfg
}

func graphqlPipeline(extra string) string {
	return `oml_version: "0.1.0"
name: gql
steps:
  - id: load
    component: graphql.extractor
    mode: read
    config:
      connection: "@graphql.api"
      query: "{ items { id } }"
      ` + extra + "\n"
}

func mysqlWriterPipeline(extra string) string {
	return `oml_version: "0.1.0"
name: mysql-write
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: in.csv
  - id: store
    component: mysql.writer
    mode: write
    config:
      table: customers
      ` + extra + "\n"
}

func supabaseWriterPipeline(extra, table string) string {
	return `oml_version: "0.1.0"
name: sb-write
steps:
  - id: read
    component: filesystem.csv_extractor
    mode: read
    config:
      path: in.csv
  - id: store
    component: supabase.writer
    mode: write
    config:
      ` + table + `
      ` + extra + "\n"
}

func TestInlineSecretMessageNeverHoldsTheValue(t *testing.T) {
	doc, err := Parse("p.yaml", []byte(mysqlPipeline("password: S3ntinel-Secret")))
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range Validate(doc, testRegistry(t)) {
		if strings.Contains(is.Message, "S3ntinel") {
			t.Fatalf("issue leaks the secret: %s", is.Message)
		}
	}
}

func TestPlaceholdersAreNotInlineSecrets(t *testing.T) {
	for _, v := range []string{`"${MYSQL_PASSWORD}"`, "xxx", `""`} {
		doc, err := Parse("p.yaml", []byte(mysqlPipeline("password: "+v)))
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range Validate(doc, testRegistry(t)) {
			if is.Type == "inline_secret" {
				t.Fatalf("%s reported as inline secret", v)
			}
		}
	}
}

func TestValidationErrorNamesFileLineAndField(t *testing.T) {
	_, err := Parse("pipelines/bad.yaml", []byte("name: a\nsteps: [\n"))
	if err == nil {
		t.Fatal("want parse error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "pipelines/bad.yaml:") || !strings.Contains(msg, "YAML parse error") {
		t.Fatalf("unexpected message %q", msg)
	}

	doc, _ := Parse("pipelines/p.yaml", []byte(strings.Replace(csvPipeline, "path: out.csv",
		"path: out.csv\n      colour: red", 1)))
	verr := &ValidationError{File: "pipelines/p.yaml", Issues: Validate(doc, testRegistry(t))}
	want := "pipelines/p.yaml:14:7: steps[1].config.colour:"
	if !strings.HasPrefix(verr.Error(), want) {
		t.Fatalf("got %q, want prefix %q", verr.Error(), want)
	}
}
