package e2b

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osirisgo/osiris/internal/remote"
)

// stderrLinesKept is how many of the run's last stderr lines a failure shows.
const stderrLinesKept = 20

// Execute creates the sandbox, uploads the binary and the bundle and runs the pipeline,
// streaming its events and metrics into the local run directory as they come.
func (a *Adapter) Execute(ctx context.Context, p *remote.PreparedRun, rc *remote.RunContext) (
	*remote.ExecResult, error) {
	a.remember(rc)
	if a.bundle == nil {
		return nil, &remote.Error{Phase: "execute", Msg: "execute called before prepare"}
	}

	start := time.Now()
	sb, err := a.client.CreateSandbox(ctx, CreateRequest{
		TemplateID: a.opts.Template,
		Timeout:    int((a.opts.Timeout + sandboxGrace).Seconds()),
		Metadata:   map[string]string{"osiris_run_id": rc.RunID, "osiris_version": a.opts.Version},
		// A secure sandbox's envd answers only requests carrying its access token.
		Secure: true,
	})
	if err != nil {
		return nil, a.executeFailed(rc, "create the E2B sandbox", err)
	}
	a.mu.Lock()
	a.sandbox = sb
	a.mu.Unlock()
	rc.Redactor.Add(sb.Info.EnvdAccessToken.Reveal())
	a.timings["create_ms"] = time.Since(start).Milliseconds()
	rc.Records.Event("e2b_sandbox_create", map[string]any{"sandbox_id": sb.ID(),
		"template": a.opts.Template, "timeout_s": int((a.opts.Timeout + sandboxGrace).Seconds())})
	deadline := start.Add(a.opts.Timeout)

	if err := a.upload(ctx, sb, rc); err != nil {
		return nil, err
	}

	rc.Records.Event("e2b_execute_start", map[string]any{"sandbox_id": sb.ID(),
		"command": "osiris run --manifest " + manifestDirInBundle + "/manifest.yaml " +
			"--run-dir . --events-stdout"})
	result := a.runPipeline(ctx, deadline, sb, rc)
	a.mu.Lock()
	a.exec = result
	a.mu.Unlock()
	if result.Error != "" {
		rc.Records.Event("e2b_execute_error", map[string]any{"sandbox_id": sb.ID(),
			"exit_code": result.ExitCode, "error": result.Error,
			"duration_ms": result.Duration.Milliseconds()})
	} else {
		rc.Records.Event("e2b_execute_complete", map[string]any{"sandbox_id": sb.ID(),
			"exit_code": result.ExitCode, "duration_ms": result.Duration.Milliseconds()})
	}
	return result, nil
}

func (a *Adapter) executeFailed(rc *remote.RunContext, what string, err error) error {
	msg := rc.Redactor.Redact(fmt.Sprintf("cannot %s: %v", what, err))
	rc.Records.Event("e2b_execute_error", map[string]any{"error": msg})
	return &remote.Error{Phase: "execute", Msg: msg, Err: err}
}

