package remote

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPackFilterAndRoundTrip(t *testing.T) {
	runDir := t.TempDir()
	for name, content := range map[string]string{
		"events.jsonl": "{}\n", "status.json": "{}", "osiris": "binary",
		"bundle.tgz": "x", "osiris_connections.yaml": "connections: {}",
		"artifacts/a/cleaned_config.json": "{}",
		"artifacts/a/big.txt":             strings.Repeat("x", 2<<20),
		"artifacts/a/small.csv":           "a,b\n1,2\n",
		"artifacts/a/output.parquet":      "PAR1",
		"artifacts/_system/run_card.json": strings.Repeat("y", 2<<20),
		".osiris/index/runs.jsonl":        "{}",
	} {
		write(t, filepath.Join(runDir, filepath.FromSlash(name)), content)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(runDir, "artifacts", "a", "link.txt")); err != nil {
		t.Fatal(err)
	}

	index, err := Pack(runDir, PackOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var packed []string
	for _, f := range index.Files {
		packed = append(packed, f.Path)
	}
	want := "artifacts/_system/run_card.json artifacts/a/cleaned_config.json " +
		"artifacts/a/small.csv events.jsonl status.json"
	if strings.Join(packed, " ") != want {
		t.Errorf("packed %v\nwant   %s", packed, want)
	}
	skipped := map[string]string{}
	for _, s := range index.Skipped {
		skipped[s.Path] = s.Reason
	}
	for _, p := range []string{"artifacts/a/big.txt", "artifacts/a/output.parquet",
		"artifacts/a/link.txt"} {
		if skipped[p] == "" {
			t.Errorf("%s should be listed as skipped with a reason: %v", p, skipped)
		}
	}

	archive, err := os.Open(filepath.Join(runDir, PackArchive))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = archive.Close() }()
	dest := t.TempDir()
	written, failures, err := ExtractArchive(archive, index, func(rel string) string {
		return filepath.Join(dest, filepath.FromSlash(rel))
	})
	if err != nil || len(failures) != 0 || len(written) != len(index.Files) {
		t.Fatalf("extract: written %d failures %+v err %v", len(written), failures, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dest, "artifacts", "a", "small.csv"))
	if string(raw) != "a,b\n1,2\n" {
		t.Errorf("round trip gave %q", raw)
	}
}

func TestExtractRefusesEscapesAndLinks(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(hdr *tar.Header, body string) {
		hdr.Size = int64(len(body))
		if hdr.Typeflag == tar.TypeSymlink {
			hdr.Size = 0
			body = ""
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	add(&tar.Header{Name: "../escape.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "x")
	add(&tar.Header{Name: "/abs.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "x")
	add(&tar.Header{Name: "artifacts/l", Typeflag: tar.TypeSymlink, Linkname: "/etc"}, "")
	add(&tar.Header{Name: "artifacts/ok.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "fine")
	add(&tar.Header{Name: "artifacts/extra.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "x")
	_ = tw.Close()
	_ = gz.Close()

	index := &Index{Files: []IndexEntry{{Path: "artifacts/ok.txt", Size: 4},
		{Path: "artifacts/l", Size: 0}, {Path: "artifacts/missing.txt", Size: 1}}}
	dest := t.TempDir()
	written, failures, err := ExtractArchive(&buf, index, func(rel string) string {
		return filepath.Join(dest, "run", filepath.FromSlash(rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0].Path != "artifacts/ok.txt" {
		t.Errorf("written = %+v", written)
	}
	if len(failures) != 5 {
		t.Errorf("failures = %+v, want escape, absolute, link, unlisted and missing", failures)
	}
	if _, err := os.Stat(filepath.Join(dest, "escape.txt")); err == nil {
		t.Error("an entry escaped the run directory")
	}
}

func TestSafeRelPath(t *testing.T) {
	for _, p := range []string{"", ".", "..", "../a", "a/../../b", "/a", "a\\b", "a//b", "./a"} {
		if _, err := SafeRelPath(p); err == nil {
			t.Errorf("SafeRelPath(%q) accepted", p)
		}
	}
	if got, err := SafeRelPath("artifacts/x/y.json"); err != nil || got != "artifacts/x/y.json" {
		t.Errorf("a plain path was refused: %v", err)
	}
}
