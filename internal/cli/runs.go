package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/runner"
)

// RunsListOptions filter 'runs list'.
type RunsListOptions struct {
	Pipeline, Profile, Tag, Since string
	Limit                         int
}

func newCmdRuns(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List and show runs from the run index",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	opts := &RunsListOptions{}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List indexed runs, newest first",
		Example: "osiris runs list --pipeline airports-per-state --since 7d --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return runsList(f, opts) },
	}
	list.Flags().StringVar(&opts.Pipeline, "pipeline", "", "Only runs of this pipeline slug")
	list.Flags().StringVar(&opts.Profile, "profile", "", "Only runs of this profile")
	list.Flags().StringVar(&opts.Tag, "tag", "", "Only runs carrying this tag")
	list.Flags().StringVar(&opts.Since, "since", "", "Only runs newer than this (7d, 24h, 30m)")
	list.Flags().IntVar(&opts.Limit, "limit", 100, "At most this many runs")
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run's index record and status",
		Args:  cobra.ExactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return runsShow(f, args[0]) },
	}
	cmd.AddCommand(list, show)
	return cmd
}

// parseSince reads 7d, 24h or 30m as a cut-off before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	unit := s[len(s)-1]
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n < 0 {
		return time.Time{}, UsageError("--since %q: want a number and d, h or m (7d, 24h, 30m)", s)
	}
	switch unit {
	case 'd':
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	case 'h':
		return now.Add(-time.Duration(n) * time.Hour), nil
	case 'm':
		return now.Add(-time.Duration(n) * time.Minute), nil
	}
	return time.Time{}, UsageError("--since %q: want a number and d, h or m (7d, 24h, 30m)", s)
}

// runSelection is the --pipeline, --profile and --since filter that 'runs list' and
// 'aiop list' share.
type runSelection struct {
	pipeline, profile string
	since             time.Time
}

// selectRuns parses the filter flags and opens the project whose records they select.
func selectRuns(f *Factory, pipeline, profile, since string) (runSelection, *config.Project,
	error) {
	sel := runSelection{pipeline: pipeline, profile: profile}
	var err error
	if sel.since, err = parseSince(since, time.Now()); err != nil {
		return sel, nil, err
	}
	p, err := f.Project()
	return sel, p, err
}

// keeps reports whether a record of pipeline slug and profile started at startedAt
// (RFC 3339) passes; with --since, a record whose time cannot be read is left out.
func (sel runSelection) keeps(slug, profile, startedAt string) bool {
	if sel.pipeline != "" && slug != sel.pipeline || sel.profile != "" && profile != sel.profile {
		return false
	}
	if sel.since.IsZero() {
		return true
	}
	ts, err := time.Parse(time.RFC3339, startedAt)
	return err == nil && !ts.Before(sel.since)
}

func runsList(f *Factory, opts *RunsListOptions) error {
	sel, p, err := selectRuns(f, opts.Pipeline, opts.Profile, opts.Since)
	if err != nil {
		return err
	}
	recs, err := runner.ReadRunRecords(p)
	if err != nil {
		return FailureError("index_error", "read the run index: "+err.Error(), nil)
	}
	out := []runner.RunRecord{}
	for _, r := range recs {
		if !sel.keeps(r.PipelineSlug, r.Profile, r.RunTS) ||
			opts.Tag != "" && !hasString(r.Tags, opts.Tag) {
			continue
		}
		out = append(out, r)
		if opts.Limit > 0 && len(out) >= opts.Limit {
			break
		}
	}
	if f.JSON {
		return f.Success(map[string]any{"runs": out, "count": len(out)})
	}
	if len(out) == 0 {
		f.Printf("No runs yet. Run a pipeline with 'osiris run FILE'.\n")
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN ID\tPIPELINE\tPROFILE\tSTATUS\tSTARTED\tDURATION")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2fs\n", r.RunID, r.PipelineSlug, r.Profile,
			r.Status, r.RunTS, float64(r.DurationMS)/1000)
	}
	return tw.Flush()
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func runsShow(f *Factory, id string) error {
	p, err := f.Project()
	if err != nil {
		return err
	}
	rec, err := runner.FindRun(p, id)
	if amb := ambiguousRun(err); amb != nil {
		return amb
	}
	if err != nil {
		return FailureError("index_error", "read the run index: "+err.Error(), nil)
	}
	if rec == nil {
		return NotFoundError("Run not found: " + id)
	}
	var status any
	if st, err := runner.ReadStatus(rec.RunLogsPath); err == nil {
		status = st
	}
	if f.JSON {
		return f.Success(map[string]any{"run": rec, "run_status": status})
	}
	f.Printf("Run %s (%s)\n  pipeline: %s\n  profile:  %s\n  started:  %s\n  duration: %.2fs\n"+
		"  run dir:  %s\n  summary:  %s\n", rec.RunID, rec.Status, rec.PipelineSlug,
		rec.Profile, rec.RunTS, float64(rec.DurationMS)/1000, rec.RunLogsPath,
		filepath.Join(rec.AIOPPath, "summary.json"))
	return nil
}

