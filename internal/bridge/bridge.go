// Package bridge runs the osiris CLI for the MCP shim: one child per call, free text on
// stdin, a timeout that kills the child's whole process group, a cap on what the child
// may print, and a reply that is either the CLI's JSON object or a classified error.
//
// All privileged work (secrets, databases, files) happens in the child; the shim only
// sees the JSON the child prints.
package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultKillGrace is how long a child gets between SIGTERM and SIGKILL.
const DefaultKillGrace = 2 * time.Second

// pipeDrainDelay bounds how long the bridge keeps reading the child's pipes after the
// child exited and its process group was killed. Only a process that left the group
// (setsid) can keep them open that long.
const pipeDrainDelay = 5 * time.Second

// stderrTailBytes bounds how much of the child's stderr is kept for error messages.
const stderrTailBytes = 64 << 10

// Bridge runs the CLI. The zero value is not usable: set CLIPath (or CLIErr) and
// ProjectDir.
type Bridge struct {
	// CLIPath is the osiris binary; empty means it was not found (see CLIErr).
	CLIPath string
	// ProjectDir is the child's working directory and $OSIRIS_HOME.
	ProjectDir string
	// OutputLimit caps the child's stdout in bytes; 0 means no cap.
	OutputLimit int64
	// Env is the child's base environment; nil means the shim's own environment.
	Env []string
	// KillGrace is the pause between SIGTERM and SIGKILL; 0 means DefaultKillGrace.
	KillGrace time.Duration
}

// Request is one CLI invocation.
type Request struct {
	// Args follow the binary, without --json (the bridge appends it exactly once).
	Args []string
	// Stdin is the payload for a "-" flag value; nil gives the child an empty stdin.
	Stdin []byte
	// Timeout bounds the whole run; 0 means none.
	Timeout time.Duration
	// CorrelationID reaches the child as $OSIRIS_CORRELATION_ID.
	CorrelationID string
}

// Reply is what a successful child printed: one JSON object.
type Reply struct {
	// Object is the child's JSON object, compact, exactly as printed.
	Object json.RawMessage
	// ExitCode is the child's exit status.
	ExitCode int
}

// Failure is a CLI call that produced no success document, already classified into the
// error taxonomy the envelope shows.
type Failure struct {
	Code    string // "FAMILY/SUFFIX"
	Family  string
	Message string // redacted
	Path    []string
	Suggest string
	Details map[string]any
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

// Command is the child's argv after the binary and without --json, for display.
func Command(args []string) string { return strings.Join(args, " ") }

// Run executes one CLI call. It returns a Reply on exit 0 with a JSON object on stdout,
// and a *Failure otherwise. The child and every process it started are gone when Run
// returns.
func (b *Bridge) Run(ctx context.Context, req Request) (*Reply, error) {
	if b.CLIPath == "" {
		return nil, &Failure{
			Code: semanticCode(ErrCLINotFound.Error()), Family: FamilySemantic,
			Message: ErrCLINotFound.Error(), Path: []string{"cli_bridge", "command_not_found"},
			Suggest: "Install osiris next to osiris-mcp, put it on PATH, or set OSIRIS_CLI.",
			Details: map[string]any{},
		}
	}

	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.Timeout)
		defer cancel()
	}

	out, stderr, exitCode, runErr := b.execute(ctx, req)
	switch {
	case errors.Is(runErr, errOutputLimit):
		return nil, &Failure{
			Code: FamilyPolicy + "/POL002", Family: FamilyPolicy,
			Message: fmt.Sprintf("CLI output exceeds the payload limit of %d bytes", b.OutputLimit),
			Path:    []string{"cli_bridge", "output_limit"},
			Suggest: "Ask for less data (fewer samples, a narrower request) or raise " +
				"OSIRIS_MCP_PAYLOAD_LIMIT_MB.",
			Details: map[string]any{"reason": "payload_too_large", "limit_bytes": b.OutputLimit},
		}
	case errors.Is(runErr, context.DeadlineExceeded):
		// The timeout is shown as configured (0.5s stays 0.5s), not rounded.
		seconds := req.Timeout.Seconds()
		code := FamilyDiscovery + "/E_CONN_TIMEOUT"
		return nil, &Failure{
			Code: code, Family: FamilyDiscovery,
			Message: "CLI command timed out after " +
				strconv.FormatFloat(seconds, 'f', -1, 64) + "s",
			Path:    []string{"cli_bridge", "timeout"},
			Suggest: SuggestForCode(code) + " (" + Command(req.Args) + ")",
			Details: map[string]any{"timeout_seconds": seconds},
		}
	case errors.Is(runErr, context.Canceled):
		return nil, &Failure{
			Code: semanticCode("CLI command cancelled"), Family: FamilySemantic,
			Message: "CLI command cancelled", Path: []string{"cli_bridge", "cancelled"},
			Details: map[string]any{},
		}
	case runErr != nil:
		message := RedactMessage("could not start the Osiris CLI: " + runErr.Error())
		return nil, &Failure{
			Code: semanticCode(ErrCLINotFound.Error()), Family: FamilySemantic,
			Message: message, Path: []string{"cli_bridge", "command_not_found"},
			Suggest: "Check that OSIRIS_CLI (or osiris on PATH) is an executable file.",
			Details: map[string]any{},
		}
	}

	if exitCode == 0 {
		object, err := compactObject(out)
		if err != nil {
			return nil, &Failure{
				Code: semanticCode("CLI returned invalid JSON"), Family: FamilySemantic,
				Message: RedactMessage("CLI returned invalid JSON: " + err.Error()),
				Path:    []string{"cli_bridge", "json_parse"},
				Details: map[string]any{},
			}
		}
		return &Reply{Object: object, ExitCode: 0}, nil
	}
	return nil, classifyFailure(out, stderr, exitCode)
}

