package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/osirisgo/osiris/internal/secrets"
)

// ProcessConfig is a command to run in the sandbox: a program and its arguments, never a
// shell string. Envs values are secrets (connection passwords travel this way only).
type ProcessConfig struct {
	Cmd  string
	Args []string
	Envs map[string]secrets.Secret
	Cwd  string
}

// wire form of ProcessConfig; only built at the moment the request is sent.
type processWire struct {
	Cmd  string            `json:"cmd"`
	Args []string          `json:"args"`
	Envs map[string]string `json:"envs"`
	Cwd  string            `json:"cwd,omitempty"`
}

// Signal names accepted by SendSignal.
const (
	SignalTerm = "SIGNAL_SIGTERM"
	SignalKill = "SIGNAL_SIGKILL"
)

// Output says which stream a chunk of process output came from.
type Output int

// The two output streams of a process.
const (
	Stdout Output = iota
	Stderr
)

// ExitStatus is the end event of a process.
type ExitStatus struct {
	ExitCode int    `json:"exitCode"`
	Exited   bool   `json:"exited"`
	Status   string `json:"status"`
	Error    string `json:"error"`
}

// ErrNoExitStatus means the process stream ended or broke before envd said how the
// process ended.
var ErrNoExitStatus = errors.New("the process stream ended without an exit status")

// processEvent is one message of the Process/Start stream.
type processEvent struct {
	Event struct {
		Start *struct {
			PID int `json:"pid"`
		} `json:"start"`
		Data *struct {
			Stdout []byte `json:"stdout"`
			Stderr []byte `json:"stderr"`
		} `json:"data"`
		End       *ExitStatus `json:"end"`
		Keepalive *struct{}   `json:"keepalive"`
	} `json:"event"`
}

// Process is a started process whose output is still streaming.
type Process struct {
	PID int

	body    io.ReadCloser
	cancel  context.CancelFunc
	sandbox *Sandbox
}

// Start runs cfg in the sandbox and returns once envd reports the process id. The
// stream lives until ctx ends or Close is called.
func (s *Sandbox) Start(ctx context.Context, cfg ProcessConfig) (*Process, error) {
	wire := processWire{Cmd: cfg.Cmd, Args: cfg.Args, Cwd: cfg.Cwd,
		Envs: make(map[string]string, len(cfg.Envs))}
	if wire.Args == nil {
		wire.Args = []string{}
	}
	for k, v := range cfg.Envs {
		wire.Envs[k] = v.Reveal()
	}
	payload, err := json.Marshal(map[string]any{"process": wire, "stdin": false})
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := WriteEnvelope(&body, 0, payload); err != nil {
		return nil, err
	}

	streamCtx, cancel := context.WithCancel(ctx)
	req, err := s.newRequest(streamCtx, http.MethodPost, "/process.Process/Start", nil, &body)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/connect+json")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Keepalive-Ping-Interval", "50")
	resp, err := s.client.http.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", cfg.Cmd, transportError(err))
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer closeBody(resp.Body)
		return nil, fmt.Errorf("start %s: %w", cfg.Cmd, decodeRPCError(resp))
	}

	p := &Process{body: resp.Body, cancel: cancel, sandbox: s}
	for {
		ev, end, err := p.next()
		if err != nil || end {
			p.Close()
			if err == nil {
				err = ErrNoExitStatus
			}
			return nil, fmt.Errorf("start %s: %w", cfg.Cmd, err)
		}
		if ev.Event.Start != nil {
			p.PID = ev.Event.Start.PID
			return p, nil
		}
	}
}

// next reads one stream message; end reports the end-of-stream envelope.
func (p *Process) next() (ev processEvent, end bool, err error) {
	env, err := ReadEnvelope(p.body)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return ev, false, fmt.Errorf("read process stream: %w", err)
	}
	if env.EndStream() {
		return ev, true, endStreamError(env.Payload)
	}
	if err := json.Unmarshal(env.Payload, &ev); err != nil {
		return ev, false, fmt.Errorf("decode process event: %w", err)
	}
	return ev, false, nil
}

// Wait delivers output chunks to onOutput (and keepalives to onKeepalive, which may be
// nil) until the process ends, and returns its exit status. Chunks are raw bytes and may
// end in the middle of a line.
func (p *Process) Wait(onOutput func(Output, []byte), onKeepalive func()) (*ExitStatus, error) {
	defer p.Close()
	var status *ExitStatus
	for {
		ev, end, err := p.next()
		if end {
			if err != nil {
				return status, err
			}
			if status == nil {
				return nil, ErrNoExitStatus
			}
			return status, nil
		}
		if err != nil {
			if status != nil {
				// The end event arrived; only the trailer was lost.
				return status, nil
			}
			return nil, fmt.Errorf("%w: %w", ErrNoExitStatus, err)
		}
		switch {
		case ev.Event.Data != nil:
			if len(ev.Event.Data.Stdout) > 0 {
				onOutput(Stdout, ev.Event.Data.Stdout)
			}
			if len(ev.Event.Data.Stderr) > 0 {
				onOutput(Stderr, ev.Event.Data.Stderr)
			}
		case ev.Event.Keepalive != nil:
			if onKeepalive != nil {
				onKeepalive()
			}
		case ev.Event.End != nil:
			status = ev.Event.End
		}
	}
}

// Close ends the stream and releases its connection. It does not stop the process;
// use SendSignal for that.
func (p *Process) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.body != nil {
		_ = p.body.Close()
	}
}

// SendSignal delivers SignalTerm or SignalKill to a process.
func (s *Sandbox) SendSignal(ctx context.Context, pid int, signal string) error {
	in := map[string]any{"process": map[string]any{"pid": pid}, "signal": signal}
	if err := s.unary(ctx, "/process.Process/SendSignal", in, nil); err != nil {
		return fmt.Errorf("send %s to process %d: %w", signal, pid, err)
	}
	return nil
}

// Run starts cfg, waits for it and returns its exit status, delivering output to
// onOutput when it is not nil.
func (s *Sandbox) Run(ctx context.Context, cfg ProcessConfig,
	onOutput func(Output, []byte)) (*ExitStatus, error) {
	p, err := s.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if onOutput == nil {
		onOutput = func(Output, []byte) {}
	}
	return p.Wait(onOutput, nil)
}
