// Package mcpserver is the MCP shim's server side: the tool catalogue and its aliases,
// argument checks, the result envelope, guards, audit and telemetry around each call,
// and resources. Every tool runs `osiris mcp <group> <verb> … --json` through
// internal/bridge; this package never touches a database, a connection file or memory.
package mcpserver

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Kinds of tool parameters, as the input schema and the argument check know them.
const (
	kindString      = "string"
	kindInteger     = "integer"
	kindBoolean     = "boolean"
	kindStringList  = "string[]"
	kindObjectList  = "object[]"
	kindObjectOrNil = "object|null"
	kindStringOrNil = "string|null"
)

var (
	// idPattern bounds ids that end up in file names (session ids, draft names, run ids).
	idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	// referencePattern is a connection reference, @family.alias.
	referencePattern = regexp.MustCompile(`^@[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
	// componentPattern is a component name, family.kind.
	componentPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// Param is one tool argument.
type Param struct {
	Name        string
	Kind        string
	Required    bool
	Description string
	// Pattern and PatternName constrain a string ("ID", "connection reference").
	Pattern     *regexp.Regexp
	PatternName string
	// Min and Max bound an integer (inclusive) when HasRange is set.
	HasRange bool
	Min, Max int
	// MaxLen bounds a string's length in characters; 0 means no bound.
	MaxLen int
	// NonEmpty rejects "" and whitespace-only strings.
	NonEmpty bool
	// AddAt prepends "@" to a connection reference that lacks it.
	AddAt bool
	// Default is documented in the schema; the builders apply it.
	Default any
}

// Tool is one entry of the catalogue: it drives listing, dispatch, audit and telemetry.
type Tool struct {
	Name        string
	Description string
	// CLI is the `osiris` command the tool runs, for `osiris mcp tools`.
	CLI    string
	Params []Param
	// Legacy names the original product accepted for this tool.
	Legacy []string
	build  func(a arguments, s Settings) invocation
}

// invocation is the CLI call a tool makes: argv after the binary, and stdin.
type invocation struct {
	args  []string
	stdin []byte
}

// Aliases are the other names a client may call the tool by: the dotted form, the
// osiris.-prefixed dotted form, and any legacy names.
func (t *Tool) Aliases() []string {
	dotted := strings.ReplaceAll(t.Name, "_", ".")
	return append([]string{dotted, "osiris." + dotted}, t.Legacy...)
}

// InputSchema is the tool's JSON schema for tools/list. Unknown properties are allowed
// (and ignored), so additionalProperties stays open.
func (t *Tool) InputSchema() json.RawMessage {
	properties := map[string]any{}
	required := []string{}
	for _, p := range t.Params {
		properties[p.Name] = p.schema()
		if p.Required {
			required = append(required, p.Name)
		}
	}
	raw, _ := json.Marshal(map[string]any{
		"type": "object", "properties": properties, "required": required,
	})
	return raw
}

func (p Param) schema() map[string]any {
	s := map[string]any{"description": p.Description}
	switch p.Kind {
	case kindStringList:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "string"}
	case kindObjectList:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "object"}
	case kindObjectOrNil:
		s["type"] = []string{"object", "null"}
	case kindStringOrNil:
		s["type"] = []string{"string", "null"}
	default:
		s["type"] = p.Kind
	}
	if p.Pattern != nil && !p.AddAt {
		s["pattern"] = p.Pattern.String()
	}
	if p.HasRange {
		s["minimum"] = p.Min
		s["maximum"] = p.Max
	}
	if p.MaxLen > 0 {
		s["maxLength"] = p.MaxLen
	}
	if p.NonEmpty {
		s["minLength"] = 1
	}
	if p.Default != nil {
		s["default"] = p.Default
	}
	return s
}

// workflow is repeated in the descriptions so that an assistant reading any one tool
// learns the order.
const workflow = " Workflow: guide_start or oml_schema_get first, then oml_validate, and " +
	"oml_save only after oml_validate reports valid."

var catalogue = []*Tool{
	{
		Name:        "connections_list",
		Description: "List the project's database and API connections with secrets masked.",
		CLI:         "osiris mcp connections list",
		build: func(arguments, Settings) invocation {
			return invocation{args: []string{"mcp", "connections", "list"}}
		},
	},
	{
		Name: "connections_doctor",
		Description: "Check that one connection can be reached and authenticates; an " +
			"unhealthy connection is a normal result that says why.",
		CLI: "osiris mcp connections doctor --connection-id @family.alias",
		Params: []Param{{Name: "connection", Kind: kindString, Required: true, AddAt: true,
			Pattern: referencePattern, PatternName: "connection reference (@family.alias)",
			Description: "Connection reference such as @mysql.main (the @ may be left out)."}},
		build: func(a arguments, _ Settings) invocation {
			return invocation{args: []string{"mcp", "connections", "doctor",
				"--connection-id", a.str("connection")}}
		},
	},
	{
		Name: "components_list",
		Description: "List the pipeline components (extractors, writers, processors) with " +
			"their required and optional settings.",
		CLI: "osiris mcp components list",
		build: func(arguments, Settings) invocation {
			return invocation{args: []string{"mcp", "components", "list"}}
		},
	},
	{
		Name: "discovery_request",
		Description: "Discover the tables and columns behind a connection, optionally with " +
			"sample rows. A repeated request gets the cached answer while it is fresh; " +
			"results are readable as resources.",
		CLI:    "osiris mcp discovery run @family.alias --component family.kind --samples N",
		Legacy: []string{"osiris.introspect_sources"},
		Params: []Param{
			{Name: "connection", Kind: kindString, Required: true, AddAt: true,
				Pattern: referencePattern, PatternName: "connection reference (@family.alias)",
				Description: "Connection reference such as @postgres.main."},
			{Name: "component", Kind: kindString, Required: true, Pattern: componentPattern,
				PatternName: "component name (family.kind)",
				Description: "Component that discovers, such as mysql.extractor."},
			{Name: "samples", Kind: kindInteger, HasRange: true, Min: 0, Max: 100, Default: 0,
				Description: "Sample rows per table (0-100)."},
			{Name: "idempotency_key", Kind: kindString, MaxLen: 256,
				Description: "Caller's key for this request, reported back as cache.cache_key; " +
					"the cache answers repeated requests with or without it."},
			{Name: "refresh", Kind: kindBoolean, Default: false,
				Description: "Discover again even if a fresh cached answer exists."},
		},
		build: func(a arguments, _ Settings) invocation {
			args := []string{"mcp", "discovery", "run", a.str("connection"),
				"--component", a.str("component"), "--samples", strconv.Itoa(a.int("samples", 0))}
			if key := a.str("idempotency_key"); key != "" {
				args = append(args, "--idempotency-key="+key)
			}
			if a.boolean("refresh", false) {
				args = append(args, "--refresh")
			}
			return invocation{args: args}
		},
	},
	{
		Name:        "usecases_list",
		Description: "List ready-made pipeline use cases with example OML, by category.",
		CLI:         "osiris mcp usecases list [--category C]",
		Params: []Param{{Name: "category", Kind: kindString, MaxLen: 128,
			Description: "Only use cases of this category."}},
		build: func(a arguments, _ Settings) invocation {
			args := []string{"mcp", "usecases", "list"}
			if c := a.str("category"); c != "" {
				args = append(args, "--category="+c)
			}
			return invocation{args: args}
		},
	},
	{
		Name:        "oml_schema_get",
		Description: "Get the JSON schema of OML v0.1.0, the pipeline language." + workflow,
		CLI:         "osiris mcp oml schema",
		build: func(arguments, Settings) invocation {
			return invocation{args: []string{"mcp", "oml", "schema"}}
		},
	},
	{
		Name: "oml_validate",
		Description: "Validate an OML pipeline and list its errors and warnings with line " +
			"numbers." + workflow,
		CLI:    "osiris mcp oml validate --content - --strict=B",
		Legacy: []string{"osiris.validate_oml"},
		Params: []Param{
			{Name: "oml_content", Kind: kindString, Required: true, NonEmpty: true,
				Description: "The OML document (YAML)."},
			{Name: "strict", Kind: kindBoolean, Default: true,
				Description: "Report a step's unknown component (one not in the registry) " +
					"as an error, as compile would, rather than a warning (default true). " +
					"Other warnings stay warnings."},
		},
		build: func(a arguments, _ Settings) invocation {
			return invocation{
				args: []string{"mcp", "oml", "validate", "--content", "-",
					"--strict=" + strconv.FormatBool(a.boolean("strict", true))},
				stdin: []byte(a.str("oml_content")),
			}
		},
	},
	{
		Name: "oml_save",
		Description: "Save an OML draft for a session; readable afterwards as a resource." +
			workflow,
		CLI:    "osiris mcp oml save --session-id S [--filename F] --content -",
		Legacy: []string{"osiris.save_oml"},
		Params: []Param{
			{Name: "oml_content", Kind: kindString, Required: true, NonEmpty: true,
				Description: "The OML document (YAML)."},
			{Name: "session_id", Kind: kindString, Required: true, Pattern: idPattern,
				PatternName: "ID", Description: "Session the draft belongs to."},
			{Name: "filename", Kind: kindString, Pattern: idPattern, PatternName: "ID",
				Description: "File name of the draft (default <session_id>_<timestamp>.yaml)."},
		},
		build: func(a arguments, _ Settings) invocation {
			args := []string{"mcp", "oml", "save", "--session-id=" + a.str("session_id")}
			if f := a.str("filename"); f != "" {
				args = append(args, "--filename="+f)
			}
			args = append(args, "--content", "-")
			return invocation{args: args, stdin: []byte(a.str("oml_content"))}
		},
	},
	{
		Name: "guide_start",
		Description: "Start here: given what the user wants, say which tool to call next " +
			"and with which arguments." + workflow,
		CLI:    "osiris mcp guide start --intent - [--known-connection R]... [--has-discovery]",
		Legacy: []string{"osiris.guide_start"},
		Params: []Param{
			{Name: "intent", Kind: kindString, Required: true,
				Description: "What the user wants to build, in their words."},
			{Name: "known_connections", Kind: kindStringList, AddAt: true,
				Pattern: referencePattern, PatternName: "connection reference (@family.alias)",
				Description: "Connection references the assistant already knows."},
			{Name: "has_discovery", Kind: kindBoolean, Default: false,
				Description: "A discovery was already run."},
			{Name: "has_previous_oml", Kind: kindBoolean, Default: false,
				Description: "An OML draft already exists."},
			{Name: "has_error_report", Kind: kindBoolean, Default: false,
				Description: "A validation or run error is at hand."},
		},
		build: func(a arguments, _ Settings) invocation {
			args := []string{"mcp", "guide", "start", "--intent", "-"}
			for _, ref := range a.strings("known_connections") {
				args = append(args, "--known-connection", ref)
			}
			for _, flag := range []string{"has_discovery", "has_previous_oml", "has_error_report"} {
				if a.boolean(flag, false) {
					args = append(args, "--"+strings.ReplaceAll(flag, "_", "-"))
				}
			}
			return invocation{args: args, stdin: []byte(a.str("intent"))}
		},
	},
	{
		Name: "memory_capture",
		Description: "Remember a session's intent, decisions and artifacts for later, with " +
			"personal data redacted. Requires consent: true from the user.",
		CLI: "osiris mcp memory capture --session-id S --consent --retention-days N --events -",
		Params: []Param{
			{Name: "consent", Kind: kindBoolean, Required: true,
				Description: "The user agreed to store this memory; must be true."},
			{Name: "session_id", Kind: kindString, Required: true, Pattern: idPattern,
				PatternName: "ID", Description: "Session the memory belongs to."},
			{Name: "intent", Kind: kindString, Required: true,
				Description: "What the user set out to do."},
			{Name: "retention_days", Kind: kindInteger, Default: 365,
				Description: "Days to keep the memory (0-730)."},
			{Name: "actor_trace", Kind: kindObjectList, Description: "Steps taken."},
			{Name: "decisions", Kind: kindObjectList, Description: "Decisions and reasons."},
			{Name: "artifacts", Kind: kindStringList, Description: "URIs or paths produced."},
			{Name: "oml_uri", Kind: kindStringOrNil, Description: "URI of the OML draft."},
			{Name: "error_report", Kind: kindObjectOrNil, Description: "Error at hand, if any."},
			{Name: "notes", Kind: kindString, Description: "Free notes."},
		},
		build: func(a arguments, s Settings) invocation {
			days := a.int("retention_days", s.MemoryRetentionDays)
			days = min(max(days, 0), 730)
			event := map[string]any{
				"intent":       a.str("intent"),
				"actor_trace":  a.list("actor_trace"),
				"decisions":    a.list("decisions"),
				"artifacts":    a.list("artifacts"),
				"oml_uri":      a.value("oml_uri"),
				"error_report": a.value("error_report"),
				"notes":        a.str("notes"),
			}
			events, _ := json.Marshal([]any{event})
			return invocation{
				args: []string{"mcp", "memory", "capture", "--session-id=" + a.str("session_id"),
					"--consent", "--retention-days", strconv.Itoa(days), "--events", "-"},
				stdin: events,
			}
		},
	},
	{
		Name:        "aiop_list",
		Description: "List the AI-operation summaries of past pipeline runs.",
		CLI:         "osiris mcp aiop list [--pipeline P] [--profile P]",
		Params: []Param{
			{Name: "pipeline", Kind: kindString, MaxLen: 256, Description: "Only this pipeline."},
			{Name: "profile", Kind: kindString, MaxLen: 128, Description: "Only this profile."},
		},
		build: func(a arguments, _ Settings) invocation {
			args := []string{"mcp", "aiop", "list"}
			if p := a.str("pipeline"); p != "" {
				args = append(args, "--pipeline="+p)
			}
			if p := a.str("profile"); p != "" {
				args = append(args, "--profile="+p)
			}
			return invocation{args: args}
		},
	},
	{
		Name:        "aiop_show",
		Description: "Show the AI-operation summary of one run: evidence, metrics, narrative.",
		CLI:         "osiris mcp aiop show --run ID",
		Params: []Param{{Name: "run_id", Kind: kindString, Required: true, Pattern: idPattern,
			PatternName: "ID", Description: "Run id as listed by aiop_list."}},
		build: func(a arguments, _ Settings) invocation {
			return invocation{args: []string{"mcp", "aiop", "show", "--run=" + a.str("run_id")}}
		},
	},
}

// unknownToolName is a hidden tool that answers every name outside the catalogue with a
// SEMANTIC/SEM001 envelope; tools/list never shows it.
const unknownToolName = "_osiris_unknown_tool"

var toolsByName = func() map[string]*Tool {
	byName := map[string]*Tool{}
	for _, t := range catalogue {
		byName[t.Name] = t
		for _, alias := range t.Aliases() {
			byName[alias] = t
		}
	}
	return byName
}()

// Catalogue is the 12 tools in listing order.
func Catalogue() []*Tool { return append([]*Tool{}, catalogue...) }

// Lookup resolves any accepted name (canonical, dotted, osiris.-dotted or legacy).
func Lookup(name string) (*Tool, bool) {
	t, ok := toolsByName[name]
	return t, ok
}

// AcceptedNames is every name tools/call accepts, sorted.
func AcceptedNames() []string {
	names := make([]string, 0, len(toolsByName))
	for name := range toolsByName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// ToolsDocument is what `osiris mcp tools` prints.
func ToolsDocument() map[string]any {
	tools := make([]map[string]any, 0, len(catalogue))
	for _, t := range catalogue {
		tools = append(tools, map[string]any{
			"name": t.Name, "description": t.Description, "aliases": t.Aliases(), "cli": t.CLI,
		})
	}
	return map[string]any{"tools": tools, "count": len(tools), "status": "success"}
}
