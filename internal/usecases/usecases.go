// Package usecases holds the one catalogue of example pipelines and the authoring guide.
// People read them through `osiris usecases list` and `osiris guide start`, assistants
// through the MCP tools usecases_list and guide_start and the osiris:// resources; all of
// them read the same embedded files, so the surfaces cannot drift apart.
package usecases

import (
	"embed"
	"fmt"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed catalog.yaml examples/*.yaml
var files embed.FS

// CatalogURI is the resource that serves the whole catalogue.
const CatalogURI = "osiris://mcp/usecases/catalog.yaml"

// UseCase is one catalogue entry. Example is the text of its OML pipeline.
type UseCase struct {
	ID           string   `yaml:"id" json:"id"`
	Name         string   `yaml:"name" json:"name"`
	Description  string   `yaml:"description" json:"description"`
	Category     string   `yaml:"category" json:"category"`
	Tags         []string `yaml:"tags" json:"tags"`
	Difficulty   string   `yaml:"difficulty" json:"difficulty"`
	Requirements []string `yaml:"requirements" json:"requirements,omitempty"`
	Components   []string `yaml:"-" json:"components"`
	SnippetURI   string   `yaml:"-" json:"snippet_uri"`
	Example      string   `yaml:"-" json:"example,omitempty"`
}

// SnippetURI is the resource that serves one use case's pipeline.
func SnippetURI(id string) string { return "osiris://mcp/usecases/" + id + ".yaml" }

var (
	loadOnce sync.Once
	catalog  []UseCase
	loadErr  error
)

// All returns the catalogue in file order. The slice is a copy.
func All() ([]UseCase, error) {
	loadOnce.Do(func() { catalog, loadErr = load() })
	if loadErr != nil {
		return nil, loadErr
	}
	return append([]UseCase(nil), catalog...), nil
}

func load() ([]UseCase, error) {
	raw, err := files.ReadFile("catalog.yaml")
	if err != nil {
		return nil, err
	}
	var doc struct {
		UseCases []UseCase `yaml:"usecases"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("use-case catalogue: %w", err)
	}
	for i := range doc.UseCases {
		uc := &doc.UseCases[i]
		example, err := Example(uc.ID)
		if err != nil {
			return nil, fmt.Errorf("use case %s: %w", uc.ID, err)
		}
		uc.Example = string(example)
		uc.SnippetURI = SnippetURI(uc.ID)
		if uc.Components, err = stepComponents(example); err != nil {
			return nil, fmt.Errorf("use case %s: examples/%s.yaml: %w", uc.ID, uc.ID, err)
		}
	}
	return doc.UseCases, nil
}

// stepComponents lists the components a pipeline uses, in step order, once each.
func stepComponents(pipeline []byte) ([]string, error) {
	var doc struct {
		Steps []struct {
			Component string `yaml:"component"`
		} `yaml:"steps"`
	}
	if err := yaml.Unmarshal(pipeline, &doc); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := []string{}
	for _, step := range doc.Steps {
		if !seen[step.Component] {
			seen[step.Component] = true
			out = append(out, step.Component)
		}
	}
	return out, nil
}

// Example returns the OML text of one use case.
func Example(id string) ([]byte, error) {
	return files.ReadFile("examples/" + id + ".yaml")
}

// CatalogYAML returns the catalogue file as shipped.
func CatalogYAML() []byte {
	raw, _ := files.ReadFile("catalog.yaml")
	return raw
}

// Listing is the answer to "which use cases are there", optionally for one category.
type Listing struct {
	UseCases       []UseCase           `json:"usecases"`
	ByCategory     map[string][]string `json:"by_category"`
	Categories     []string            `json:"categories"`
	TotalCount     int                 `json:"total_count"`
	CategoryFilter *string             `json:"category_filter"`
}

// List returns the use cases of category (all when empty). An unknown category gives an
// empty list; Categories still names every category, so the caller can see the choices.
func List(category string) (*Listing, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	out := &Listing{UseCases: []UseCase{}, ByCategory: map[string][]string{}}
	categories := map[string]bool{}
	for _, uc := range all {
		categories[uc.Category] = true
		if category != "" && uc.Category != category {
			continue
		}
		out.UseCases = append(out.UseCases, uc)
		out.ByCategory[uc.Category] = append(out.ByCategory[uc.Category], uc.ID)
	}
	for c := range categories {
		out.Categories = append(out.Categories, c)
	}
	sort.Strings(out.Categories)
	out.TotalCount = len(out.UseCases)
	if category != "" {
		out.CategoryFilter = &category
	}
	return out, nil
}
