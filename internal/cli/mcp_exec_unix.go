//go:build unix

package cli

import "syscall"

// execProcess replaces this process by the MCP server, so the client's stdio, signals
// and the exit code go straight to it.
func execProcess(path string, argv []string, env []string) error {
	return syscall.Exec(path, argv, env)
}