// LogsOptions are the flags of 'logs list|show|last'.
type LogsOptions struct {
	Limit          int
	Events         bool
	Metrics        bool
	Output         string
	IncludeSession bool
}

func newCmdLogs(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "List and read session logs under run_logs/",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	opts := &LogsOptions{}
	list := &cobra.Command{
		Use: "list", Short: "List sessions (runs and logged commands), newest first",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return logsList(f, opts) },
	}
	list.Flags().IntVar(&opts.Limit, "limit", 20, "At most this many sessions")
	show := &cobra.Command{
		Use: "show SESSION_ID", Short: "Show one session, optionally with its events and metrics",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return logsShow(f, args[0], opts) },
	}
	last := &cobra.Command{
		Use: "last", Short: "Show the newest session",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return logsShow(f, "", opts) },
	}
	for _, c := range []*cobra.Command{show, last} {
		c.Flags().BoolVar(&opts.Events, "events", false, "Include events")
		c.Flags().BoolVar(&opts.Metrics, "metrics", false, "Include metrics")
	}
	html := &cobra.Command{
		Use:     "html RUN_ID",
		Short:   "Render a run as one self-contained HTML page",
		Example: "osiris logs html run-000001\nosiris logs html run-000001 --output report.html",
		Args:    cobra.ExactArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return logsHTML(f, args[0], opts) },
	}
	html.Flags().StringVar(&opts.Output, "output", "", "Write the page here (default: <run dir>/report.html)")
	cmd.AddCommand(list, show, last, html)
	return cmd
}

func logsList(f *Factory, opts *LogsOptions) error {
	p, err := f.Project()
	if err != nil {
		return err
	}
	sessions, err := runner.ListSessions(p)
	if err != nil {
		return FailureError("logs_error", "read run logs: "+err.Error(), nil)
	}
	if opts.Limit > 0 && len(sessions) > opts.Limit {
		sessions = sessions[:opts.Limit]
	}
	if sessions == nil {
		sessions = []runner.Session{}
	}
	if f.JSON {
		return f.Success(map[string]any{"sessions": sessions, "count": len(sessions)})
	}
	if len(sessions) == 0 {
		f.Printf("No sessions under %s yet.\n", p.RunLogsDir())
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tPIPELINE\tSTATUS\tSTEPS\tSTARTED\tDURATION")
	for _, s := range sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%.2fs\n", s.SessionID, s.PipelineName,
			s.Status, s.StepsOK, s.StepsTotal, s.StartedAt, float64(s.DurationMS)/1000)
	}
	return tw.Flush()
}

func findSession(f *Factory, id string) (*runner.Session, error) {
	p, err := f.Project()
	if err != nil {
		return nil, err
	}
	if id == "" {
		sessions, err := runner.ListSessions(p)
		if err != nil {
			return nil, FailureError("logs_error", "read run logs: "+err.Error(), nil)
		}
		if len(sessions) == 0 {
			return nil, NotFoundError("no sessions yet under " + p.RunLogsDir())
		}
		return &sessions[0], nil
	}
	s, err := runner.FindSession(p, id)
	if amb := ambiguousRun(err); amb != nil {
		return nil, amb
	}
	if err != nil {
		return nil, FailureError("logs_error", "read run logs: "+err.Error(), nil)
	}
	if s == nil {
		return nil, NotFoundError("Session not found: " + id)
	}
	return s, nil
}

