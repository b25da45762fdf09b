package remote

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/osirisgo/osiris/internal/fsutil"
)

// Names of the packer's output, written into the run directory in the sandbox.
const (
	PackArchive = "out.tgz"
	PackIndex   = "out.index.json"
)

// DefaultArtifactMaxMB is the size above which an artifact stays in the sandbox.
const DefaultArtifactMaxMB = 5

// runFiles are the top-level run-directory files a run leaves behind; together with the
// artifacts/ tree they are everything worth bringing home.
var runFiles = map[string]bool{
	"status.json": true, "events.jsonl": true, "metrics.jsonl": true,
	"osiris.log": true, "debug.log": true,
}

// dataSuffixes mark intermediate data dumps, which can be large and are rarely wanted.
var dataSuffixes = []string{".pkl", ".parquet", ".feather", ".arrow"}

// PackOptions is the artifact filter.
type PackOptions struct {
	// MaxBytes skips larger artifacts (records, logs and system files always come).
	MaxBytes int64
	// IncludeData also takes data dumps (parquet, feather, pickle, arrow).
	IncludeData bool
	// Include names run-relative files to take whatever their size: the files the
	// pipeline's writers produce.
	Include []string
}

// IndexEntry is one packed file: run-relative slash path, size and SHA-256.
type IndexEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// SkippedEntry is a file the filter left in the sandbox, and why.
type SkippedEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Reason string `json:"reason"`
}

// Index is out.index.json: what the archive holds and what was left out.
type Index struct {
	Files      []IndexEntry   `json:"files"`
	Skipped    []SkippedEntry `json:"skipped"`
	TotalBytes int64          `json:"total_bytes"`
}

// Wanted applies the artifact filter to one run-relative file. It returns false for
// files that are not part of a run's results at all (the bundle, the binary) with an
// empty reason, and false with a reason for results the filter leaves behind.
func Wanted(rel string, size int64, opts PackOptions) (keep bool, reason string) {
	rel = path.Clean(filepath.ToSlash(rel))
	if !strings.HasPrefix(rel, "artifacts/") {
		return runFiles[rel], ""
	}
	base := path.Base(rel)
	if strings.HasPrefix(rel, "artifacts/_system/") || base == "run_card.json" ||
		base == "cleaned_config.json" {
		return true, ""
	}
	for _, suffix := range dataSuffixes {
		if strings.HasSuffix(strings.ToLower(base), suffix) && !opts.IncludeData {
			return false, "data artifact (pass --include-data or E2B_DOWNLOAD_DATA_ARTIFACTS=1)"
		}
	}
	if opts.MaxBytes > 0 && size > opts.MaxBytes {
		return false, fmt.Sprintf("larger than %d MB", opts.MaxBytes>>20)
	}
	return true, ""
}

// Pack writes out.tgz and out.index.json into runDir, holding the files Wanted keeps.
// Both are written to temporary names and renamed, so a reader never sees half of them.
func Pack(runDir string, opts PackOptions) (*Index, error) {
	index, err := selectFiles(runDir, opts)
	if err != nil {
		return nil, err
	}
	if err := writeArchive(runDir, index); err != nil {
		return nil, err
	}
	raw, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return nil, err
	}
	err = fsutil.WriteFileAtomic(filepath.Join(runDir, PackIndex), append(raw, '\n'), 0o600)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", PackIndex, err)
	}
	return index, nil
}

