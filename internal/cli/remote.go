package cli

import (
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/remote"
)

// remotePackOptions are the flags of 'osiris remote pack'.
type remotePackOptions struct {
	RunDir      string
	MaxMB       int
	IncludeData bool
	Include     []string
}

// newCmdRemote groups the commands that run inside a remote sandbox.
func newCmdRemote(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "remote",
		Short:  "Commands the sandbox side of a remote run uses",
		Hidden: true,
		Args:   cobra.NoArgs,
	}
	cmd.AddCommand(newCmdRemotePack(f, nil))
	return cmd
}

func newCmdRemotePack(f *Factory, runF func(*remotePackOptions) error) *cobra.Command {
	opts := &remotePackOptions{}
	cmd := &cobra.Command{
		Use:   "pack",
		Short: "Pack a run directory's results into out.tgz and out.index.json",
		Long: "Packs the records, logs and artifacts of a run directory into out.tgz, " +
			"with out.index.json listing every file's size and SHA-256 and every file " +
			"left out and why. A remote run calls it in the sandbox before downloading.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("include-data") {
				opts.IncludeData = os.Getenv("E2B_DOWNLOAD_DATA_ARTIFACTS") == "1"
			}
			if !cmd.Flags().Changed("max-mb") {
				if n, err := strconv.Atoi(os.Getenv("E2B_ARTIFACT_MAX_MB")); err == nil && n > 0 {
					opts.MaxMB = n
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return remotePackRun(f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.RunDir, "run-dir", ".", "Run directory to pack")
	cmd.Flags().IntVar(&opts.MaxMB, "max-mb", remote.DefaultArtifactMaxMB,
		"Leave artifacts larger than this many MB behind")
	cmd.Flags().BoolVar(&opts.IncludeData, "include-data", false,
		"Also pack data dumps (parquet, feather, pickle, arrow)")
	cmd.Flags().StringArrayVar(&opts.Include, "include", nil,
		"Also pack this run-relative file whatever its size (repeatable)")
	return cmd
}

func remotePackRun(f *Factory, opts *remotePackOptions) error {
	if opts.MaxMB <= 0 {
		return UsageError("--max-mb must be a positive number of megabytes")
	}
	info, err := os.Stat(opts.RunDir)
	if err != nil || !info.IsDir() {
		return UsageError("run directory %s does not exist", opts.RunDir)
	}
	for _, inc := range opts.Include {
		if _, err := remote.SafeRelPath(inc); err != nil {
			return UsageError("--include %s: %v", inc, err)
		}
	}
	index, err := remote.Pack(opts.RunDir, remote.PackOptions{
		MaxBytes: int64(opts.MaxMB) << 20, IncludeData: opts.IncludeData,
		Include: opts.Include})
	if err != nil {
		return FailureError("pack_failed", err.Error(), nil)
	}
	if f.JSON {
		return f.Success(map[string]any{"archive": remote.PackArchive,
			"index": remote.PackIndex, "files": len(index.Files), "skipped": len(index.Skipped),
			"total_bytes": index.TotalBytes})
	}
	f.Printf("packed %d files (%d bytes) into %s; %d left out, listed in %s\n",
		len(index.Files), index.TotalBytes, remote.PackArchive, len(index.Skipped),
		remote.PackIndex)
	return nil
}
