package cli

import "github.com/spf13/cobra"

func newCmdUsecases(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "usecases", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "usecases is not built yet", nil)
	}}
}

func newCmdGuide(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "guide", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "guide is not built yet", nil)
	}}
}

func newCmdMCPUsecases(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "usecases", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "usecases is not built yet", nil)
	}}
}

func newCmdMCPGuide(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "guide", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "guide is not built yet", nil)
	}}
}