// upload makes the run directory in the sandbox, sends the binary and the bundle and
// unpacks the bundle there, always as program + arguments, never through a shell.
func (a *Adapter) upload(ctx context.Context, sb *Sandbox, rc *remote.RunContext) error {
	start := time.Now()
	dir, err := sb.MakeDir(ctx, "osiris/runs/"+rc.RunID)
	if err != nil {
		return a.executeFailed(rc, "make the run directory in the sandbox", err)
	}
	a.cwd = dir.Path
	if !path.IsAbs(a.cwd) {
		return a.executeFailed(rc, "make the run directory in the sandbox",
			fmt.Errorf("envd returned the relative path %q", a.cwd))
	}

	bin, err := os.Open(a.binary)
	if err != nil {
		return a.executeFailed(rc, "read the osiris binary", err)
	}
	_, err = sb.Upload(ctx, a.cwd+"/osiris", bin)
	_ = bin.Close()
	if err != nil {
		return a.executeFailed(rc, "upload the osiris binary", err)
	}
	if _, err := sb.Upload(ctx, a.cwd+"/bundle.tgz", bytes.NewReader(a.bundle.archive)); err != nil {
		return a.executeFailed(rc, "upload the bundle", err)
	}

	// Limitation: the template must provide tar and chmod (E2B's base template does).
	for _, cmd := range []ProcessConfig{
		{Cmd: "tar", Args: []string{"-xzf", "bundle.tgz"}, Cwd: a.cwd, Envs: a.settingsEnv()},
		{Cmd: "chmod", Args: []string{"0755", "osiris"}, Cwd: a.cwd, Envs: a.settingsEnv()},
	} {
		var stderr bytes.Buffer
		status, err := sb.Run(ctx, cmd, func(o Output, b []byte) {
			if o == Stderr && stderr.Len() < 4096 {
				stderr.Write(b)
			}
		})
		if err == nil && status.ExitCode != 0 {
			err = fmt.Errorf("exit code %d: %s", status.ExitCode,
				strings.TrimSpace(stderr.String()))
		}
		if err != nil {
			return a.executeFailed(rc, "run "+cmd.Cmd+" in the sandbox", err)
		}
	}
	a.timings["upload_ms"] = time.Since(start).Milliseconds()
	return nil
}

// runPipeline starts osiris run in the sandbox and follows it to the end. When ctx ends
// or the deadline passes, the process gets SIGTERM, then SIGKILL after the grace time.
func (a *Adapter) runPipeline(ctx context.Context, deadline time.Time, sb *Sandbox,
	rc *remote.RunContext) *remote.ExecResult {
	start := time.Now()
	defer func() { a.timings["process_ms"] = time.Since(start).Milliseconds() }()

	out := newStreamHandler(a, rc)
	defer out.close()

	runCtx, cancelRun := context.WithDeadline(ctx, deadline)
	defer cancelRun()
	// The stream outlives a cancelled run context long enough to see the process end.
	streamCtx, cancelStream := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStream()

	proc, err := sb.Start(streamCtx, ProcessConfig{
		Cmd: a.cwd + "/osiris",
		Args: []string{"run", "--manifest", manifestDirInBundle + "/manifest.yaml", "--run-dir", ".",
			"--run-id", rc.RunID, "--events-stdout"},
		Envs: a.runEnv(),
		Cwd:  a.cwd,
	})
	if err != nil {
		return &remote.ExecResult{ExitCode: -1, Duration: time.Since(start),
			Error: rc.Redactor.Redact("cannot start the run in the sandbox: " + err.Error())}
	}

	done := make(chan struct{})
	var stopped atomic.Bool
	var watchers sync.WaitGroup
	watchers.Add(2)
	go func() {
		defer watchers.Done()
		select {
		case <-done:
		case <-runCtx.Done():
			stopped.Store(true)
			a.stopProcess(sb, proc.PID, done, cancelStream, rc)
		}
	}()
	go func() {
		defer watchers.Done()
		out.watchSilence(done, a.opts.SilenceWarning, a.opts.Heartbeat, start)
	}()

	status, waitErr := proc.Wait(out.chunk, nil)
	close(done)
	watchers.Wait()
	out.flush()

	result := &remote.ExecResult{Duration: time.Since(start), ExitCode: -1,
		LastStderr: out.lastStderr()}
	if status != nil {
		result.ExitCode = status.ExitCode
	}
	switch {
	case stopped.Load() && ctx.Err() != nil:
		result.Interrupted = true
		result.Error = "the run was interrupted; the sandbox process was stopped"
	case stopped.Load():
		result.Error = fmt.Sprintf("the run passed its timeout of %s; the sandbox process "+
			"was stopped", a.opts.Timeout)
	case waitErr != nil:
		result.Error = rc.Redactor.Redact("lost the sandbox process stream: " + waitErr.Error())
	case status.ExitCode != 0:
		result.Error = fmt.Sprintf("the run in the sandbox exited with code %d", status.ExitCode)
		if status.Error != "" {
			result.Error += ": " + rc.Redactor.Redact(status.Error)
		}
	}
	result.OK = result.Error == ""
	if steps := out.steps(); steps.seen {
		result.StepsCompleted, result.StepsTotal = steps.completed, steps.total
	}
	return result
}

