package cli

import "github.com/spf13/cobra"

func newCmdComponents(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "components", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "components is not built yet", nil)
	}}
}

func newCmdMCPComponents(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "components", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "components is not built yet", nil)
	}}
}
