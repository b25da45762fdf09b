package cli

import "github.com/spf13/cobra"

func newCmdMemory(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "memory", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "memory is not built yet", nil)
	}}
}

func newCmdMCPMemory(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "memory", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "memory is not built yet", nil)
	}}
}
