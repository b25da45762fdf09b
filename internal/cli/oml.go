package cli

import "github.com/spf13/cobra"

func newCmdOML(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "oml", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "oml is not built yet", nil)
	}}
}

func newCmdMCPOML(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "oml", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "oml is not built yet", nil)
	}}
}
