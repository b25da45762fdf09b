package usecases

import (
	"errors"
	"strings"
)

// Resource URIs the guide points to.
const (
	GuideURI  = "osiris://mcp/prompts/oml_authoring_guide.md"
	SchemaURI = "osiris://mcp/schemas/oml/v0.1.0.json"
)

// ErrIntentRequired is returned when the guide is asked to start without saying what the
// user wants to build.
var ErrIntentRequired = errors.New("intent is required")

// GuideContext is what the caller knows about the session so far.
type GuideContext struct {
	Intent           string
	KnownConnections []string // @family.alias references, first one preferred
	HasDiscovery     bool
	HasPreviousOML   bool
	HasErrorReport   bool
}

// ToolCall is one suggested MCP tool call.
type ToolCall struct {
	Tool   string         `json:"tool"`
	Params map[string]any `json:"params"`
}

// Request is a complete example call an assistant can copy.
type Request struct {
	Tool        string         `json:"tool"`
	Arguments   map[string]any `json:"arguments"`
	Description string         `json:"description"`
}

// GuideContextFlags echoes which facts the guide based its answer on.
type GuideContextFlags struct {
	HasConnections bool `json:"has_connections"`
	HasDiscovery   bool `json:"has_discovery"`
	HasPreviousOML bool `json:"has_previous_oml"`
	HasErrorReport bool `json:"has_error_report"`
}

// Guide is the answer of guide_start: the one next step and how to take it.
type Guide struct {
	Objective            string            `json:"objective"`
	NextStep             string            `json:"next_step"`
	NextSteps            []ToolCall        `json:"next_steps"`
	Examples             map[string]any    `json:"examples"`
	Context              GuideContextFlags `json:"context"`
	Recommendations      []string          `json:"recommendations"`
	References           []string          `json:"references"`
	WorkflowInstructions string            `json:"workflow_instructions"`
}

// Next steps the guide can name.
const (
	StepValidateOML     = "validate_oml"
	StepListConnections = "list_connections"
	StepRunDiscovery    = "run_discovery"
	StepCreateOML       = "create_oml"
)

// WorkflowInstructions is the order an assistant should follow, in canonical tool names.
const WorkflowInstructions = "1. guide_start to learn the next step. " +
	"2. connections_list to see which sources and targets are configured. " +
	"3. discovery_request on a connection to learn its tables and columns. " +
	"4. oml_schema_get and usecases_list before writing any OML. " +
	"5. oml_validate the draft and fix every error it reports. " +
	"6. oml_save only after oml_validate returns valid. " +
	"7. memory_capture, with the user's consent, to remember decisions for next time."

// sampleUseCase is the pipeline shown when the user has no OML yet: it runs without any
// database server.
const sampleUseCase = "data_transformation"

// StartGuide decides the next step: fix a failing pipeline first, then make sure there is
// a connection, then discover it, then draft OML, and otherwise validate what exists.
func StartGuide(ctx GuideContext) (*Guide, error) {
	if strings.TrimSpace(ctx.Intent) == "" {
		return nil, ErrIntentRequired
	}
	hasConnections := len(ctx.KnownConnections) > 0
	g := &Guide{
		Objective: strings.TrimSpace(ctx.Intent),
		Context: GuideContextFlags{
			HasConnections: hasConnections,
			HasDiscovery:   ctx.HasDiscovery,
			HasPreviousOML: ctx.HasPreviousOML,
			HasErrorReport: ctx.HasErrorReport,
		},
		References:           []string{GuideURI},
		WorkflowInstructions: WorkflowInstructions,
	}

	switch {
	case ctx.HasErrorReport && ctx.HasPreviousOML:
		g.validate("Fix the reported error in the existing pipeline, then validate it again.")
	case !hasConnections:
		g.NextStep = StepListConnections
		g.NextSteps = []ToolCall{{Tool: "connections_list", Params: map[string]any{}}}
		g.example("connections_list", map[string]any{},
			"List the configured connections with their secrets masked.")
		g.Recommendations = []string{
			"Find out which connections exist before planning any step.",
			"If none fit, ask the user to add one to osiris_connections.yaml, with " +
				"secrets as ${ENV_VAR} placeholders.",
		}
	case !ctx.HasDiscovery:
		connection := ctx.KnownConnections[0]
		params := map[string]any{
			"connection": connection, "component": DiscoveryComponent(connection), "samples": 5,
		}
		g.NextStep = StepRunDiscovery
		g.NextSteps = []ToolCall{{Tool: "discovery_request", Params: params}}
		g.example("discovery_request", params,
			"Discover the tables and columns of "+connection+" with five sample rows each.")
		g.Recommendations = []string{
			"Use the discovered table and column names; do not guess them.",
			"Keep samples small: they are shown to the assistant.",
		}
	case !ctx.HasPreviousOML:
		sample, _ := Example(sampleUseCase)
		g.NextStep = StepCreateOML
		g.NextSteps = []ToolCall{
			{Tool: "oml_schema_get", Params: map[string]any{}},
			{Tool: "usecases_list", Params: map[string]any{}},
			{Tool: "oml_validate", Params: map[string]any{"oml_content": "<your OML>", "strict": true}},
		}
		g.example("oml_validate", map[string]any{"oml_content": string(sample), "strict": true},
			"Validate a small CSV to DuckDB to CSV pipeline that needs no database.")
		g.Recommendations = []string{
			`Start from the use case closest to the intent and keep oml_version "0.1.0".`,
			`Quote connection references: connection: "@mysql.default".`,
			"Give every step an id, a component, a mode (read, transform, write) and a config.",
		}
		g.References = append(g.References, SchemaURI, CatalogURI)
	default:
		g.validate("Validate the existing pipeline before saving or running it.")
	}
	return g, nil
}

func (g *Guide) validate(advice string) {
	g.NextStep = StepValidateOML
	g.NextSteps = []ToolCall{{Tool: "oml_validate",
		Params: map[string]any{"oml_content": "<your OML>", "strict": true}}}
	g.example("oml_validate", map[string]any{"oml_content": "<your OML>", "strict": true},
		"Validate the pipeline; every diagnostic names its line and column.")
	g.Recommendations = []string{advice,
		"Save with oml_save only once oml_validate reports valid: true."}
	g.References = append(g.References, SchemaURI)
}

func (g *Guide) example(tool string, arguments map[string]any, description string) {
	g.Examples = map[string]any{"minimal_request": Request{
		Tool: tool, Arguments: arguments, Description: description,
	}}
}

// DiscoveryComponent is the component that discovers a connection's family: the CSV
// extractor for files, <family>.extractor otherwise.
func DiscoveryComponent(reference string) string {
	family := strings.TrimPrefix(reference, "@")
	family, _, _ = strings.Cut(family, ".")
	if family == "filesystem" {
		return "filesystem.csv_extractor"
	}
	return family + ".extractor"
}
