package bridge

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrCLINotFound means no osiris binary could be found; tool calls then fail with a
// clear envelope instead of the server refusing to start.
var ErrCLINotFound = errors.New("Osiris CLI not found")

// FindCLI locates the osiris binary: the explicit path (from $OSIRIS_CLI) if given,
// else an osiris next to the running shim, else the first osiris on PATH. The sibling
// comes before PATH so that a shim always talks to the CLI it was installed with.
func FindCLI(explicit, shimPath string) (string, error) {
	if explicit != "" {
		return usable(explicit)
	}
	if shimPath != "" {
		sibling := filepath.Join(filepath.Dir(shimPath), "osiris")
		if path, err := usable(sibling); err == nil {
			return path, nil
		}
	}
	path, err := exec.LookPath("osiris")
	if err != nil {
		return "", ErrCLINotFound
	}
	return filepath.Abs(path)
}

func usable(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", ErrCLINotFound
	}
	info, err := os.Stat(abs)
	if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", ErrCLINotFound
	}
	return abs, nil
}
