package cli

import "github.com/spf13/cobra"

func newCmdInit(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "init", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "init is not built yet", nil)
	}}
}
