package cli

import "github.com/spf13/cobra"

// runRemote runs a pipeline away from this machine (osiris run --target e2b). This build
// has no remote execution adapter yet, so it fails with a clear message and exit code 1.
func runRemote(_ *cobra.Command, _ *Factory, opts *RunOptions) error {
	return FailureError("remote_unavailable",
		"remote target not available: this build of osiris cannot run on '"+opts.Target+
			"' yet; use --target local", map[string]any{"target": opts.Target,
			"phase": "execute"})
}
