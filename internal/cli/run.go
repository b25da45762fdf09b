package cli

import "github.com/spf13/cobra"

func newCmdRun(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "run", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "run is not built yet", nil)
	}}
}
