package runner

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/fsutil"
)

// RunRecord is one line of the run index (.osiris/index/runs.jsonl and
// by_pipeline/<slug>.jsonl). Every executed run appends one, successful or not.
type RunRecord struct {
	RunID             string   `json:"run_id"`
	PipelineSlug      string   `json:"pipeline_slug"`
	Profile           string   `json:"profile"`
	ManifestHash      string   `json:"manifest_hash"`
	ManifestShort     string   `json:"manifest_short"`
	RunTS             string   `json:"run_ts"`
	Status            string   `json:"status"`
	DurationMS        int64    `json:"duration_ms"`
	RunLogsPath       string   `json:"run_logs_path"`
	AIOPPath          string   `json:"aiop_path"`
	BuildManifestPath string   `json:"build_manifest_path"`
	Tags              []string `json:"tags"`
	Branch            string   `json:"branch"`
	User              string   `json:"user"`
	GitCommit         string   `json:"git_commit"`
	RuntimeEnv        any      `json:"runtime_env"`
}

func (r *run) appendIndex(res *Result) error {
	p := r.opts.Project
	hash := res.ManifestHash
	if strings.Contains(hash, ":") {
		return fmt.Errorf("manifest hash %q is not pure hex", hash)
	}
	tags := r.opts.Tags
	if tags == nil {
		tags = []string{}
	}
	rec := RunRecord{
		RunID: r.runID, PipelineSlug: r.slug, Profile: r.profile, ManifestHash: hash,
		ManifestShort: res.ManifestShort, RunTS: r.started.Format(time.RFC3339),
		Status: res.Status, DurationMS: res.Duration.Milliseconds(), RunLogsPath: r.runDir,
		AIOPPath: r.aiopDir(), BuildManifestPath: absPath(r.opts.ManifestPath), Tags: tags,
		Branch: gitOutput(p.Root, "rev-parse", "--abbrev-ref", "HEAD"), User: currentUser(),
		GitCommit: gitOutput(p.Root, "rev-parse", "HEAD"),
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	index := p.IndexDir()
	if err := appendSynced(filepath.Join(index, "runs.jsonl"), line); err != nil {
		return err
	}
	if err := appendSynced(filepath.Join(index, "by_pipeline", r.slug+".jsonl"), line); err != nil {
		return err
	}
	pointer := fmt.Sprintf("%s\n%s\n%s\n", absPath(r.opts.ManifestPath), hash, r.profile)
	return fsutil.WriteFileAtomic(filepath.Join(index, "latest", r.slug+".txt"),
		[]byte(pointer), 0o644)
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// gitOutput asks git about the project; outside a repository it is "".
func gitOutput(dir string, args ...string) string {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return ""
	}
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// appendSynced appends one line under an exclusive lock and fsyncs it, so concurrent runs
// never interleave and a crash never leaves half a record.
func appendSynced(path string, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	lock := flock.New(path + ".lock")
	if err := lock.Lock(); err != nil {
		return fmt.Errorf("lock %s: %w", filepath.Base(path), err)
	}
	defer lock.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(append([]byte(nil), line...), '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// nextCounter increments the per-pipeline run counter in counters.json under a lock.
func nextCounter(p *config.Project, slug string) (int, error) {
	path := filepath.Join(p.IndexDir(), "counters.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	lock := flock.New(path + ".lock")
	if err := lock.Lock(); err != nil {
		return 0, err
	}
	defer lock.Unlock()

	counters := map[string]int{}
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &counters); err != nil {
			return 0, fmt.Errorf("%s is not valid JSON: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, err
	}
	counters[slug]++
	out, err := json.MarshalIndent(counters, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := fsutil.WriteFileAtomic(path, out, 0o644); err != nil {
		return 0, err
	}
	return counters[slug], nil
}

// ReadRunRecords returns the index records, newest first. Unreadable lines are skipped.
func ReadRunRecords(p *config.Project) ([]RunRecord, error) {
	return readRecords(filepath.Join(p.IndexDir(), "runs.jsonl"))
}

func readRecords(path string) ([]RunRecord, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []RunRecord
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for scanner.Scan() {
		var rec RunRecord
		if json.Unmarshal(scanner.Bytes(), &rec) == nil && rec.RunID != "" {
			out = append(out, rec)
		}
	}
	// The file is in append order; newest first means reversed.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, scanner.Err()
}

// AmbiguousRunError says a run id names runs of several pipelines (an incremental-only
// run_id_format numbers each pipeline from 1). Candidates are "<pipeline>/<run_id>".
type AmbiguousRunError struct {
	RunID      string
	Candidates []string
}

func (e *AmbiguousRunError) Error() string {
	return fmt.Sprintf("run id %s names runs of several pipelines; use one of: %s", e.RunID,
		strings.Join(e.Candidates, ", "))
}

// FindRun returns the newest record with the run id. The id may be qualified as
// "<pipeline>/<run_id>"; an unqualified id used by several pipelines is an
// *AmbiguousRunError.
func FindRun(p *config.Project, runID string) (*RunRecord, error) {
	recs, err := ReadRunRecords(p)
	if err != nil {
		return nil, err
	}
	slug, id, qualified := strings.Cut(runID, "/")
	if !qualified {
		slug, id = "", runID
	}
	var found *RunRecord
	var candidates []string
	for i := range recs {
		if recs[i].RunID != id || (slug != "" && recs[i].PipelineSlug != slug) {
			continue
		}
		if found == nil {
			found = &recs[i]
		}
		candidate := recs[i].PipelineSlug + "/" + id
		if !slices.Contains(candidates, candidate) {
			candidates = append(candidates, candidate)
		}
	}
	if len(candidates) > 1 {
		return nil, &AmbiguousRunError{RunID: id, Candidates: candidates}
	}
	return found, nil
}

// SortRecords orders records newest first by run_ts, keeping index order for ties.
func SortRecords(recs []RunRecord) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].RunTS > recs[j].RunTS })
}
