// Command osiris-mcp is the MCP server: a thin shim that speaks MCP on stdio and runs
// 'osiris mcp ... --json' for every tool. See 'osiris mcp clients' to configure a client.
package main

import (
	"os"

	"github.com/osirisgo/osiris/internal/mcpserver"
)

func main() {
	os.Exit(mcpserver.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, mcpserver.Version))
}
