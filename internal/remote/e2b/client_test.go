package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/remote/e2bfake"
	"github.com/osirisgo/osiris/internal/secrets"
)

func fakeClient(t *testing.T, fake *e2bfake.Server) *Client {
	t.Helper()
	env := fake.Env()
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"E2B_API_KEY": "e2b_0123456789abcdef0123"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.APIURL != "https://api.e2b.app" || cfg.Domain != "e2b.app" || cfg.SandboxURL != "" {
		t.Errorf("defaults = %+v", cfg)
	}
	env["E2B_DOMAIN"] = "example.internal"
	cfg, _ = ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.APIURL != "https://api.example.internal" {
		t.Errorf("E2B_DOMAIN gives API URL %q", cfg.APIURL)
	}
	env["E2B_API_URL"] = "http://127.0.0.1:1/"
	cfg, _ = ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.APIURL != "http://127.0.0.1:1" {
		t.Errorf("E2B_API_URL override gives %q", cfg.APIURL)
	}
	env["E2B_SANDBOX_URL"] = "not a url"
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil ||
		!strings.Contains(err.Error(), "E2B_SANDBOX_URL") {
		t.Errorf("bad E2B_SANDBOX_URL: err = %v", err)
	}
	if _, err := ConfigFromEnv(func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "E2B_API_KEY") {
		t.Errorf("missing key: err = %v", err)
	}
	if s := strings.Join([]string{cfg.APIKey.String()}, ""); strings.Contains(s, "0123456789") {
		t.Errorf("the API key printed itself: %s", s)
	}
}

func TestEnvelopeRoundTripAndTruncation(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteEnvelope(&buf, 0, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := WriteEnvelope(&buf, flagEndStream, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	env, err := ReadEnvelope(bytes.NewReader(raw))
	if err != nil || string(env.Payload) != `{"a":1}` || env.EndStream() {
		t.Fatalf("first envelope = %+v, %v", env, err)
	}
	_, err = ReadEnvelope(bytes.NewReader(raw[:9]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut envelope: err = %v, want unexpected EOF", err)
	}
	huge := []byte{0, 0xff, 0xff, 0xff, 0xff}
	if _, err := ReadEnvelope(bytes.NewReader(huge)); err == nil {
		t.Error("an envelope announcing 4 GiB was accepted")
	}
}

func TestControlPlane(t *testing.T) {
	fake := e2bfake.New(t)
	c := fakeClient(t, fake)
	ctx := context.Background()

	sb, err := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base", Timeout: 120,
		Metadata: map[string]string{"osiris_run_id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if sb.Info.EnvdAccessToken == "" || sb.ID() == "" {
		t.Fatalf("sandbox info = %+v", sb.Info)
	}
	if err := c.SetTimeout(ctx, sb.ID(), 300); err != nil {
		t.Fatal(err)
	}
	info, err := c.GetSandbox(ctx, sb.ID())
	if err != nil || info.SandboxID != sb.ID() {
		t.Fatalf("get = %+v, %v", info, err)
	}
	if err := sb.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	fs := fake.Sandboxes()[0]
	if !fs.Killed() || fs.Timeouts()[0] != 300 {
		t.Errorf("killed=%v timeouts=%v", fs.Killed(), fs.Timeouts())
	}
	if err := sb.Kill(ctx); err != nil {
		t.Errorf("killing a gone sandbox (404) must count as killed: %v", err)
	}
	if _, ok := fs.Create["envVars"]; ok {
		t.Errorf("the create request carries envVars: %v", fs.Create)
	}
}

func TestCreateRejectedKeyNamesNoSecret(t *testing.T) {
	fake := e2bfake.New(t)
	env := fake.Env()
	env["E2B_API_KEY"] = "e2b_wrongwrongwrongwrong42"
	cfg, _ := ConfigFromEnv(func(k string) string { return env[k] })
	_, err := NewClient(cfg).CreateSandbox(context.Background(), CreateRequest{TemplateID: "base"})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 APIError", err)
	}
	if strings.Contains(err.Error(), "wrongwrong") {
		t.Errorf("the error shows the key: %v", err)
	}
}

func TestFilesAndFilesystem(t *testing.T) {
	fake := e2bfake.New(t)
	c := fakeClient(t, fake)
	ctx := context.Background()
	sb, err := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Health(ctx); err != nil {
		t.Fatal(err)
	}
	dir, err := sb.MakeDir(ctx, "osiris/runs/r1")
	if err != nil || dir.Path != "/home/user/osiris/runs/r1" {
		t.Fatalf("MakeDir = %+v, %v", dir, err)
	}
	if again, err := sb.MakeDir(ctx, "osiris/runs/r1"); err != nil || again.Path != dir.Path {
		t.Errorf("MakeDir on an existing directory = %+v, %v", again, err)
	}
	entries, err := sb.Upload(ctx, dir.Path+"/a/b.txt", strings.NewReader("hello"))
	if err != nil || len(entries) != 1 || entries[0].Path != dir.Path+"/a/b.txt" {
		t.Fatalf("Upload = %+v, %v", entries, err)
	}
	var got bytes.Buffer
	if n, err := sb.Download(ctx, dir.Path+"/a/b.txt", &got); err != nil || n != 5 ||
		got.String() != "hello" {
		t.Fatalf("Download = %d %q %v", n, got.String(), err)
	}
	list, err := sb.ListDir(ctx, dir.Path, 3)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListDir = %+v, %v", list, err)
	}
	if _, err := sb.Move(ctx, dir.Path+"/a/b.txt", dir.Path+"/c.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Stat(ctx, dir.Path+"/c.txt"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Remove(ctx, dir.Path+"/c.txt"); err != nil {
		t.Fatal(err)
	}
	_, err = sb.Download(ctx, dir.Path+"/c.txt", io.Discard)
	var de *DownloadError
	if !errors.As(err, &de) || de.StatusCode != http.StatusNotFound {
		t.Errorf("download of a removed file: %v", err)
	}
}

func TestDownloadFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault e2bfake.Fault
	}{{"500", e2bfake.FaultStatus500}, {"truncated", e2bfake.FaultTruncate}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := e2bfake.New(t)
			c := fakeClient(t, fake)
			ctx := context.Background()
			sb, _ := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base"})
			if _, err := sb.Upload(ctx, "f.bin", bytes.NewReader(make([]byte, 4096))); err != nil {
				t.Fatal(err)
			}
			fake.FailDownload("/f.bin", tc.fault)
			_, err := sb.Download(ctx, "f.bin", io.Discard)
			var de *DownloadError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DownloadError", err)
			}
		})
	}
}

