package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// entries lists the names in dir, so a test can prove no temp file stayed behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileAtomicReplacesContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	if err := os.WriteFile(path, []byte("old content that is longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := WriteFileAtomic(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "new\n" {
		t.Fatalf("content = %q, want %q", got, "new\n")
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "status.json" {
		t.Fatalf("directory holds %v, want only status.json", names)
	}
}

func TestWriteFileAtomicPermissionsIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()

	for _, perm := range []os.FileMode{0o644, 0o600, 0o640} {
		path := filepath.Join(dir, "file-"+perm.String())
		if err := WriteFileAtomic(path, []byte("x"), perm); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != perm {
			t.Errorf("mode = %v, want %v", info.Mode().Perm(), perm)
		}
	}
}

func TestWriteFileAtomicCreatesParents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c.txt")

	if err := WriteFileAtomic(path, []byte("deep"), 0o600); err != nil {
		t.Fatal(err)
	}

	if got, err := os.ReadFile(path); err != nil || string(got) != "deep" {
		t.Fatalf("read back %q, %v", got, err)
	}
}

func TestWriteAtomicFailedWriteKeepsOldFileAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	if err := os.WriteFile(path, []byte("original\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("checksum does not match")

	err := WriteAtomic(path, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half a fi"); err != nil {
			return err
		}
		return boom
	})

	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "original\n" {
		t.Fatalf("existing file changed to %q", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Fatalf("directory holds %v, want only out.csv", names)
	}
}

func TestWriteFileAtomicFailedRenameLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory at the target makes the final rename fail.
	target := filepath.Join(dir, "report.html")
	if err := os.MkdirAll(filepath.Join(target, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}

	err := WriteFileAtomic(target, []byte("<html>"), 0o644)

	if err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	for _, name := range entries(t, dir) {
		if strings.Contains(name, TempMarker) {
			t.Fatalf("temp file %s left behind", name)
		}
	}
	if info, err := os.Stat(target); err != nil || !info.IsDir() {
		t.Fatalf("target directory disturbed: %v, %v", info, err)
	}
}

func TestWriteFileAtomicUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(locked, 0o700)

	err := WriteFileAtomic(filepath.Join(locked, "x.json"), []byte("{}"), 0o644)

	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want a permission error", err)
	}
	if names := entries(t, locked); len(names) != 0 {
		t.Fatalf("locked directory holds %v", names)
	}
}

func TestTempNameCarriesMarker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "entry.json")
	var seen string

	err := WriteAtomic(path, 0o600, func(io.Writer) error {
		names := entries(t, dir)
		if len(names) == 1 {
			seen = names[0]
		}
		return nil
	})

	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(seen, ".entry.json"+TempMarker) {
		t.Fatalf("temp file named %q, want prefix %q", seen, ".entry.json"+TempMarker)
	}
}
