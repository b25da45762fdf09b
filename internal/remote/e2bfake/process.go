package e2bfake

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcessConfig is the process a client asked for.
type ProcessConfig struct {
	Cmd  string            `json:"cmd"`
	Args []string          `json:"args"`
	Envs map[string]string `json:"envs"`
	Cwd  string            `json:"cwd"`
}

// Exit is how a handler ends the stream.
type Exit struct {
	Code int
	// NoEnd sends the end-of-stream envelope without an end event first.
	NoEnd bool
	// Drop cuts the connection without an end event or end-of-stream envelope.
	Drop bool
}

// ProcessHandler plays one process: it writes output through p and returns how the
// process ended. ctx ends when the client goes away or the sandbox is killed.
type ProcessHandler func(ctx context.Context, p *Proc) Exit

// Proc is a running fake process.
type Proc struct {
	Config  ProcessConfig
	PID     int
	Sandbox *Sandbox

	signals chan string
	mu      sync.Mutex
	w       io.Writer
	flush   func()
	sigLog  []string
	exit    *Exit
}

// Dir is the host directory standing for the process's working directory.
func (p *Proc) Dir() string {
	cwd := p.Config.Cwd
	if cwd == "" {
		cwd = Home
	}
	return p.Sandbox.HostPath(cwd)
}

// Signals delivers SendSignal calls ("SIGNAL_SIGTERM", "SIGNAL_SIGKILL").
func (p *Proc) Signals() <-chan string { return p.signals }

// SignalsReceived lists every signal sent to the process.
func (p *Proc) SignalsReceived() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.sigLog...)
}

// ExitCode is the code the handler returned, or -1 while the process runs.
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exit == nil {
		return -1
	}
	return p.exit.Code
}

// Stdout sends one data event with b as stdout.
func (p *Proc) Stdout(b []byte) { p.send(map[string]any{"data": map[string]any{"stdout": b}}) }

// Stderr sends one data event with b as stderr.
func (p *Proc) Stderr(b []byte) { p.send(map[string]any{"data": map[string]any{"stderr": b}}) }

// Keepalive sends a keepalive event.
func (p *Proc) Keepalive() { p.send(map[string]any{"keepalive": map[string]any{}}) }

// StdoutChunks sends b as stdout split into pieces of the given sizes (the last piece
// takes the rest), so that lines and even UTF-8 runes break across events.
func (p *Proc) StdoutChunks(b []byte, sizes ...int) {
	for _, n := range sizes {
		if n >= len(b) {
			break
		}
		p.Stdout(b[:n])
		b = b[n:]
	}
	if len(b) > 0 {
		p.Stdout(b)
	}
}

func (p *Proc) send(event map[string]any) {
	raw, _ := json.Marshal(map[string]any{"event": event})
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = writeEnvelope(p.w, 0, raw)
	p.flush()
}

func (s *Server) startProcess(w http.ResponseWriter, r *http.Request, sb *Sandbox) {
	if r.Header.Get("Content-Type") != "application/connect+json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"code": "unknown",
			"message": "expected application/connect+json"})
		return
	}
	var header [5]byte
	if _, err := io.ReadFull(r.Body, header[:]); err != nil {
		writeJSON(w, 400, map[string]any{"code": "invalid_argument", "message": "no envelope"})
		return
	}
	payload := make([]byte, binary.BigEndian.Uint32(header[1:]))
	if _, err := io.ReadFull(r.Body, payload); err != nil {
		writeJSON(w, 400, map[string]any{"code": "invalid_argument", "message": "short envelope"})
		return
	}
	s.record(payload)
	var req struct {
		Process ProcessConfig `json:"process"`
	}
	if err := json.Unmarshal(payload, &req); err != nil {
		writeJSON(w, 400, map[string]any{"code": "invalid_argument", "message": "bad JSON"})
		return
	}

	flusher := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/connect+json")
	w.WriteHeader(http.StatusOK)
	sb.mu.Lock()
	proc := &Proc{Config: req.Process, PID: 1000 + len(sb.processes), Sandbox: sb,
		signals: make(chan string, 8), w: w, flush: flusher.Flush}
	sb.processes = append(sb.processes, proc)
	sandboxCtx := sb.ctx
	sb.mu.Unlock()
	proc.send(map[string]any{"start": map[string]any{"pid": proc.PID}})

	s.mu.Lock()
	handler := s.handler
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(sandboxCtx, cancel)
	defer stop()

	exit := handler(ctx, proc)
	proc.mu.Lock()
	proc.exit = &exit
	proc.mu.Unlock()
	if exit.Drop {
		panic(http.ErrAbortHandler)
	}
	if !exit.NoEnd {
		proc.send(map[string]any{"end": map[string]any{"exitCode": exit.Code,
			"exited": true, "status": "exit status " + itoa(exit.Code)}})
	}
	proc.mu.Lock()
	_ = writeEnvelope(w, 0x02, []byte("{}"))
	flusher.Flush()
	proc.mu.Unlock()
}

