package cli

import "github.com/spf13/cobra"

func newCmdConnections(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "connections", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "connections is not built yet", nil)
	}}
}

func newCmdMCPConnections(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "connections", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "connections is not built yet", nil)
	}}
}
