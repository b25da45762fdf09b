package oml

import _ "embed"

//go:embed schema.json
var schemaJSON []byte

// SchemaURI is where MCP clients read the OML schema as a resource.
const SchemaURI = "osiris://mcp/schemas/oml/v0.1.0.json"

// SchemaJSON returns the draft-07 JSON Schema of OML v0.1.0. Editors and assistants use
// it to draft documents; Validate checks more than it can say (component configs,
// dependencies, secrets). The caller may keep the slice: each call returns a copy.
func SchemaJSON() []byte {
	return append([]byte(nil), schemaJSON...)
}
