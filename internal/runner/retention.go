package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/osirisgo/osiris/internal/config"
)

// CleanAction is one thing retention would delete (or did).
type CleanAction struct {
	Action  string  `json:"action"` // delete_run_logs or delete_annex
	Path    string  `json:"path"`
	Reason  string  `json:"reason"`
	AgeDays float64 `json:"age_days"`
}

// CleanReport is the outcome of a retention pass.
type CleanReport struct {
	DryRun  bool          `json:"dry_run"`
	Actions []CleanAction `json:"actions"`
	Errors  []string      `json:"errors"`
}

// Clean applies the retention rules: run log directories older than run_logs_days, and
// AIOP annex directories beyond the newest aiop_keep_runs_per_pipeline runs of a manifest
// or older than annex_keep_days. build/ is never touched. With dryRun nothing is deleted.
func Clean(p *config.Project, now time.Time, dryRun bool) CleanReport {
	rep := CleanReport{DryRun: dryRun, Actions: []CleanAction{}, Errors: []string{}}
	age := func(info fs.FileInfo) float64 {
		return float64(int(now.Sub(info.ModTime()).Hours()/24*10)) / 10
	}

	if days := p.RunLogsDays(); days > 0 {
		sessions, _ := ListSessions(p)
		for _, s := range sessions {
			info, err := os.Stat(s.Dir)
			if err != nil {
				continue
			}
			if now.Sub(info.ModTime()) > time.Duration(days)*24*time.Hour {
				rep.Actions = append(rep.Actions, CleanAction{Action: "delete_run_logs",
					Path: s.Dir, Reason: "older than run_logs_days", AgeDays: age(info)})
			}
		}
	}

	keep := *p.File.Filesystem.Retention.AIOPKeepRunsPerPipeline
	annexDays := *p.File.Filesystem.Retention.AnnexKeepDays
	byManifest := map[string][]string{} // manifest dir -> run dirs holding annex/
	_ = filepath.WalkDir(p.AIOPDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != "annex" {
			return nil
		}
		runDir := filepath.Dir(path)
		byManifest[filepath.Dir(runDir)] = append(byManifest[filepath.Dir(runDir)], runDir)
		return filepath.SkipDir
	})
	for _, runs := range byManifest {
		sort.Slice(runs, func(i, j int) bool { return modTime(runs[i]).After(modTime(runs[j])) })
		for i, runDir := range runs {
			annex := filepath.Join(runDir, "annex")
			info, err := os.Stat(annex)
			if err != nil {
				continue
			}
			switch {
			case keep > 0 && i >= keep:
				rep.Actions = append(rep.Actions, CleanAction{Action: "delete_annex",
					Path: annex, Reason: "beyond aiop_keep_runs_per_pipeline",
					AgeDays: age(info)})
			case annexDays > 0 && now.Sub(info.ModTime()) > time.Duration(annexDays)*24*time.Hour:
				rep.Actions = append(rep.Actions, CleanAction{Action: "delete_annex",
					Path: annex, Reason: "older than annex_keep_days", AgeDays: age(info)})
			}
		}
	}

	if dryRun {
		return rep
	}
	for _, a := range rep.Actions {
		if err := os.RemoveAll(a.Path); err != nil {
			rep.Errors = append(rep.Errors, a.Path+": "+err.Error())
		}
	}
	return rep
}

func modTime(path string) time.Time {
	if info, err := os.Stat(path); err == nil {
		return info.ModTime()
	}
	return time.Time{}
}
