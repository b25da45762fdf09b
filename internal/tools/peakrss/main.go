// Command peakrss runs a command and writes its peak resident set size, so benchmarks
// need no external time(1) tool: peakrss -o FILE -- command args...
// FILE receives "Maximum resident set size (kbytes): N", the line GNU time prints.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	out := flag.String("o", "", "file to write the peak RSS line to (default stderr)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: peakrss [-o FILE] -- command [args...]")
		os.Exit(2)
	}

	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(127)
	}

	usage, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	line := "Maximum resident set size (kbytes): 0\n"
	if usage != nil {
		line = fmt.Sprintf("Maximum resident set size (kbytes): %d\n", usage.Maxrss)
	}
	if *out == "" {
		fmt.Fprint(os.Stderr, line)
	} else if werr := os.WriteFile(*out, []byte(line), 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "peakrss:", werr)
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
