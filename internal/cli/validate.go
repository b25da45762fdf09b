package cli

import "github.com/spf13/cobra"

func newCmdValidate(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "validate", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "validate is not built yet", nil)
	}}
}
