package cli

import "github.com/spf13/cobra"

// newCmdMCP is the namespace the MCP shim calls: each subcommand runs the same internal
// code as its top-level twin and prints the MCP document shape.
func newCmdMCP(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Commands the MCP shim calls (stable JSON contract)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newCmdMCPConnections(f),
		newCmdMCPComponents(f),
		newCmdMCPDiscovery(f),
		newCmdMCPCache(f),
		newCmdMCPOML(f),
		newCmdMCPUsecases(f),
		newCmdMCPGuide(f),
		newCmdMCPMemory(f),
		newCmdMCPAIOP(f),
		newCmdMCPResources(f),
	)
	return cmd
}
