// Command osiris-mcp is the MCP server: a thin shim that runs 'osiris mcp ... --json'.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "osiris-mcp: not built yet")
	os.Exit(1)
}