func (s *Server) sendSignal(w http.ResponseWriter, r *http.Request, sb *Sandbox) {
	var req struct {
		Process struct {
			PID int `json:"pid"`
		} `json:"process"`
		Signal string `json:"signal"`
	}
	raw, _ := io.ReadAll(r.Body)
	s.record(raw)
	if json.Unmarshal(raw, &req) != nil {
		writeJSON(w, 400, map[string]any{"code": "invalid_argument", "message": "bad JSON"})
		return
	}
	for _, p := range sb.Processes() {
		if p.PID != req.Process.PID {
			continue
		}
		p.mu.Lock()
		p.sigLog = append(p.sigLog, req.Signal)
		running := p.exit == nil
		p.mu.Unlock()
		if running {
			select {
			case p.signals <- req.Signal:
			default:
			}
		}
		writeJSON(w, 200, map[string]any{})
		return
	}
	writeJSON(w, 404, map[string]any{"code": "not_found", "message": "no such process"})
}

// Exec runs the requested command for real on the host, inside the sandbox's temp
// directory: absolute sandbox paths in cmd are mapped to the host, other commands are
// looked up in PATH. The environment is only the request's envs plus PATH and HOME, as
// in a fresh sandbox. chunkSize > 0 cuts output into pieces of at most that many bytes.
func Exec(chunkSize int) ProcessHandler {
	return func(ctx context.Context, p *Proc) Exit {
		return runExec(ctx, p, chunkSize)
	}
}

func runExec(ctx context.Context, p *Proc, chunkSize int) Exit {
	cmdPath := p.Config.Cmd
	if path.IsAbs(cmdPath) {
		cmdPath = p.Sandbox.HostPath(cmdPath)
	} else if strings.Contains(cmdPath, "/") {
		cmdPath = filepath.Join(p.Dir(), cmdPath)
	}
	cmd := exec.Command(cmdPath, p.Config.Args...)
	cmd.Dir = p.Dir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"),
		"HOME=" + p.Sandbox.HostPath(Home), "TMPDIR=" + os.TempDir()}
	for k, v := range p.Config.Envs {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		p.Stderr([]byte("exec: " + err.Error() + "\n"))
		return Exit{Code: 127}
	}

	var pipes sync.WaitGroup
	pump := func(r io.Reader, send func([]byte)) {
		defer pipes.Done()
		size := chunkSize
		if size <= 0 {
			size = 32 << 10
		}
		buf := make([]byte, size)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				send(append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				return
			}
		}
	}
	pipes.Add(2)
	go pump(stdout, p.Stdout)
	go pump(stderr, p.Stderr)

	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-p.signals:
				if sig == "SIGNAL_SIGKILL" {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				} else {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				}
			case <-ctx.Done():
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				return
			case <-done:
				return
			}
		}
	}()
	pipes.Wait()
	err := cmd.Wait()
	close(done)

	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
		if status, ok := exitErr.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			code = 128 + int(status.Signal())
		}
	}
	if ctx.Err() != nil {
		return Exit{Code: code, Drop: true}
	}
	return Exit{Code: code}
}

// Script is a scripted process: it writes Stdout split at the given chunk sizes, then
// Stderr, sends keepalives, optionally waits for a signal (ending with 143 on SIGTERM,
// 137 on SIGKILL) and ends with ExitCode, NoEnd or Drop.
type Script struct {
	Stdout     []byte
	ChunkSizes []int
	Stderr     []byte
	Keepalives int
	// Delay is slept between output pieces (a pause, never a test timing assertion).
	Delay time.Duration
	// WaitForSignal keeps the process running until a signal or the client leaves.
	WaitForSignal bool
	ExitCode      int
	NoEnd         bool
	Drop          bool
}

// Handler plays the script.
func (sc Script) Handler() ProcessHandler {
	return func(ctx context.Context, p *Proc) Exit { return sc.Play(ctx, p) }
}

// Play writes the script to p and returns its exit.
func (sc Script) Play(ctx context.Context, p *Proc) Exit {
	for i := 0; i < sc.Keepalives; i++ {
		p.Keepalive()
	}
	p.StdoutChunks(sc.Stdout, sc.ChunkSizes...)
	if sc.Delay > 0 {
		time.Sleep(sc.Delay)
	}
	if len(sc.Stderr) > 0 {
		p.Stderr(sc.Stderr)
	}
	if sc.WaitForSignal {
		select {
		case sig := <-p.Signals():
			if sig == "SIGNAL_SIGKILL" {
				return Exit{Code: 137}
			}
			p.Stderr([]byte("terminated\n"))
			return Exit{Code: 143}
		case <-ctx.Done():
			return Exit{Code: 137, Drop: true}
		}
	}
	return Exit{Code: sc.ExitCode, NoEnd: sc.NoEnd, Drop: sc.Drop}
}

func itoa(n int) string {
	raw, _ := json.Marshal(n)
	return string(raw)
}
