package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/memory"
	"github.com/osirisgo/osiris/internal/secrets"
)

// maxEventsBytes bounds the events read from stdin or a flag: the largest request the MCP
// shim accepts (100 MiB), so no real capture is refused here first.
const maxEventsBytes = 100 << 20

func newCmdMemory(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Capture and prune what an assistant session remembers",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdMemoryCapture(f), newCmdMemoryPrune(f))
	return cmd
}

func newCmdMCPMemory(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "memory",
		Short: "Memory capture and retention, in the MCP tool shapes",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdMemoryCapture(f), newCmdMemoryPrune(f))
	return cmd
}

// memoryCaptureOptions are the flags of 'memory capture'.
type memoryCaptureOptions struct {
	SessionID     string
	Consent       bool
	RetentionDays int
	RetentionSet  bool
	Events        string // JSON, or "-" for stdin
	Text          string
}

func newCmdMemoryCapture(f *Factory) *cobra.Command {
	opts := &memoryCaptureOptions{}
	cmd := &cobra.Command{
		Use:   "capture",
		Short: "Store redacted session events in the project's memory",
		Long: "Append one entry to <memory dir>/sessions/<session id>.jsonl. E-mail addresses, " +
			"phone numbers, card and social security numbers, IP addresses, credentials in " +
			"URLs and every secret-named field are redacted before anything is written. " +
			"Nothing is stored without --consent.",
		Example: "osiris memory capture --session-id chat-42 --consent --text \"prefers CSV\"\n" +
			"osiris mcp memory capture --session-id chat-42 --consent --events - --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.RetentionSet = cmd.Flags().Changed("retention-days")
			return memoryCaptureRun(f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.SessionID, "session-id", "", "Session id: 1-128 of A-Z a-z 0-9 . _ -")
	fl.BoolVar(&opts.Consent, "consent", false, "Confirm that the user agreed to this capture")
	fl.IntVar(&opts.RetentionDays, "retention-days", memory.DefaultRetentionDays,
		"Days to keep the entry, 0-730 (else $OSIRIS_MCP_MEMORY_RETENTION_DAYS)")
	fl.StringVar(&opts.Events, "events", "", "Events as a JSON array, or - to read them from stdin")
	fl.StringVar(&opts.Text, "text", "", "A free-text note to store as a manual entry")
	return cmd
}

func memoryCaptureRun(f *Factory, opts *memoryCaptureOptions) error {
	if !opts.Consent {
		return ValidationError("consent_required", memory.ConsentMessage, map[string]any{
			"captured": false, "code": "POLICY/POL001", "path": []string{"consent"},
			"suggest": "Ask the user whether this session may be remembered, then pass --consent",
		})
	}
	if err := memory.ValidateSessionID(opts.SessionID); err != nil {
		return memoryInputError(err)
	}
	events, err := readCaptureEvents(f, opts)
	if err != nil {
		return err
	}
	project, err := f.Project()
	if err != nil {
		return err
	}

	res, err := memory.Capture(project.MemoryDir(), memory.Request{
		SessionID:     opts.SessionID,
		Consent:       true,
		RetentionDays: captureRetention(f, opts),
		Events:        events,
		KnownSecrets:  connectionSecrets(project),
	})
	var inputErr *memory.InputError
	if errors.As(err, &inputErr) {
		return memoryInputError(err)
	}
	if err != nil {
		return FailureError("memory_write_failed", "Memory capture failed: "+err.Error(),
			map[string]any{"captured": false})
	}

	if !f.JSON {
		f.Printf("Captured %s for session %s (%d redactions, %d bytes)\n  %s\n  %s\n",
			res.MemoryID, res.SessionID, res.RedactionsApplied, res.EntrySizeBytes,
			res.FilePath, res.MemoryURI)
		return nil
	}
	return f.Success(map[string]any{
		"captured":           true,
		"memory_id":          res.MemoryID,
		"session_id":         res.SessionID,
		"memory_uri":         res.MemoryURI,
		"retention_days":     res.RetentionDays,
		"timestamp":          res.Timestamp,
		"entry_size_bytes":   res.EntrySizeBytes,
		"redactions_applied": res.RedactionsApplied,
		"file_path":          res.FilePath,
	})
}

func memoryInputError(err error) error {
	var inputErr *memory.InputError
	field := "events"
	if errors.As(err, &inputErr) {
		field = inputErr.Field
	}
	return ValidationError("invalid_"+field, err.Error(), map[string]any{
		"captured": false, "path": []string{field},
	})
}

// readCaptureEvents gathers the events of a capture: --events (inline or stdin) followed
// by the --text note.
func readCaptureEvents(f *Factory, opts *memoryCaptureOptions) ([]any, error) {
	if opts.Events == "" && opts.Text == "" {
		return nil, ValidationError("invalid_events", "nothing to capture: give --events or --text",
			map[string]any{"captured": false, "path": []string{"events"}})
	}
	var events []any
	if opts.Events != "" {
		raw := []byte(opts.Events)
		if opts.Events == "-" {
			var err error
			raw, err = io.ReadAll(io.LimitReader(f.IO.In, maxEventsBytes+1))
			if err != nil {
				return nil, FailureError("memory_write_failed",
					"Memory capture failed: read events from stdin: "+err.Error(),
					map[string]any{"captured": false})
			}
		}
		if len(raw) > maxEventsBytes {
			return nil, ValidationError("invalid_events", fmt.Sprintf(
				"events are larger than %d MiB", maxEventsBytes>>20),
				map[string]any{"captured": false, "path": []string{"events"}})
		}
		parsed, err := memory.ParseEvents(raw)
		if err != nil {
			return nil, memoryInputError(err)
		}
		events = parsed
	}
	if opts.Text != "" {
		events = append(events, memory.NoteEvent(opts.Text))
	}
	return events, nil
}

// captureRetention applies --retention-days > $OSIRIS_MCP_MEMORY_RETENTION_DAYS > 365 and
// clamps the result to 0..730, warning when it had to.
func captureRetention(f *Factory, opts *memoryCaptureOptions) int {
	days := memory.DefaultRetentionDays
	if opts.RetentionSet {
		days = opts.RetentionDays
	} else if env := os.Getenv("OSIRIS_MCP_MEMORY_RETENTION_DAYS"); env != "" {
		n, err := strconv.Atoi(env)
		if err != nil {
			f.Logger().Warn("ignoring OSIRIS_MCP_MEMORY_RETENTION_DAYS: not a whole number",
				"value", env, "default", days)
		} else {
			days = n
		}
	}
	if clamped := memory.ClampRetention(days); clamped != days {
		f.Logger().Warn("retention clamped", "requested_days", days, "days", clamped)
		days = clamped
	}
	return days
}

// memoryPruneOptions are the flags of 'memory prune'.
type memoryPruneOptions struct {
	DryRun bool
}

func newCmdMemoryPrune(f *Factory) *cobra.Command {
	opts := &memoryPruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove memory entries whose retention has run out",
		Long: "Drop every memory entry older than its retention_days. Each session file is " +
			"rewritten under its lock through a temporary file; empty files are deleted.",
		Example: "osiris memory prune --dry-run\nosiris mcp memory prune --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return memoryPruneRun(f, opts) },
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "Count what would be removed; change nothing")
	return cmd
}