// stopProcess sends SIGTERM, then SIGKILL after the grace time, and finally gives up on
// the stream. Signal calls run on their own short contexts: the run's is already over.
func (a *Adapter) stopProcess(sb *Sandbox, pid int, done <-chan struct{},
	cancelStream context.CancelFunc, rc *remote.RunContext) {
	for _, signal := range []string{SignalTerm, SignalKill} {
		sigCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := sb.SendSignal(sigCtx, pid, signal)
		cancel()
		if err != nil {
			rc.Logger.Warn("could not signal the sandbox process", "signal", signal,
				"error", rc.Redactor.Redact(err.Error()))
		}
		select {
		case <-done:
			return
		case <-time.After(a.opts.TermGrace):
		}
	}
	cancelStream()
}

// streamHandler turns the process output into local records: stdout lines that are
// protocol messages become events and metrics; everything else goes to debug.log.
type streamHandler struct {
	a  *Adapter
	rc *remote.RunContext

	stdout, stderr *remote.LineSplitter
	debug          *os.File
	lastOutput     atomic.Int64

	mu       sync.Mutex
	tail     []string
	counts   stepCounts
	warnings int
}

func newStreamHandler(a *Adapter, rc *remote.RunContext) *streamHandler {
	h := &streamHandler{a: a, rc: rc}
	h.lastOutput.Store(time.Now().UnixNano())
	h.stdout = remote.NewLineSplitter(h.stdoutLine)
	h.stderr = remote.NewLineSplitter(h.stderrLine)
	f, err := os.OpenFile(filepath.Join(rc.RunDir, "debug.log"),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		rc.Logger.Warn("cannot write debug.log; sandbox output is not kept", "error", err.Error())
	}
	h.debug = f
	return h
}

func (h *streamHandler) chunk(o Output, b []byte) {
	h.lastOutput.Store(time.Now().UnixNano())
	if o == Stdout {
		_, _ = h.stdout.Write(b)
		return
	}
	_, _ = h.stderr.Write(b)
}

func (h *streamHandler) flush() {
	h.stdout.Flush()
	h.stderr.Flush()
}

func (h *streamHandler) close() {
	if h.debug != nil {
		_ = h.debug.Close()
	}
}

func (h *streamHandler) debugLine(stream, line string) {
	if h.debug == nil {
		return
	}
	_, _ = fmt.Fprintf(h.debug, "%s [%s] %s\n", time.Now().UTC().Format(time.RFC3339Nano),
		stream, line)
}

func (h *streamHandler) stderrLine(line []byte) {
	text := h.rc.Redactor.Redact(string(line))
	h.debugLine("stderr", text)
	h.mu.Lock()
	h.tail = append(h.tail, text)
	if len(h.tail) > stderrLinesKept {
		h.tail = h.tail[len(h.tail)-stderrLinesKept:]
	}
	h.mu.Unlock()
}

func (h *streamHandler) lastStderr() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.tail...)
}

func (h *streamHandler) steps() stepCounts {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts
}

// message is one protocol line of osiris run --events-stdout.
type message struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	TS     string         `json:"ts"`
	Data   map[string]any `json:"data"`
	Value  any            `json:"value"`
	Unit   string         `json:"unit"`
	StepID string         `json:"step_id"`
	Tags   map[string]any `json:"tags"`
	Error  string         `json:"error"`
	// run_complete
	OK             *bool `json:"ok"`
	ExitCode       *int  `json:"exit_code"`
	StepsCompleted *int  `json:"steps_completed"`
	StepsTotal     *int  `json:"steps_total"`
}

