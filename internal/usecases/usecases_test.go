package usecases

import (
	"encoding/json"
	"io/fs"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/registry"
)

func TestCatalogueHoldsTheFiveUseCases(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, uc := range all {
		ids = append(ids, uc.ID)
		if uc.Name == "" || uc.Description == "" || uc.Category == "" || uc.Difficulty == "" ||
			len(uc.Tags) == 0 || len(uc.Components) == 0 || uc.Example == "" {
			t.Errorf("use case %s has an empty field: %+v", uc.ID, uc)
		}
		if uc.SnippetURI != "osiris://mcp/usecases/"+uc.ID+".yaml" {
			t.Errorf("snippet_uri = %s", uc.SnippetURI)
		}
	}
	want := []string{"mysql_to_csv", "mysql_to_supabase", "data_transformation",
		"incremental_sync", "data_validation"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("catalogue ids (-want +got):\n%s", diff)
	}

	// Every example file belongs to a use case: a dangling snippet is a bug either way.
	examples, _ := fs.Glob(files, "examples/*.yaml")
	var stems []string
	for _, e := range examples {
		stems = append(stems, strings.TrimSuffix(path.Base(e), ".yaml"))
	}
	sort.Strings(stems)
	sort.Strings(want)
	if diff := cmp.Diff(want, stems); diff != "" {
		t.Errorf("example files (-want +got):\n%s", diff)
	}
}

// TestExamplesAreValidOML runs every shipped example through the product's own OML
// validator and the published JSON schema: an assistant copies these.
func TestExamplesAreValidOML(t *testing.T) {
	reg, err := registry.Default()
	if err != nil {
		t.Fatal(err)
	}
	schema := compileSchema(t)
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, uc := range all {
		t.Run(uc.ID, func(t *testing.T) {
			doc, err := oml.Parse(uc.ID+".yaml", []byte(uc.Example))
			if err != nil {
				t.Fatal(err)
			}
			for _, issue := range oml.Validate(doc, reg) {
				t.Errorf("%s: %s (%s)", issue.Severity, issue, issue.Type)
			}
			if err := schema.Validate(doc.Map()); err != nil {
				t.Errorf("schema: %v", err)
			}
		})
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(oml.SchemaJSON())))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("oml.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("oml.json")
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

func TestListByCategory(t *testing.T) {
	l, err := List("sync")
	if err != nil {
		t.Fatal(err)
	}
	if l.TotalCount != 1 || l.UseCases[0].ID != "incremental_sync" || *l.CategoryFilter != "sync" ||
		len(l.Categories) != 5 || len(l.ByCategory) != 1 {
		t.Errorf("List(sync) = %+v", l)
	}
	l, err = List("nope")
	if err != nil || l.TotalCount != 0 || len(l.UseCases) != 0 || len(l.Categories) != 5 {
		t.Errorf("List(nope) = %+v, %v", l, err)
	}
	raw, _ := json.Marshal(l)
	if !strings.Contains(string(raw), `"usecases":[]`) {
		t.Errorf("an empty list must stay a JSON array: %s", raw)
	}
	l, _ = List("")
	if l.TotalCount != 5 || l.CategoryFilter != nil {
		t.Errorf("List() = %+v", l)
	}
}

func TestStartGuideNextStep(t *testing.T) {
	conn := []string{"@filesystem.local", "@mysql.shop"}
	tests := []struct {
		name string
		ctx  GuideContext
		want string
		tool string
	}{
		{"error report and oml", GuideContext{HasErrorReport: true, HasPreviousOML: true},
			StepValidateOML, "oml_validate"},
		{"no connections", GuideContext{HasDiscovery: true}, StepListConnections,
			"connections_list"},
		{"error report without oml", GuideContext{HasErrorReport: true}, StepListConnections,
			"connections_list"},
		{"no discovery", GuideContext{KnownConnections: conn}, StepRunDiscovery,
			"discovery_request"},
		{"no oml", GuideContext{KnownConnections: conn, HasDiscovery: true}, StepCreateOML,
			"oml_schema_get"},
		{"everything", GuideContext{KnownConnections: conn, HasDiscovery: true,
			HasPreviousOML: true}, StepValidateOML, "oml_validate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ctx.Intent = "copy orders"
			g, err := StartGuide(tt.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if g.NextStep != tt.want || g.NextSteps[0].Tool != tt.tool {
				t.Errorf("next_step = %s (%s), want %s (%s)", g.NextStep, g.NextSteps[0].Tool,
					tt.want, tt.tool)
			}
			if g.References[0] != GuideURI || g.Objective != "copy orders" {
				t.Errorf("guide = %+v", g)
			}
		})
	}
}

func TestStartGuideDiscoveryUsesFirstConnection(t *testing.T) {
	for ref, component := range map[string]string{
		"@filesystem.local": "filesystem.csv_extractor",
		"@mysql.shop":       "mysql.extractor",
		"@supabase.main":    "supabase.extractor",
	} {
		g, err := StartGuide(GuideContext{Intent: "x", KnownConnections: []string{ref, "@mysql.b"}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"connection": ref, "component": component, "samples": 5}
		if diff := cmp.Diff(want, g.NextSteps[0].Params); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ref, diff)
		}
	}
}

func TestStartGuideCreateExampleIsValid(t *testing.T) {
	g, err := StartGuide(GuideContext{Intent: "x", KnownConnections: []string{"@mysql.a"},
		HasDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	req := g.Examples["minimal_request"].(Request)
	content := req.Arguments["oml_content"].(string)
	doc, err := oml.Parse("sample.yaml", []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := registry.Default()
	if oml.HasErrors(oml.Validate(doc, reg)) {
		t.Errorf("the guide's sample does not validate:\n%s", content)
	}
	if diff := cmp.Diff([]string{GuideURI, SchemaURI, CatalogURI}, g.References); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
}

func TestStartGuideNeedsIntent(t *testing.T) {
	for _, intent := range []string{"", "  \n"} {
		if _, err := StartGuide(GuideContext{Intent: intent}); err != ErrIntentRequired {
			t.Errorf("intent %q: err = %v", intent, err)
		}
	}
}