// Process output arrives as base64 chunks that end in the middle of lines and of
// multi-byte characters; Wait must hand over exactly the bytes sent, in order.
func TestProcessStreamChunksAndExit(t *testing.T) {
	fake := e2bfake.New(t)
	want := "line one\nligne deux é\n{\"type\":\"event\"}\n"
	fake.SetHandler(e2bfake.Script{Stdout: []byte(want), ChunkSizes: []int{3, 9, 12, 1},
		Stderr: []byte("warn\n"), Keepalives: 2, ExitCode: 3}.Handler())
	c := fakeClient(t, fake)
	ctx := context.Background()
	sb, _ := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base"})

	p, err := sb.Start(ctx, ProcessConfig{Cmd: "anything", Args: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.PID == 0 {
		t.Error("no pid from the start event")
	}
	var stdout, stderr bytes.Buffer
	chunks, keepalives := 0, 0
	status, err := p.Wait(func(o Output, b []byte) {
		if o == Stdout {
			chunks++
			stdout.Write(b)
		} else {
			stderr.Write(b)
		}
	}, func() { keepalives++ })
	if err != nil {
		t.Fatal(err)
	}
	if stdout.String() != want || stderr.String() != "warn\n" {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if chunks != 5 || keepalives != 2 || status.ExitCode != 3 {
		t.Errorf("chunks=%d keepalives=%d exit=%d", chunks, keepalives, status.ExitCode)
	}
}

func TestProcessStreamWithoutEnd(t *testing.T) {
	for _, sc := range []e2bfake.Script{{Stdout: []byte("x\n"), NoEnd: true},
		{Stdout: []byte("x\n"), Drop: true}} {
		fake := e2bfake.New(t)
		fake.SetHandler(sc.Handler())
		c := fakeClient(t, fake)
		ctx := context.Background()
		sb, _ := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base"})
		_, err := sb.Run(ctx, ProcessConfig{Cmd: "x"}, nil)
		if !errors.Is(err, ErrNoExitStatus) {
			t.Errorf("NoEnd=%v Drop=%v: err = %v, want ErrNoExitStatus", sc.NoEnd, sc.Drop, err)
		}
	}
}

func TestProcessEnvsReachTheProcessOnly(t *testing.T) {
	fake := e2bfake.New(t)
	c := fakeClient(t, fake)
	ctx := context.Background()
	sb, _ := c.CreateSandbox(ctx, CreateRequest{TemplateID: "base"})
	var out bytes.Buffer
	status, err := sb.Run(ctx, ProcessConfig{Cmd: "sh", Args: []string{"-c", "echo $DB_PASSWORD"},
		Envs: map[string]secrets.Secret{"DB_PASSWORD": "s3cr3t-value"}}, func(o Output, b []byte) {
		out.Write(b)
	})
	if err != nil || status.ExitCode != 0 || out.String() != "s3cr3t-value\n" {
		t.Fatalf("status=%+v err=%v out=%q", status, err, out.String())
	}
	proc := fake.Sandboxes()[0].Processes()[0]
	if proc.Config.Envs["DB_PASSWORD"] != "s3cr3t-value" {
		t.Errorf("envs on the wire = %v", proc.Config.Envs)
	}
	raw, _ := json.Marshal(fake.Sandboxes()[0].Create)
	if strings.Contains(string(raw), "s3cr3t") {
		t.Error("the secret reached the create request")
	}
}