var errOutputLimit = errors.New("output limit exceeded")

// semanticCode is the code of a bridge failure with a fixed message: hashed from the
// message like any unnamed error, so it never changes between releases.
func semanticCode(fixedMessage string) string {
	_, code := DeriveCode(fixedMessage, FamilySemantic)
	return code
}

// execute runs the child and returns its stdout, the tail of its stderr and its exit code.
//
// The child's stdio are pipes the bridge owns, so Wait returns as soon as the child exits
// even when a process it started still holds them. The whole process group is then
// killed, which closes the pipes, and what the child wrote is read to the end.
func (b *Bridge) execute(ctx context.Context, req Request) ([]byte, string, int, error) {
	args := append(append([]string{}, withoutJSONFlag(req.Args)...), "--json")
	cmd := exec.Command(b.CLIPath, args...)
	cmd.Dir = b.ProjectDir
	cmd.Env = b.childEnv(req.CorrelationID)
	// Limitation: process groups are POSIX; the bridge does not build for Windows yet.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	overflow := make(chan struct{})
	stdout := &cappedBuffer{limit: b.OutputLimit, overflow: overflow}
	stderr := &tailBuffer{limit: stderrTailBytes}
	grace := b.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}

	pipes, err := newChildPipes(cmd, req.Stdin)
	if err != nil {
		return nil, "", -1, err
	}
	if err := cmd.Start(); err != nil {
		pipes.closeAll()
		return nil, "", -1, err
	}
	pgid := cmd.Process.Pid
	drained := pipes.serve(stdout, stderr)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var reason error
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		reason = ctx.Err()
		waitErr = stopGroup(pgid, grace, done)
	case <-overflow:
		reason = errOutputLimit
		waitErr = stopGroup(pgid, grace, done)
	}
	// Whatever the child left behind in its group goes too; that closes the pipes.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	pipes.finish(drained)

	if reason == nil && stdout.exceeded() {
		reason = errOutputLimit
	}
	if reason != nil {
		return nil, stderr.String(), -1, reason
	}
	exitCode := 0
	if waitErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(waitErr, &exitErr) {
			return nil, stderr.String(), -1, waitErr
		}
		exitCode = exitErr.ExitCode()
	}
	return stdout.Bytes(), stderr.String(), exitCode, nil
}

// childPipes are the child's stdin, stdout and stderr. The child gets the far ends as
// plain files; the bridge keeps the near ends and copies through them itself.
type childPipes struct {
	stdin          []byte
	stdinWrite     *os.File
	stdoutRead     *os.File
	stderrRead     *os.File
	childEnds      []*os.File
	stdinDone      chan struct{}
	readersStopped sync.Once
}

func newChildPipes(cmd *exec.Cmd, stdin []byte) (*childPipes, error) {
	p := &childPipes{stdin: stdin, stdinDone: make(chan struct{})}
	stdinRead, stdinWrite, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.stdinWrite = stdinWrite
	p.childEnds = append(p.childEnds, stdinRead)
	stdoutRead, stdoutWrite, err := os.Pipe()
	if err != nil {
		p.closeAll()
		return nil, err
	}
	p.stdoutRead = stdoutRead
	p.childEnds = append(p.childEnds, stdoutWrite)
	stderrRead, stderrWrite, err := os.Pipe()
	if err != nil {
		p.closeAll()
		return nil, err
	}
	p.stderrRead = stderrRead
	p.childEnds = append(p.childEnds, stderrWrite)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinRead, stdoutWrite, stderrWrite
	return p, nil
}

// serve closes the child's ends in this process (so that a pipe closes when the child's
// group is gone), feeds stdin and copies stdout and stderr. The returned channel closes
// when both outputs reached their end.
func (p *childPipes) serve(stdout, stderr io.Writer) <-chan struct{} {
	for _, f := range p.childEnds {
		_ = f.Close()
	}
	p.childEnds = nil

	go func() {
		defer close(p.stdinDone)
		// A child that does not read its stdin makes this write fail; that is its choice.
		_, _ = p.stdinWrite.Write(p.stdin)
		_ = p.stdinWrite.Close()
	}()

	drained := make(chan struct{})
	var copies sync.WaitGroup
	copies.Add(2)
	go func() { defer copies.Done(); _, _ = io.Copy(stdout, p.stdoutRead) }()
	go func() { defer copies.Done(); _, _ = io.Copy(stderr, p.stderrRead) }()
	go func() { copies.Wait(); close(drained) }()
	return drained
}

