package cli

import "github.com/spf13/cobra"

func newCmdRuns(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "runs", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "runs is not built yet", nil)
	}}
}

func newCmdLogs(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "logs", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "logs is not built yet", nil)
	}}
}

func newCmdAIOP(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "aiop", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "aiop is not built yet", nil)
	}}
}

func newCmdMCPAIOP(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "aiop", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "aiop is not built yet", nil)
	}}
}

func newCmdMaintenance(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "maintenance", Short: "(not built yet)", RunE: func(*cobra.Command, []string) error {
		return FailureError("not_implemented", "maintenance is not built yet", nil)
	}}
}
