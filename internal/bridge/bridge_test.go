package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake osiris: with FAKE_OSIRIS_MODE set it behaves as the
// CLI would in that mode and exits.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_OSIRIS_MODE"); mode != "" {
		os.Exit(fakeOsiris(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeOsiris(mode string, args []string) int {
	switch mode {
	case "echo":
		stdin, _ := io.ReadAll(os.Stdin)
		cwd, _ := os.Getwd()
		doc := map[string]any{
			"status": "success", "args": args, "stdin": string(stdin), "cwd": cwd,
			"home": os.Getenv("OSIRIS_HOME"), "correlation": os.Getenv("OSIRIS_CORRELATION_ID"),
		}
		_ = json.NewEncoder(os.Stdout).Encode(doc)
		return 0
	case "prose":
		fmt.Println("all good")
		return 0
	case "two-objects":
		fmt.Println(`{"a":1}`)
		fmt.Println(`{"b":2}`)
		return 0
	case "error-doc":
		fmt.Println(`{"status":"error","error_type":"not_found","message":"Run not found: r1",` +
			`"code":"SCHEMA/OML999","path":["run_id"],"suggest":"list runs first","captured":false}`)
		return 2
	case "error-doc-nocode":
		fmt.Println(`{"status":"error","error_type":"x","message":"connection not found: @mysql.x"}`)
		return 1
	case "stderr":
		fmt.Fprintln(os.Stderr, "level=info msg=starting")
		fmt.Fprintln(os.Stderr, "dial mysql://admin:hunter2secret@db:3306 failed:   connection refused")
		fmt.Fprintln(os.Stderr, "")
		return 1
	case "silent-fail":
		return 2
	case "big":
		chunk := strings.Repeat("x", 1<<16)
		for i := 0; i < 64; i++ {
			fmt.Print(chunk)
		}
		return 0
	case "hang", "hang-stubborn":
		if mode == "hang-stubborn" {
			signal.Ignore(syscall.SIGTERM)
		}
		// A grandchild in the same process group must be killed too.
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "FAKE_OSIRIS_MODE=sleep")
		if err := child.Start(); err != nil {
			return 3
		}
		if dir := os.Getenv("FAKE_PID_DIR"); dir != "" {
			pids := fmt.Sprintf("%d %d", os.Getpid(), child.Process.Pid)
			_ = os.WriteFile(filepath.Join(dir, "pids"), []byte(pids), 0o600)
		}
		time.Sleep(time.Hour)
		return 0
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	case "orphan":
		// Exit at once, leaving a grandchild that holds stdout and stderr open.
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "FAKE_OSIRIS_MODE=sleep")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		if err := child.Start(); err != nil {
			return 3
		}
		if dir := os.Getenv("FAKE_PID_DIR"); dir != "" {
			pids := fmt.Sprintf("%d %d", os.Getpid(), child.Process.Pid)
			_ = os.WriteFile(filepath.Join(dir, "pids"), []byte(pids), 0o600)
		}
		fmt.Println(`{"status":"success","left":"a grandchild"}`)
		return 0
	}
	return 99
}

func newBridge(t *testing.T, mode string, extraEnv ...string) *Bridge {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "FAKE_OSIRIS_MODE="+mode, "GORACE=atexit_sleep_ms=0")
	return &Bridge{
		CLIPath: exe, ProjectDir: t.TempDir(), OutputLimit: 1 << 20,
		Env: append(env, extraEnv...), KillGrace: 300 * time.Millisecond,
	}
}

func TestRunPassesArgsStdinAndEnvironment(t *testing.T) {
	b := newBridge(t, "echo")
	reply, err := b.Run(context.Background(), Request{
		Args:  []string{"mcp", "oml", "validate", "--content", "-", "--json"},
		Stdin: []byte("name: x\nsteps: []\n"), CorrelationID: "mcp_0123456789ab",
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Args                          []string
		Stdin, Cwd, Home, Correlation string
	}
	if err := json.Unmarshal(reply.Object, &doc); err != nil {
		t.Fatal(err)
	}
	want := []string{"mcp", "oml", "validate", "--content", "-", "--json"}
	if strings.Join(doc.Args, " ") != strings.Join(want, " ") {
		t.Errorf("args = %q, want %q (--json exactly once, at the end)", doc.Args, want)
	}
	if doc.Stdin != "name: x\nsteps: []\n" {
		t.Errorf("stdin = %q", doc.Stdin)
	}
	if doc.Cwd != b.ProjectDir || doc.Home != b.ProjectDir {
		t.Errorf("cwd %q home %q, want %q", doc.Cwd, doc.Home, b.ProjectDir)
	}
	if doc.Correlation != "mcp_0123456789ab" {
		t.Errorf("correlation = %q", doc.Correlation)
	}
	if strings.Contains(string(reply.Object), "\n") {
		t.Error("object is not compact")
	}
}

func failure(t *testing.T, err error) *Failure {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a *Failure", err)
	}
	return f
}