// finish waits, after the child's group was killed, until its output is read to the
// end. Only a process that left the group can keep a pipe open; after pipeDrainDelay the
// bridge stops reading and closes its ends.
func (p *childPipes) finish(drained <-chan struct{}) {
	timer := time.NewTimer(pipeDrainDelay)
	defer timer.Stop()
	select {
	case <-drained:
	case <-timer.C:
	}
	p.closeAll()
	<-drained
	<-p.stdinDone
}

func (p *childPipes) closeAll() {
	for _, f := range append(p.childEnds, p.stdinWrite, p.stdoutRead, p.stderrRead) {
		if f != nil {
			_ = f.Close()
		}
	}
}

// stopGroup sends SIGTERM to the process group, then SIGKILL after grace if the leader
// has not exited, and returns the leader's wait error.
func stopGroup(pgid int, grace time.Duration, done <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-done
	}
}

func (b *Bridge) childEnv(correlationID string) []string {
	base := b.Env
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+2)
	for _, kv := range base {
		if strings.HasPrefix(kv, "OSIRIS_HOME=") || strings.HasPrefix(kv, "OSIRIS_CORRELATION_ID=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "OSIRIS_HOME="+b.ProjectDir)
	if correlationID != "" {
		env = append(env, "OSIRIS_CORRELATION_ID="+correlationID)
	}
	return env
}

func withoutJSONFlag(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == "--json" || a == "--json=true" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// compactObject checks that out holds exactly one JSON object and returns it compact.
func compactObject(out []byte) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 {
		return nil, errors.New("empty output")
	}
	if trimmed[0] != '{' {
		return nil, errors.New("output is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on stdout")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// classifyFailure turns a non-zero exit into a Failure: the CLI's error document when it
// printed one, else the last line of its stderr.
func classifyFailure(out []byte, stderr string, exitCode int) *Failure {
	if object, err := compactObject(out); err == nil {
		var doc map[string]any
		if json.Unmarshal(object, &doc) == nil {
			if f := failureFromDocument(doc, exitCode); f != nil {
				return f
			}
		}
	}

	message := "CLI command failed"
	if line := lastLine(stderr); line != "" {
		message = line
	}
	message = RedactMessage(collapseSpace(message))
	family, code := DeriveCode(message, FamilyOfExitCode(exitCode))
	return &Failure{
		Code: code, Family: family, Message: message,
		Path:    []string{"cli_bridge", "run_cli_json"},
		Suggest: suggestFor(code, message, exitCode),
		Details: map[string]any{"exit_code": exitCode},
	}
}

// documentKeys are the error-document fields the envelope shows in its own slots.
var documentKeys = map[string]bool{
	"status": true, "message": true, "code": true, "path": true, "suggest": true,
}

func failureFromDocument(doc map[string]any, exitCode int) *Failure {
	message, _ := doc["message"].(string)
	if message == "" {
		return nil
	}
	message = RedactMessage(message)

	var family, code string
	if c, ok := doc["code"].(string); ok && strings.Contains(c, "/") {
		code = c
		family, _, _ = strings.Cut(c, "/")
	} else {
		errorType, _ := doc["error_type"].(string)
		family, code = DocumentCode(message, errorType, exitCode)
	}

	path := []string{}
	if list, ok := doc["path"].([]any); ok {
		for _, item := range list {
			path = append(path, fmt.Sprint(item))
		}
	}
	suggest, _ := doc["suggest"].(string)
	if suggest == "" {
		suggest = suggestFor(code, message, exitCode)
	}

	details := map[string]any{"exit_code": exitCode}
	for k, v := range doc {
		if !documentKeys[k] {
			details[k] = v
		}
	}
	return &Failure{
		Code: code, Family: family, Message: message, Path: path,
		Suggest: RedactMessage(suggest), Details: details,
	}
}

// suggestFor picks a hint: by code for connection errors, else by exit code or by what
// the message talks about.
func suggestFor(code, message string, exitCode int) string {
	if s := SuggestForCode(code); s != "" {
		return s
	}
	lower := strings.ToLower(message)
	switch {
	case exitCode == 124:
		return "The command timed out; check the source or raise OSIRIS_MCP_TOOL_TIMEOUT."
	case exitCode == 127:
		return "The Osiris CLI or a program it needs is not installed; check the installation."
	case strings.Contains(lower, "connection"):
		return "Check the connection in osiris_connections.yaml."
	case strings.Contains(lower, "permission"):
		return "Check the file and directory permissions of the project."
	}
	return ""
}

func lastLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return ""
}

// cappedBuffer keeps stdout up to limit bytes and signals overflow once when the child
// prints more.
type cappedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	limit    int64
	over     bool
	overflow chan struct{}
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return len(p), nil
	}
	if c.limit > 0 && int64(c.buf.Len()+len(p)) > c.limit {
		c.over = true
		close(c.overflow)
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *cappedBuffer) exceeded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

func (c *cappedBuffer) Bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Bytes()
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.limit {
		t.buf = append([]byte{}, t.buf[len(t.buf)-t.limit:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
