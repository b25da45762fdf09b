//go:build !unix

package cli

import (
	"errors"
	"os"
	"os/exec"
)

// execProcess runs the MCP server as a child with this process's stdio and exits with
// its code, where the system cannot replace a process.
func execProcess(path string, argv []string, env []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		os.Exit(exitErr.ExitCode())
	}
	if err != nil {
		return err
	}
	os.Exit(0)
	return nil
}
