package cli

import "github.com/spf13/cobra"

func newCmdCompile(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "compile", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "compile is not built yet", nil)
	}}
}