func TestRunRejectsOutputThatIsNotOneObject(t *testing.T) {
	for _, mode := range []string{"prose", "two-objects"} {
		t.Run(mode, func(t *testing.T) {
			_, err := newBridge(t, mode).Run(context.Background(), Request{Args: []string{"x"}})
			f := failure(t, err)
			if f.Family != FamilySemantic || !strings.HasPrefix(f.Message, "CLI returned invalid JSON") {
				t.Errorf("got %+v", f)
			}
			if strings.Join(f.Path, ",") != "cli_bridge,json_parse" {
				t.Errorf("path = %v", f.Path)
			}
		})
	}
}

func TestRunUsesErrorDocumentVerbatim(t *testing.T) {
	_, err := newBridge(t, "error-doc").Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Code != "SCHEMA/OML999" || f.Family != "SCHEMA" || f.Message != "Run not found: r1" ||
		f.Suggest != "list runs first" || strings.Join(f.Path, ",") != "run_id" {
		t.Errorf("got %+v", f)
	}
	if f.Details["captured"] != false || f.Details["exit_code"] != 2 {
		t.Errorf("details = %v", f.Details)
	}
}

func TestRunDerivesCodeOfDocumentWithoutOne(t *testing.T) {
	_, err := newBridge(t, "error-doc-nocode").Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Code != "DISCOVERY/DISC001" || f.Family != FamilyDiscovery {
		t.Errorf("got %+v", f)
	}
	if !strings.Contains(f.Suggest, "osiris_connections.yaml") {
		t.Errorf("suggest = %q", f.Suggest)
	}
}

func TestRunClassifiesAndRedactsStderr(t *testing.T) {
	_, err := newBridge(t, "stderr").Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if strings.Contains(f.Message, "hunter2secret") || strings.Contains(f.Message, "admin") {
		t.Fatalf("secret in message: %q", f.Message)
	}
	if f.Message != "dial mysql://***@db:3306 failed: connection refused" {
		t.Errorf("message = %q", f.Message)
	}
	if f.Code != "SEMANTIC/E_CONN_REFUSED" || !strings.Contains(f.Suggest, "port") {
		t.Errorf("got %+v", f)
	}
	if strings.Join(f.Path, ",") != "cli_bridge,run_cli_json" {
		t.Errorf("path = %v", f.Path)
	}
}

func TestRunWithoutOutputFallsBackToExitCodeFamily(t *testing.T) {
	_, err := newBridge(t, "silent-fail").Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Message != "CLI command failed" || f.Family != FamilySchema ||
		!strings.HasPrefix(f.Code, "SCHEMA/OML") || len(f.Code) != len("SCHEMA/OML")+3 {
		t.Errorf("got %+v", f)
	}
}

func TestRunCapsOutput(t *testing.T) {
	b := newBridge(t, "big")
	b.OutputLimit = 256 << 10
	_, err := b.Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Code != "POLICY/POL002" || f.Details["limit_bytes"] != int64(256<<10) {
		t.Errorf("got %+v", f)
	}
}

