package compile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/naming"
)

// build writes the artifacts into a temp directory and renames it into place, then the
// pointers and the cache entry.
func build(opts Options, c *compiled) (*Result, error) {
	p := opts.Project
	m, err := c.manifestDocument()
	if err != nil {
		return nil, err
	}
	canonical, err := CanonicalJSON(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	manifestFP := "sha256:" + sha256Hex(canonical)
	hashInput, err := CanonicalJSON(map[string]any{"manifest": m, "profile": c.profile})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	hash := sha256Hex(hashInput)
	short := hash[:p.File.Filesystem.Naming.ManifestShortLen]

	meta := m["meta"].(map[string]any)
	meta["manifest_hash"] = hash
	meta["manifest_short"] = short
	fps := m["pipeline"].(map[string]any)["fingerprints"].(map[string]any)
	fps["manifest_fp"] = manifestFP

	// Limitation: the artifacts section of osiris.yaml is not read; every file is written.
	files := map[string][]byte{}
	if files["manifest.yaml"], err = CanonicalYAML(m); err != nil {
		return nil, fmt.Errorf("encode manifest.yaml: %w", err)
	}
	var planSteps []any
	for _, s := range c.steps {
		planSteps = append(planSteps, map[string]any{"id": s.ID, "driver": s.Component})
		if files["cfg/"+s.ID+".json"], err = CanonicalJSON(c.cfgs[s.ID]); err != nil {
			return nil, fmt.Errorf("encode cfg of step %s: %w", s.ID, err)
		}
	}
	if files["plan.json"], err = CanonicalJSON(map[string]any{"steps": planSteps}); err != nil {
		return nil, err
	}
	if files["fingerprints.json"], err = CanonicalJSON(
		map[string]any{"fingerprints": fps}); err != nil {
		return nil, err
	}
	omlVersion := meta["oml_version"]
	if files["run_summary.json"], err = CanonicalJSON(map[string]any{
		"compiled_at":    time.Now().UTC().Format(time.RFC3339),
		"manifest_hash":  hash,
		"manifest_short": short,
		"oml_version":    omlVersion,
		"pipeline_slug":  c.slug,
		"profile":        c.profile,
	}); err != nil {
		return nil, err
	}

	manifestDir := naming.Render(p.File.Filesystem.Naming.ManifestDir, map[string]string{
		"pipeline_slug": c.slug, "profile": c.profile, "manifest_hash": hash,
		"manifest_short": short,
	})
	if manifestDir == "" {
		manifestDir = c.slug + "/" + short + "-" + hash
	}
	dir := filepath.Join(buildDir(p, c.profile), filepath.FromSlash(manifestDir))
	if err := writeDir(dir, files); err != nil {
		return nil, err
	}

	res := &Result{
		ManifestPath: filepath.Join(dir, "manifest.yaml"), ManifestDir: dir,
		ManifestHash: hash, ManifestShort: short, PipelineSlug: c.slug, Profile: c.profile,
		Warnings: c.warnings,
	}
	if err := writePointers(p, c.slug, res); err != nil {
		return nil, err
	}
	entry, _ := json.Marshal(map[string]string{
		"manifest_path": res.ManifestPath, "manifest_hash": hash,
	})
	if err := fsutil.WriteFileAtomic(cacheEntryPath(p, c.cacheKey), entry, 0o644); err != nil {
		return nil, fmt.Errorf("write compile cache: %w", err)
	}
	return res, nil
}

// writeDir fills a fresh temp directory beside dir and swaps it in, so a reader never
// sees a half-written build. A build already in place is replaced (same inputs give the
// same bytes, so a concurrent compile of the same pipeline loses nothing).
func writeDir(dir string, files map[string][]byte) (err error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("create build directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		path := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := writeFileSynced(path, data); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}

	if _, statErr := os.Stat(dir); statErr == nil {
		old := filepath.Join(parent, ".old-"+filepath.Base(dir)+"-"+randomSuffix())
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replace build directory: %w", err)
		}
		defer func() { _ = os.RemoveAll(old) }()
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "manifest.yaml")); statErr == nil {
			_ = os.RemoveAll(tmp) // another compile put the same build in place first
			return nil
		}
		return fmt.Errorf("move build into place: %w", err)
	}
	return nil
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// LastCompilePointer is .osiris/index/last_compile.txt, rewritten by every compile; `osiris
// run --last-compile` reads it.
func LastCompilePointer(p *config.Project) string {
	return filepath.Join(p.IndexDir(), "last_compile.txt")
}

// LatestPointer is .osiris/index/latest/<slug>.txt, the newest build of one pipeline;
// `osiris run --last-compile-in SLUG` reads it.
func LatestPointer(p *config.Project, slug string) string {
	return filepath.Join(p.IndexDir(), "latest", slug+".txt")
}

// latestInBuild is build/pipelines/[<profile>/]<slug>/LATEST.
func latestInBuild(p *config.Project, slug, profile string) string {
	return filepath.Join(buildDir(p, profile), slug, "LATEST")
}

func cacheEntryPath(p *config.Project, key string) string {
	return filepath.Join(p.CacheDir(), "compile", key+".json")
}

// writePointers records the build in LATEST, latest/<slug>.txt and last_compile.txt.
func writePointers(p *config.Project, slug string, res *Result) error {
	content := []byte(res.ManifestPath + "\n" + res.ManifestHash + "\n" + res.Profile + "\n")
	for _, path := range []string{
		latestInBuild(p, slug, res.Profile), LatestPointer(p, slug), LastCompilePointer(p),
	} {
		if err := fsutil.WriteFileAtomic(path, content, 0o644); err != nil {
			return fmt.Errorf("write pointer %s: %w", path, err)
		}
	}
	return nil
}

// ReadPointer reads a pointer file: the manifest's absolute path, its hash and the
// profile it was compiled for (may be empty).
func ReadPointer(path string) (manifestPath, hash, profile string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", "", err
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) == "" {
		return "", "", "", fmt.Errorf("pointer %s: want manifest path and hash lines", path)
	}
	manifestPath = strings.TrimSpace(lines[0])
	hash = strings.TrimSpace(lines[1])
	if len(lines) > 2 {
		profile = strings.TrimSpace(lines[2])
	}
	return manifestPath, hash, profile, nil
}

// lookupCache answers a compile from an earlier build with the same fingerprints, while
// that build's manifest still exists and still carries the recorded hash.
//
// Limitation: the key leaves out osiris.yaml's naming settings, so after changing
// manifest_dir or manifest_short_len a cached build in the old place is reused until the
// user compiles with --compile force.
func lookupCache(p *config.Project, c *compiled) (*Result, bool) {
	raw, err := os.ReadFile(cacheEntryPath(p, c.cacheKey))
	if err != nil {
		return nil, false
	}
	var entry struct {
		ManifestPath string `json:"manifest_path"`
		ManifestHash string `json:"manifest_hash"`
	}
	if json.Unmarshal(raw, &entry) != nil || entry.ManifestPath == "" {
		return nil, false
	}
	m, err := manifest.Load(entry.ManifestPath)
	if err != nil || m.Meta.ManifestHash != entry.ManifestHash {
		return nil, false
	}
	dir := filepath.Dir(entry.ManifestPath)
	for _, s := range m.Steps {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(s.CfgPath))); err != nil {
			return nil, false
		}
	}
	return &Result{
		ManifestPath: entry.ManifestPath, ManifestDir: dir, ManifestHash: m.Meta.ManifestHash,
		ManifestShort: m.Meta.ManifestShort, PipelineSlug: c.slug, Profile: c.profile,
		CacheHit: true,
	}, true
}