func logsShow(f *Factory, id string, opts *LogsOptions) error {
	s, err := findSession(f, id)
	if err != nil {
		return err
	}
	doc := map[string]any{"session": s, "session_id": s.SessionID}
	if opts.Events {
		doc["events"] = nonNilRecords(runner.ReadJSONL(filepath.Join(s.Dir, "events.jsonl"), 0))
	}
	if opts.Metrics {
		doc["metrics"] = nonNilRecords(runner.ReadJSONL(filepath.Join(s.Dir, "metrics.jsonl"), 0))
	}
	if f.JSON {
		return f.Success(doc)
	}
	f.Printf("Session %s (%s)\n  pipeline: %s\n  steps:    %d/%d\n  started:  %s\n"+
		"  finished: %s\n  dir:      %s\n", s.SessionID, s.Status, s.PipelineName, s.StepsOK,
		s.StepsTotal, s.StartedAt, s.FinishedAt, s.Dir)
	for _, key := range []string{"events", "metrics"} {
		list, _ := doc[key].([]map[string]any)
		if len(list) > 0 {
			f.Printf("\n%s:\n", key)
		}
		for _, line := range list {
			raw, _ := json.Marshal(line)
			f.Printf("  %s\n", raw)
		}
	}
	return nil
}

func nonNilRecords(list []map[string]any) []map[string]any {
	if list == nil {
		return []map[string]any{}
	}
	return list
}

func logsHTML(f *Factory, id string, opts *LogsOptions) error {
	s, err := findSession(f, id)
	if err != nil {
		return err
	}
	page, err := runner.RenderHTML(s.Dir)
	if err != nil {
		return ValidationError("not_a_run", fmt.Sprintf(
			"session %s is not a pipeline run (no status.json)", s.SessionID), nil)
	}
	path := opts.Output
	if path == "" {
		path = filepath.Join(s.Dir, "report.html")
	}
	if err := fsutil.WriteFileAtomic(path, page, 0o644); err != nil {
		return FailureError("write_error", "write the report: "+err.Error(), nil)
	}
	if f.JSON {
		return f.Success(map[string]any{"session_id": s.SessionID, "path": path,
			"size_bytes": len(page)})
	}
	f.Printf("%s\n", path)
	return nil
}

// AIOPListOptions filter 'aiop list'.
type AIOPListOptions struct {
	Pipeline, Profile, Since, Run string
}

func newCmdAIOP(f *Factory) *cobra.Command {
	return aiopCommands(f, false)
}

func newCmdMCPAIOP(f *Factory) *cobra.Command {
	return aiopCommands(f, true)
}

// aiopCommands builds 'aiop' and its 'mcp aiop' twin: the same code, the MCP document
// shape when mcp is set.
func aiopCommands(f *Factory, mcp bool) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aiop",
		Short: "List and read the AI-operation summaries of runs",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	opts := &AIOPListOptions{}
	list := &cobra.Command{
		Use: "list", Short: "List runs that have an AIOP summary, newest first",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return aiopList(f, opts, mcp) },
	}
	list.Flags().StringVar(&opts.Pipeline, "pipeline", "", "Only this pipeline slug")
	list.Flags().StringVar(&opts.Profile, "profile", "", "Only this profile")
	list.Flags().StringVar(&opts.Since, "since", "", "Only runs newer than this (7d, 24h, 30m)")
	show := &cobra.Command{
		Use: "show --run RUN_ID", Short: "Show one run's AIOP summary",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return aiopShow(f, opts.Run, mcp) },
	}
	show.Flags().StringVar(&opts.Run, "run", "", "Run id")
	_ = show.MarkFlagRequired("run")
	cmd.AddCommand(list, show)
	return cmd
}

func aiopList(f *Factory, opts *AIOPListOptions, mcp bool) error {
	sel, p, err := selectRuns(f, opts.Pipeline, opts.Profile, opts.Since)
	if err != nil {
		return err
	}
	recs, err := runner.ReadAIOPRecords(p)
	if err != nil {
		return FailureError("aiop_error", "read the AIOP index: "+err.Error(), nil)
	}
	runs := []map[string]any{}
	for _, r := range recs {
		if !sel.keeps(r.PipelineSlug, r.Profile, r.StartedAt) {
			continue
		}
		item := map[string]any{"pipeline": r.PipelineSlug, "run_id": r.SessionID,
			"profile": r.Profile, "timestamp": r.StartedAt, "status": r.Status,
			"summary_path": r.CorePath}
		if mcp {
			size := int64(0)
			if info, err := os.Stat(r.CorePath); err == nil {
				size = info.Size()
			}
			item["summary_size"] = size
		}
		runs = append(runs, item)
	}
	if f.JSON {
		return f.Success(map[string]any{"runs": runs, "count": len(runs)})
	}
	if len(runs) == 0 {
		f.Printf("No AIOP summaries yet.\n")
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN ID\tPIPELINE\tPROFILE\tSTATUS\tSTARTED")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r["run_id"], r["pipeline"], r["profile"],
			r["status"], r["timestamp"])
	}
	return tw.Flush()
}

