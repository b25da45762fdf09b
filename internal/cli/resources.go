package cli

import "github.com/spf13/cobra"

func newCmdMCPResources(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "resources", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "resources is not built yet", nil)
	}}
}