func TestRunWithoutCLI(t *testing.T) {
	b := &Bridge{ProjectDir: t.TempDir()}
	_, err := b.Run(context.Background(), Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Message != "Osiris CLI not found" || f.Family != FamilySemantic ||
		strings.Join(f.Path, ",") != "cli_bridge,command_not_found" {
		t.Errorf("got %+v", f)
	}
}

// processGone reports whether pid no longer exists (a zombie counts as alive).
func processGone(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return os.IsNotExist(err)
}

func TestTimeoutKillsWholeProcessGroup(t *testing.T) {
	for _, mode := range []string{"hang", "hang-stubborn"} {
		t.Run(mode, func(t *testing.T) {
			pidDir := t.TempDir()
			b := newBridge(t, mode, "FAKE_PID_DIR="+pidDir)
			_, err := b.Run(context.Background(), Request{
				Args: []string{"mcp", "discovery", "run"}, Timeout: 1 * time.Second,
			})
			f := failure(t, err)
			if f.Code != "DISCOVERY/E_CONN_TIMEOUT" || f.Message != "CLI command timed out after 1s" ||
				strings.Join(f.Path, ",") != "cli_bridge,timeout" {
				t.Errorf("got %+v", f)
			}

			raw, err := os.ReadFile(filepath.Join(pidDir, "pids"))
			if err != nil {
				t.Fatalf("fake CLI wrote no pids: %v", err)
			}
			var leader, grandchild int
			if _, err := fmt.Sscanf(string(raw), "%d %d", &leader, &grandchild); err != nil {
				t.Fatal(err)
			}
			if !processGone(leader) {
				t.Errorf("CLI process %d still exists", leader)
			}
			// The grandchild is reparented to init, which reaps it shortly after the kill.
			deadline := time.Now().Add(10 * time.Second)
			for !processGone(grandchild) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if !processGone(grandchild) {
				t.Errorf("grandchild %d of the CLI survived the timeout", grandchild)
			}
			if pgid, err := syscall.Getpgid(grandchild); err == nil && pgid == leader {
				t.Errorf("process group %d still has members", leader)
			}
		})
	}
}

func TestCancelStopsChild(t *testing.T) {
	pidDir := t.TempDir()
	b := newBridge(t, "hang", "FAKE_PID_DIR="+pidDir)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if _, err := os.Stat(filepath.Join(pidDir, "pids")); err == nil {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err := b.Run(ctx, Request{Args: []string{"x"}})
	f := failure(t, err)
	if f.Message != "CLI command cancelled" {
		t.Errorf("got %+v", f)
	}
}

func TestFindCLI(t *testing.T) {
	dir := t.TempDir()
	shim := filepath.Join(dir, "osiris-mcp")
	sibling := filepath.Join(dir, "osiris")
	for _, p := range []string{shim, sibling} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	explicit := filepath.Join(t.TempDir(), "my-osiris")
	if err := os.WriteFile(explicit, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())

	if got, err := FindCLI(explicit, shim); err != nil || got != explicit {
		t.Errorf("explicit: got %q, %v", got, err)
	}
	if got, err := FindCLI("", shim); err != nil || got != sibling {
		t.Errorf("sibling: got %q, %v", got, err)
	}
	if _, err := FindCLI("", filepath.Join(t.TempDir(), "osiris-mcp")); !errors.Is(err, ErrCLINotFound) {
		t.Errorf("nothing anywhere: got %v", err)
	}
	if _, err := FindCLI(filepath.Join(dir, "missing"), shim); !errors.Is(err, ErrCLINotFound) {
		t.Errorf("explicit but missing must not fall back: got %v", err)
	}

	onPath := t.TempDir()
	if err := os.WriteFile(filepath.Join(onPath, "osiris"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", onPath)
	if got, err := FindCLI("", filepath.Join(t.TempDir(), "osiris-mcp")); err != nil ||
		got != filepath.Join(onPath, "osiris") {
		t.Errorf("PATH: got %q, %v", got, err)
	}
}

func TestTimeoutMessageAndSuggestion(t *testing.T) {
	b := newBridge(t, "sleep")
	_, err := b.Run(context.Background(), Request{
		Args: []string{"mcp", "connections", "list"}, Timeout: 500 * time.Millisecond,
	})
	f := failure(t, err)
	if f.Message != "CLI command timed out after 0.5s" {
		t.Errorf("message %q, want the configured 0.5s", f.Message)
	}
	want := SuggestForCode("DISCOVERY/E_CONN_TIMEOUT")
	if want == "" || !strings.HasPrefix(f.Suggest, want) ||
		!strings.HasSuffix(f.Suggest, "(mcp connections list)") {
		t.Errorf("suggest %q, want %q followed by the command", f.Suggest, want)
	}
	if f.Details["timeout_seconds"] != 0.5 {
		t.Errorf("details %v", f.Details)
	}
}

// A CLI that exits while a process it started still holds its stdout is answered when
// the CLI exits, not when the stragglers give up the pipe, and the stragglers are killed.
// The timeout is shorter than the pipe drain delay, so waiting for the pipe to close
// would end in a timeout error instead of the CLI's reply.
func TestReplyComesWhenTheCLIExitsAndItsGrandchildIsKilled(t *testing.T) {
	pidDir := t.TempDir()
	b := newBridge(t, "orphan", "FAKE_PID_DIR="+pidDir)
	reply, err := b.Run(context.Background(), Request{
		Args: []string{"mcp", "connections", "list"}, Timeout: pipeDrainDelay - time.Second,
	})
	if err != nil {
		t.Fatalf("want the CLI's reply, got %v", err)
	}
	if !strings.Contains(string(reply.Object), `"left":"a grandchild"`) {
		t.Errorf("reply %s", reply.Object)
	}

	raw, err := os.ReadFile(filepath.Join(pidDir, "pids"))
	if err != nil {
		t.Fatalf("fake CLI wrote no pids: %v", err)
	}
	var leader, grandchild int
	if _, err := fmt.Sscanf(string(raw), "%d %d", &leader, &grandchild); err != nil {
		t.Fatal(err)
	}
	// Killed at once; init reaps it shortly after.
	deadline := time.Now().Add(10 * time.Second)
	for !processGone(grandchild) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !processGone(grandchild) {
		t.Errorf("grandchild %d of the CLI survived", grandchild)
	}
}