func memoryPruneRun(f *Factory, opts *memoryPruneOptions) error {
	project, err := f.Project()
	if err != nil {
		return err
	}
	res, err := memory.Prune(project.MemoryDir(), time.Now(), opts.DryRun)
	if err != nil {
		return FailureError("memory_prune_failed", "Memory prune failed: "+err.Error(), nil)
	}
	if res.InvalidEntries > 0 {
		f.Logger().Warn("kept memory lines that are not readable entries",
			"count", res.InvalidEntries)
	}

	if !f.JSON {
		verb := "Removed"
		if opts.DryRun {
			verb = "Would remove"
		}
		f.Printf("%s %d of %d memory entries (%d files rewritten, %d deleted)\n", verb,
			res.RemovedEntries, res.ScannedEntries, res.FilesRewritten, res.FilesDeleted)
		return nil
	}
	return f.Success(map[string]any{
		"scanned_entries": res.ScannedEntries,
		"removed_entries": res.RemovedEntries,
		"invalid_entries": res.InvalidEntries,
		"files_rewritten": res.FilesRewritten,
		"files_deleted":   res.FilesDeleted,
		"dry_run":         res.DryRun,
	})
}

// connectionSecrets lists the resolved secret values of every configured connection, so
// a password pasted into a chat note is hidden even where no rule recognises it. An
// alias that does not resolve (an unset variable) adds nothing.
func connectionSecrets(p *config.Project) []string {
	file, err := connections.Load(p.ConnectionsFile())
	if err != nil {
		return nil
	}
	var values []string
	for _, family := range file.Families {
		for _, a := range file.Aliases[family] {
			resolved, _, err := file.Resolve(family, a.Name)
			if err != nil {
				continue
			}
			values = append(values, secretValues(resolved)...)
		}
	}
	return values
}

func secretValues(m map[string]any) []string {
	var out []string
	for k, v := range m {
		switch t := v.(type) {
		case string:
			if secrets.IsSecretKey(k) {
				out = append(out, t)
			}
		case map[string]any:
			if secrets.IsSecretKey(k) {
				for _, hv := range t {
					if s, ok := hv.(string); ok {
						out = append(out, s)
					}
				}
			}
			out = append(out, secretValues(t)...)
		}
	}
	return out
}
