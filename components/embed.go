// Package components embeds the spec.yaml of every shipped component. The registry, the
// OML validator, the compiler and 'osiris components' all read these same files.
package components

import "embed"

// FS holds <component>/spec.yaml for every shipped component, plus spec.schema.json.
//
//go:embed */spec.yaml spec.schema.json
var FS embed.FS
