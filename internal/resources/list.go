package resources

import (
	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/usecases"
)

// Resource is one static, always readable resource.
type Resource struct {
	URI         string `json:"uri"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MIMEType    string `json:"mime_type"`
}

// Template is a family of resources that exist once discovery, drafts or memory wrote
// them; clients fill in the braces.
type Template struct {
	URITemplate string `json:"uri_template"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MIMEType    string `json:"mime_type"`
}

// Listing is everything a client can read.
type Listing struct {
	Resources         []Resource `json:"resources"`
	ResourceTemplates []Template `json:"resource_templates"`
}

// List returns the static resources, one per use case included, and the templates of
// the runtime ones. Every listed static URI is readable with Read.
func List() (*Listing, error) {
	static := []Resource{
		{oml.SchemaURI, "OML v0.1.0 schema",
			"JSON Schema (draft-07) of OML pipelines", "application/json"},
		{usecases.GuideURI, "OML authoring guide",
			"How to write, validate and save an OML pipeline", "text/markdown"},
		{usecases.CatalogURI, "Use-case catalogue",
			"Example pipelines by category", "application/x-yaml"},
	}
	all, err := usecases.All()
	if err != nil {
		return nil, err
	}
	for _, uc := range all {
		static = append(static, Resource{uc.SnippetURI, "Use case: " + uc.Name,
			uc.Description, "application/x-yaml"})
	}
	static = append(static,
		Resource{"osiris://instructions/workflow", "Workflow",
			"The order in which to call the Osiris tools", "text/markdown"},
		Resource{"osiris://instructions/oml-syntax", "OML syntax",
			"OML v0.1.0 in one page", "text/markdown"},
		Resource{"osiris://instructions/best-practices", "Best practices",
			"Habits that make pipelines safe to rerun", "text/markdown"},
	)

	templates := []Template{
		{"osiris://mcp/discovery/{discovery_id}/{artifact}.json", "Discovery artifact",
			"overview, tables or samples of one discovery", "application/json"},
		{"osiris://mcp/drafts/oml/{filename}", "OML draft",
			"A pipeline saved with oml_save", "application/x-yaml"},
		{"osiris://mcp/memory/sessions/{session_id}.jsonl", "Memory session",
			"Redacted entries captured with memory_capture, one JSON object a line",
			"text/plain"},
	}
	return &Listing{Resources: static, ResourceTemplates: templates}, nil
}