func selectFiles(runDir string, opts PackOptions) (*Index, error) {
	index := &Index{Files: []IndexEntry{}, Skipped: []SkippedEntry{}}
	err := filepath.WalkDir(runDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(runDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && rel != "artifacts" && !strings.HasPrefix(rel, "artifacts/") {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		keep, reason := Wanted(rel, info.Size(), opts)
		if keep && !info.Mode().IsRegular() {
			keep, reason = false, "not a regular file"
		}
		if !keep {
			if reason != "" {
				index.Skipped = append(index.Skipped, SkippedEntry{Path: rel, Size: info.Size(),
					Reason: reason})
			}
			return nil
		}
		return index.add(p, rel, info.Size())
	})
	if err != nil {
		return nil, fmt.Errorf("list run directory: %w", err)
	}
	for _, inc := range opts.Include {
		if err := addInclude(index, runDir, inc); err != nil {
			return nil, err
		}
	}
	sort.Slice(index.Files, func(i, j int) bool { return index.Files[i].Path < index.Files[j].Path })
	return index, nil
}

// addInclude adds one named output file; a file the run did not write is listed as
// skipped, so the host can say so.
func addInclude(index *Index, runDir, inc string) error {
	rel, err := SafeRelPath(inc)
	if err != nil {
		return fmt.Errorf("--include: %w", err)
	}
	for _, f := range index.Files {
		if f.Path == rel {
			return nil
		}
	}
	p := filepath.Join(runDir, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	if err != nil || !info.Mode().IsRegular() {
		index.Skipped = append(index.Skipped, SkippedEntry{Path: rel,
			Reason: "output file not found in the sandbox"})
		return nil
	}
	return index.add(p, rel, info.Size())
}

// add lists the file at p under its run-relative name with its size and SHA-256.
func (index *Index) add(p, rel string, size int64) error {
	sum, err := fileSHA256(p)
	if err != nil {
		return err
	}
	index.Files = append(index.Files, IndexEntry{Path: rel, Size: size, SHA256: sum})
	index.TotalBytes += size
	return nil
}

// writeArchive writes out.tgz; a file that cannot be packed leaves no archive behind.
func writeArchive(runDir string, index *Index) error {
	return fsutil.WriteAtomic(filepath.Join(runDir, PackArchive), 0o600, func(w io.Writer) error {
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		for _, f := range index.Files {
			if err := addToArchive(tw, runDir, f); err != nil {
				return err
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return gz.Close()
	})
}

func addToArchive(tw *tar.Writer, runDir string, f IndexEntry) error {
	file, err := os.Open(filepath.Join(runDir, filepath.FromSlash(f.Path)))
	if err != nil {
		return fmt.Errorf("pack %s: %w", f.Path, err)
	}
	defer func() { _ = file.Close() }()
	hdr := &tar.Header{Name: f.Path, Mode: 0o644, Size: f.Size, Typeflag: tar.TypeReg,
		Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("pack %s: %w", f.Path, err)
	}
	if _, err := io.CopyN(tw, file, f.Size); err != nil {
		return fmt.Errorf("pack %s: %w", f.Path, err)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SafeRelPath checks that an archive or index path stays inside the directory it is
// extracted to: relative, slash-separated, no "..", nothing odd.
func SafeRelPath(p string) (string, error) {
	switch {
	case p == "" || strings.ContainsRune(p, 0) || strings.Contains(p, "\\"):
		return "", fmt.Errorf("unsafe path %q", p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return "", fmt.Errorf("absolute path %q", p)
	}
	clean := path.Clean(p)
	if clean != p || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the run directory", p)
	}
	return clean, nil
}

// ExtractFailure is one archive entry that could not be extracted or did not match.
type ExtractFailure struct {
	Path  string
	Phase string // extract or verify
	Err   error
}

// ExtractArchive unpacks a packer archive. Each entry must be a regular file with a safe
// path listed in the index, and must match the index's size and SHA-256; anything else is
// reported as a failure and not written. dest maps a run-relative path to the file to
// write. Files are written to a temporary name and renamed. It returns the entries
// written; listed files missing from the archive are failures too.
func ExtractArchive(r io.Reader, index *Index, dest func(rel string) string) (
	written []IndexEntry, failures []ExtractFailure, err error) {
	expected := map[string]IndexEntry{}
	for _, f := range index.Files {
		expected[f.Path] = f
	}
	seen := map[string]bool{}

	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("open archive: %w", err)
	}
	defer func() { _ = gz.Close() }()
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return written, failures, fmt.Errorf("read archive: %w", err)
		}
		rel, perr := SafeRelPath(hdr.Name)
		want, listed := expected[rel]
		if perr == nil && listed {
			seen[rel] = true
		}
		switch {
		case perr != nil:
			failures = append(failures, ExtractFailure{Path: hdr.Name, Phase: "extract", Err: perr})
			continue
		case hdr.Typeflag != tar.TypeReg:
			failures = append(failures, ExtractFailure{Path: rel, Phase: "extract",
				Err: errors.New("not a regular file (links and devices are refused)")})
			continue
		case !listed:
			failures = append(failures, ExtractFailure{Path: rel, Phase: "extract",
				Err: errors.New("not listed in the index")})
			continue
		}
		if err := WriteVerified(dest(rel), tr, want); err != nil {
			phase := "extract"
			if errors.Is(err, ErrMismatch) {
				phase = "verify"
			}
			failures = append(failures, ExtractFailure{Path: rel, Phase: phase, Err: err})
			continue
		}
		written = append(written, want)
	}
	for _, f := range index.Files {
		if !seen[f.Path] {
			failures = append(failures, ExtractFailure{Path: f.Path, Phase: "extract",
				Err: errors.New("listed in the index but missing from the archive")})
		}
	}
	return written, failures, nil
}

// ErrMismatch means downloaded bytes differ from the index's size or SHA-256.
var ErrMismatch = errors.New("content does not match the index")

// WriteVerified copies r to target through a temporary file and renames it into place
// only when size and SHA-256 match want (an empty SHA256 skips the hash check).
func WriteVerified(target string, r io.Reader, want IndexEntry) error {
	return fsutil.WriteAtomic(target, 0o600, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), r)
		if err != nil {
			return err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		if n != want.Size || (want.SHA256 != "" && sum != want.SHA256) {
			return fmt.Errorf("%w: got %d bytes, sha256 %s…", ErrMismatch, n, sum[:12])
		}
		return nil
	})
}
