package cli

import "github.com/spf13/cobra"

func newCmdDiscovery(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "discovery", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "discovery is not built yet", nil)
	}}
}

func newCmdMCPDiscovery(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "discovery", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "discovery is not built yet", nil)
	}}
}

func newCmdMCPCache(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "cache", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "cache is not built yet", nil)
	}}
}