func aiopShow(f *Factory, id string, mcp bool) error {
	if strings.TrimSpace(id) == "" {
		return UsageError("--run RUN_ID is required")
	}
	p, err := f.Project()
	if err != nil {
		return err
	}
	recs, err := runner.ReadAIOPRecords(p)
	if err != nil {
		return FailureError("aiop_error", "read the AIOP index: "+err.Error(), nil)
	}
	rec, err := findAIOPRecord(recs, id)
	if err != nil {
		return err
	}
	if rec == nil {
		return NotFoundError("Run not found: " + id)
	}
	raw, err := os.ReadFile(rec.CorePath)
	if err != nil {
		return NotFoundError("Run not found: " + id + " (its summary.json is gone)")
	}
	var summary map[string]any
	if err := json.Unmarshal(raw, &summary); err != nil {
		return FailureError("aiop_error", "summary.json of "+id+" is not valid JSON", nil)
	}
	if mcp {
		summary = map[string]any{"run_id": id, "pipeline": rec.PipelineSlug,
			"status": rec.Status, "core": map[string]any{
				"run_metadata": summary["run"], "evidence": summary["evidence"],
				"semantic": summary["semantic"], "narrative": summary["narrative"]}}
	}
	if f.JSON {
		return f.Success(map[string]any{"summary": summary})
	}
	if n, ok := summary["narrative"].(map[string]any); ok {
		f.Printf("%s\n", n["narrative"])
	}
	f.Printf("summary: %s\n", rec.CorePath)
	return nil
}

func newCmdMaintenance(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintenance",
		Short: "Housekeeping of run logs and AIOP annexes",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var dryRun bool
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Delete run logs and AIOP annexes past their retention (build/ is kept)",
		Long: "Apply filesystem.retention: delete run log directories older than " +
			"run_logs_days and AIOP annex directories beyond aiop_keep_runs_per_pipeline " +
			"or older than annex_keep_days. build/ is never touched.",
		Example: "osiris maintenance clean --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := f.Project()
			if err != nil {
				return err
			}
			rep := runner.Clean(p, time.Now(), dryRun)
			logs, annex := 0, 0
			for _, a := range rep.Actions {
				if a.Action == "delete_run_logs" {
					logs++
				} else {
					annex++
				}
			}
			if f.JSON {
				return f.Success(map[string]any{"dry_run": dryRun, "stats": map[string]any{
					"total_actions": len(rep.Actions), "run_logs_to_delete": logs,
					"aiop_annex_to_delete": annex, "build_preserved": 0},
					"actions": rep.Actions, "errors": rep.Errors})
			}
			verb := "Deleted"
			if dryRun {
				verb = "Would delete"
			}
			for _, a := range rep.Actions {
				f.Printf("%s %s (%s, %.1f days)\n", verb, a.Path, a.Reason, a.AgeDays)
			}
			f.Printf("%s %d run log directories and %d annex directories.\n", verb, logs, annex)
			for _, e := range rep.Errors {
				f.Notef("error: %s\n", e)
			}
			return nil
		},
	}
	clean.Flags().BoolVar(&dryRun, "dry-run", false, "Only list what would be deleted")
	cmd.AddCommand(clean)
	return cmd
}

// ambiguousRun turns a run id shared by several pipelines into a usage error listing the
// qualified ids to use instead; other errors give nil.
func ambiguousRun(err error) *Error {
	var ambiguous *runner.AmbiguousRunError
	if !errors.As(err, &ambiguous) {
		return nil
	}
	return ValidationError("ambiguous_run_id", ambiguous.Error(),
		map[string]any{"candidates": ambiguous.Candidates})
}

// findAIOPRecord picks the newest AIOP record of a run id, which may be qualified as
// "<pipeline>/<run_id>"; an unqualified id that several pipelines share is refused.
func findAIOPRecord(recs []runner.AIOPRecord, id string) (*runner.AIOPRecord, error) {
	slug, bare, qualified := strings.Cut(id, "/")
	if !qualified {
		slug, bare = "", id
	}
	var found *runner.AIOPRecord
	var candidates []string
	for i := range recs {
		if recs[i].SessionID != bare || (slug != "" && recs[i].PipelineSlug != slug) {
			continue
		}
		if found == nil {
			found = &recs[i]
		}
		if c := recs[i].PipelineSlug + "/" + bare; !slices.Contains(candidates, c) {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) > 1 {
		return nil, ambiguousRun(&runner.AmbiguousRunError{RunID: bare, Candidates: candidates})
	}
	return found, nil
}
