// Package fsutil holds the one way Osiris replaces a file: write a temp file beside it,
// fsync, rename. A reader (or a crash) then sees the old content or the new, never half.
package fsutil

import (
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data, the file ending with exactly perm (the umask
// does not apply). Missing parent directories are created 0755; a caller that wants
// private directories creates them first. On any failure the temp file is removed and
// an existing file at path is left as it was.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteAtomic is WriteFileAtomic for content produced as a stream: write fills the temp
// file, and an error from it (a failed copy, a checksum that does not match) aborts the
// replacement, so nothing half-written or unverified ever takes path's place.
func WriteAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+TempMarker+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()

	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(perm); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// TempMarker is part of every temp file name (".<name>.tmp-<random>"), so a clean-up can
// recognise the leftovers of a crash.
const TempMarker = ".tmp-"
