package runner

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/naming"
)

// RunIdentity returns the run id and the absolute run directory a run of m started at
// started would get, exactly as Run picks them. A run executed elsewhere (an E2B
// sandbox) uses it so that its local run directory sits where a local run's would.
func RunIdentity(p *config.Project, m *manifest.Manifest, profile string,
	started time.Time) (runID, runDir string, err error) {
	if m.Meta.Profile != "" {
		profile = m.Meta.Profile
	}
	slug := m.Pipeline.ID
	runID, err = naming.RunID(p.RunIDFormat(), started, func() (int, error) {
		return nextCounter(p, slug)
	})
	if err != nil {
		return "", "", fmt.Errorf("make a run id: %w", err)
	}
	names := p.File.Filesystem.Naming
	rel := renderRunDir(names.RunDir, names.RunTSFormat, started, map[string]string{
		"pipeline_slug": slug, "profile": profile, "manifest_hash": m.Meta.ManifestHash,
		"manifest_short": m.Meta.ManifestShort, "run_id": runID,
	})
	base := p.RunLogsDir()
	if p.ProfilesEnabled() && profile != "" {
		base = filepath.Join(base, profile)
	}
	runDir, err = filepath.Abs(filepath.Join(base, rel))
	return runID, runDir, err
}

// AppendRunRecord adds the record of a run executed elsewhere to both index files and
// moves the pipeline's latest pointer, as Run does for a local run. Branch, user and
// commit are filled in when empty.
func AppendRunRecord(p *config.Project, rec RunRecord) error {
	if strings.Contains(rec.ManifestHash, ":") {
		return fmt.Errorf("manifest hash %q is not pure hex", rec.ManifestHash)
	}
	if rec.Tags == nil {
		rec.Tags = []string{}
	}
	if rec.Branch == "" {
		rec.Branch = gitOutput(p.Root, "rev-parse", "--abbrev-ref", "HEAD")
	}
	if rec.GitCommit == "" {
		rec.GitCommit = gitOutput(p.Root, "rev-parse", "HEAD")
	}
	if rec.User == "" {
		rec.User = currentUser()
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	index := p.IndexDir()
	if err := appendSynced(filepath.Join(index, "runs.jsonl"), line); err != nil {
		return err
	}
	err = appendSynced(filepath.Join(index, "by_pipeline", rec.PipelineSlug+".jsonl"), line)
	if err != nil {
		return err
	}
	pointer := fmt.Sprintf("%s\n%s\n%s\n", rec.BuildManifestPath, rec.ManifestHash, rec.Profile)
	return fsutil.WriteFileAtomic(filepath.Join(index, "latest", rec.PipelineSlug+".txt"),
		[]byte(pointer), 0o644)
}