func (h *streamHandler) stdoutLine(line []byte) {
	trimmed := bytes.TrimSpace(line)
	var msg message
	if len(trimmed) == 0 || trimmed[0] != '{' || decodeMessage(trimmed, &msg) != nil ||
		msg.Type == "" {
		if len(trimmed) > 0 {
			h.debugLine("stdout", h.rc.Redactor.Redact(string(line)))
		}
		return
	}
	ts := parseTS(msg.TS)
	switch msg.Type {
	case "event":
		h.rc.Records.EventAt(ts, msg.Name, msg.Data)
	case "metric":
		stepID := msg.StepID
		if stepID == "" {
			stepID, _ = msg.Tags["step_id"].(string)
		}
		h.rc.Records.MetricAt(ts, msg.Name, msg.Value, msg.Unit, stepID)
		h.countSteps(msg.Name, msg.Value)
	case "error":
		text := h.rc.Redactor.Redact(msg.Error)
		h.debugLine("error", text)
		h.rc.Logger.Warn("the sandbox run reported an error", "error", text)
	case "run_complete":
		h.mu.Lock()
		if msg.StepsCompleted != nil && msg.StepsTotal != nil {
			h.counts = stepCounts{completed: *msg.StepsCompleted, total: *msg.StepsTotal,
				seen: true}
		}
		h.mu.Unlock()
	default:
		h.debugLine("stdout", h.rc.Redactor.Redact(string(line)))
	}
}

// countSteps follows the steps_total and steps_completed metrics, which say how far the
// run got even when its status file never arrives.
func (h *streamHandler) countSteps(name string, value any) {
	n, ok := intValue(value)
	if !ok || (name != "steps_total" && name != "steps_completed") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts.seen = true
	if name == "steps_total" {
		h.counts.total = n
	} else {
		h.counts.completed = n
	}
}

// watchSilence warns when the run has printed nothing for a while, and with --verbose
// prints a heartbeat so a person sees the remote run is alive.
func (h *streamHandler) watchSilence(done <-chan struct{}, silence, heartbeat time.Duration,
	start time.Time) {
	tick := heartbeat
	if silence < tick {
		tick = silence
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	lastBeat, warnedAt := time.Now(), int64(0)
	for {
		select {
		case <-done:
			return
		case now := <-ticker.C:
			last := h.lastOutput.Load()
			if quiet := now.Sub(time.Unix(0, last)); quiet >= silence && warnedAt != last {
				warnedAt = last
				h.rc.Logger.Warn("the sandbox run has printed nothing for a while",
					"silent_s", int(quiet.Seconds()))
			}
			if h.rc.Verbose && h.rc.Progress != nil && now.Sub(lastBeat) >= heartbeat {
				lastBeat = now
				_, _ = fmt.Fprintf(h.rc.Progress, "e2b: run still going (%ds)\n",
					int(now.Sub(start).Seconds()))
			}
		}
	}
}

func decodeMessage(raw []byte, msg *message) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(msg)
}

func parseTS(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999Z07:00"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts
		}
	}
	return time.Now()
}

func intValue(v any) (int, bool) {
	switch t := v.(type) {
	case json.Number:
		n, err := strconv.Atoi(t.String())
		if err != nil {
			f, ferr := t.Float64()
			return int(f), ferr == nil
		}
		return n, true
	case float64:
		return int(t), true
	case int:
		return t, true
	case int64:
		return int(t), true
	}
	return 0, false
}

// untarGz reads a small gzip'd tar into memory (only the bundle we built ourselves).
func untarGz(archive []byte) (map[string][]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return nil, err
	}
	defer func() { _ = gz.Close() }()
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[hdr.Name] = raw
	}
}
