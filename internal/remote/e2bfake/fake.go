// Package e2bfake is an in-process stand-in for E2B: one loopback HTTP server that serves
// the control plane (create, timeout, get, kill) and every sandbox's envd (files,
// filesystem RPC, process streams). Tests point the e2b client at it with E2B_API_URL and
// E2B_SANDBOX_URL, script process output or run real commands, and inject faults.
package e2bfake

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Home is the sandbox user's home; relative sandbox paths resolve against it.
const Home = "/home/user"

// Fault is what the fake does instead of serving a file download.
type Fault int

// Download faults.
const (
	// FaultStatus500 answers 500 with an envd error body.
	FaultStatus500 Fault = iota + 1
	// FaultHang sends headers and then nothing until the client gives up.
	FaultHang
	// FaultTruncate announces the full length and sends only half of the body.
	FaultTruncate
)

// Server is the fake. Its fields other than URL and APIKey are guarded by its mutex; use
// the accessor methods from tests.
type Server struct {
	URL    string
	APIKey string

	srv *httptest.Server
	t   testing.TB

	mu          sync.Mutex
	nextID      int
	sandboxes   map[string]*Sandbox
	handler     ProcessHandler
	createFault int
	killFault   int
	fileFaults  map[string]Fault
	activeConns map[net.Conn]http.ConnState
	bodies      []string
}

// Sandbox is one fake sandbox: a temp directory standing for its file system.
type Sandbox struct {
	ID    string
	Token string
	// Root is the host directory that stands for the sandbox's "/".
	Root string
	// Create is the decoded body of the create request.
	Create map[string]any

	mu        sync.Mutex
	killed    bool
	timeouts  []int
	processes []*Proc
	cancel    context.CancelFunc
	ctx       context.Context
}

// New starts a fake on 127.0.0.1 that stops when the test ends. Processes run through
// Exec(0) unless SetHandler says otherwise.
func New(t testing.TB) *Server {
	s := &Server{
		APIKey:      "e2b_" + randomHex(20),
		t:           t,
		sandboxes:   map[string]*Sandbox{},
		fileFaults:  map[string]Fault{},
		activeConns: map[net.Conn]http.ConnState{},
		handler:     Exec(0),
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ConnState = s.trackConn
	s.srv.Start()
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close kills every sandbox and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	for _, sb := range s.sandboxes {
		sb.kill()
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Env is the environment that points the e2b client at this fake.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"E2B_API_KEY":     s.APIKey,
		"E2B_API_URL":     s.URL,
		"E2B_SANDBOX_URL": s.URL,
		"E2B_DOMAIN":      "e2b.test",
	}
}

// SetHandler decides how processes run from now on.
func (s *Server) SetHandler(h ProcessHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// FailCreate makes every sandbox creation answer status (401, 500, …).
func (s *Server) FailCreate(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createFault = status
}

// FailKill makes every kill answer status (404 means "already gone" to E2B clients).
func (s *Server) FailKill(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killFault = status
}

// FailDownload makes downloads of every sandbox file whose path ends with suffix fail.
func (s *Server) FailDownload(suffix string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fileFaults[suffix] = f
}

// Sandboxes returns the sandboxes created so far, in creation order.
func (s *Server) Sandboxes() []*Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Sandbox, 0, len(s.sandboxes))
	for _, sb := range s.sandboxes {
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RequestBodies returns every request body received (control and envd), for tests that
// grep what left the host.
func (s *Server) RequestBodies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// ActiveConnections counts client connections that are open and not idle.
func (s *Server) ActiveConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.activeConns {
		if st == http.StateActive || st == http.StateNew {
			n++
		}
	}
	return n
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(s.activeConns, c)
		return
	}
	s.activeConns[c] = st
}

// Killed reports whether the sandbox was killed.
func (sb *Sandbox) Killed() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.killed
}

// Timeouts lists the timeouts set after creation.
func (sb *Sandbox) Timeouts() []int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]int(nil), sb.timeouts...)
}

// Processes lists the processes started in the sandbox, in start order.
func (sb *Sandbox) Processes() []*Proc {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]*Proc(nil), sb.processes...)
}

// HostPath maps a sandbox path (absolute, or relative to the home) to the host file that
// stands for it. It returns "" for a path that would leave the sandbox root.
func (sb *Sandbox) HostPath(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(Home, p)
	}
	p = path.Clean(p)
	return filepath.Join(sb.Root, filepath.FromSlash(p))
}

func (sb *Sandbox) sandboxPath(p string) string {
	if !path.IsAbs(p) {
		p = path.Join(Home, p)
	}
	return path.Clean(p)
}

func (sb *Sandbox) kill() {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if !sb.killed {
		sb.killed = true
		sb.cancel()
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("E2b-Sandbox-Id") != "" || strings.HasPrefix(r.Host, "49983-") {
		s.serveEnvd(w, r)
		return
	}
	s.serveControl(w, r)
}

func (s *Server) record(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, string(body))
}

func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != s.APIKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 401,
			"message": "Invalid API key"})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "sandboxes":
		s.createSandbox(w, r)
	case len(parts) >= 2 && parts[0] == "sandboxes":
		sb := s.lookup(parts[1])
		if sb == nil || sb.Killed() {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404,
				"message": "sandbox not found"})
			return
		}
		switch {
		case r.Method == http.MethodGet && len(parts) == 2:
			writeJSON(w, http.StatusOK, map[string]any{"sandboxID": sb.ID,
				"templateID": sb.Create["templateID"], "clientID": "fake"})
		case r.Method == http.MethodDelete && len(parts) == 2:
			s.killSandbox(w, sb)
		case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "timeout":
			var body struct {
				Timeout int `json:"timeout"`
			}
			raw, _ := io.ReadAll(r.Body)
			s.record(raw)
			_ = json.Unmarshal(raw, &body)
			sb.mu.Lock()
			sb.timeouts = append(sb.timeouts, body.Timeout)
			sb.mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) createSandbox(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	s.record(raw)
	s.mu.Lock()
	fault := s.createFault
	s.mu.Unlock()
	if fault != 0 {
		writeJSON(w, fault, map[string]any{"code": fault, "message": "create refused by fault"})
		return
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "bad JSON"})
		return
	}

	root, err := os.MkdirTemp("", "e2bfake-sandbox-")
	if err != nil {
		writeJSON(w, 500, map[string]any{"code": 500, "message": err.Error()})
		return
	}
	s.t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(Home)), 0o755); err != nil {
		writeJSON(w, 500, map[string]any{"code": 500, "message": err.Error()})
		return
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.nextID++
	sb := &Sandbox{ID: fmt.Sprintf("sbx%04d%s", s.nextID, randomHex(4)), Token: randomHex(16),
		Root: root, Create: req, ctx: ctx, cancel: cancel}
	s.sandboxes[sb.ID] = sb
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, map[string]any{
		"sandboxID": sb.ID, "templateID": req["templateID"], "clientID": "fake",
		"envdVersion": "0.2.0", "envdAccessToken": sb.Token, "domain": "e2b.test",
	})
}

func (s *Server) killSandbox(w http.ResponseWriter, sb *Sandbox) {
	s.mu.Lock()
	fault := s.killFault
	s.mu.Unlock()
	sb.kill()
	if fault != 0 {
		writeJSON(w, fault, map[string]any{"code": fault, "message": "kill fault"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) lookup(id string) *Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sandboxes[id]
}

func (s *Server) serveEnvd(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("E2b-Sandbox-Id")
	if id == "" {
		id = strings.TrimPrefix(strings.SplitN(r.Host, ".", 2)[0], "49983-")
	}
	sb := s.lookup(id)
	if sb == nil || sb.Killed() {
		writeJSON(w, http.StatusBadGateway, map[string]any{"code": "unavailable",
			"message": "sandbox not found"})
		return
	}
	if r.Header.Get("X-Access-Token") != sb.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"code": "unauthenticated",
			"message": "bad access token"})
		return
	}

	switch {
	case r.URL.Path == "/health":
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/files" && r.Method == http.MethodGet:
		s.download(w, r, sb)
	case r.URL.Path == "/files" && r.Method == http.MethodPost:
		s.upload(w, r, sb)
	case strings.HasPrefix(r.URL.Path, "/filesystem.Filesystem/"):
		s.filesystem(w, r, sb, strings.TrimPrefix(r.URL.Path, "/filesystem.Filesystem/"))
	case r.URL.Path == "/process.Process/Start":
		s.startProcess(w, r, sb)
	case r.URL.Path == "/process.Process/SendSignal":
		s.sendSignal(w, r, sb)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"code": "unimplemented",
			"message": "no such procedure"})
	}
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, sb *Sandbox) {
	sandboxPath := sb.sandboxPath(r.URL.Query().Get("path"))
	s.mu.Lock()
	var fault Fault
	for suffix, f := range s.fileFaults {
		if strings.HasSuffix(sandboxPath, suffix) {
			fault = f
		}
	}
	s.mu.Unlock()

	raw, err := os.ReadFile(sb.HostPath(sandboxPath))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"code": "not_found",
			"message": "path not found"})
		return
	}
	switch fault {
	case FaultStatus500:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": "internal",
			"message": "injected failure"})
	case FaultHang:
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	case FaultTruncate:
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(raw[:len(raw)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(raw)))
		_, _ = w.Write(raw)
	}
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, sb *Sandbox) {
	sandboxPath := sb.sandboxPath(r.URL.Query().Get("path"))
	file, _, err := r.FormFile("file")
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "invalid_argument",
			"message": "multipart field 'file' missing"})
		return
	}
	defer func() { _ = file.Close() }()
	raw, err := io.ReadAll(file)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "invalid_argument",
			"message": err.Error()})
		return
	}
	s.record(raw)
	host := sb.HostPath(sandboxPath)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err == nil {
		err = os.WriteFile(host, raw, 0o644)
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"code": "internal",
			"message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, []map[string]any{{"path": sandboxPath,
		"name": path.Base(sandboxPath), "type": "file"}})
}

func (s *Server) filesystem(w http.ResponseWriter, r *http.Request, sb *Sandbox, method string) {
	var req struct {
		Path        string `json:"path"`
		Depth       int    `json:"depth"`
		Source      string `json:"source"`
		Destination string `json:"destination"`
	}
	raw, _ := io.ReadAll(r.Body)
	s.record(raw)
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &req) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "invalid_argument",
			"message": "expected a JSON body"})
		return
	}
	p := sb.sandboxPath(req.Path)
	host := sb.HostPath(p)
	switch method {
	case "MakeDir":
		if info, err := os.Stat(host); err == nil && info.IsDir() {
			writeJSON(w, http.StatusConflict, map[string]any{"code": "already_exists",
				"message": "directory exists"})
			return
		}
		if err := os.MkdirAll(host, 0o755); err != nil {
			writeJSON(w, 500, map[string]any{"code": "internal", "message": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]any{"entry": entry(p, host)})
	case "Stat":
		if _, err := os.Stat(host); err != nil {
			writeJSON(w, 404, map[string]any{"code": "not_found", "message": "no such path"})
			return
		}
		writeJSON(w, 200, map[string]any{"entry": entry(p, host)})
	case "ListDir":
		s.listDir(w, sb, p, req.Depth)
	case "Remove":
		_ = os.RemoveAll(host)
		writeJSON(w, 200, map[string]any{})
	case "Move":
		dst := sb.sandboxPath(req.Destination)
		if err := os.Rename(sb.HostPath(sb.sandboxPath(req.Source)), sb.HostPath(dst)); err != nil {
			writeJSON(w, 404, map[string]any{"code": "not_found", "message": "no such path"})
			return
		}
		writeJSON(w, 200, map[string]any{"entry": entry(dst, sb.HostPath(dst))})
	default:
		writeJSON(w, 404, map[string]any{"code": "unimplemented", "message": "no such method"})
	}
}

func (s *Server) listDir(w http.ResponseWriter, sb *Sandbox, p string, depth int) {
	if depth < 1 {
		depth = 1
	}
	root := sb.HostPath(p)
	var entries []map[string]any
	err := filepath.WalkDir(root, func(hostPath string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, hostPath)
		if rel == "." {
			return nil
		}
		level := len(strings.Split(rel, string(filepath.Separator)))
		if level > depth {
			return filepath.SkipDir
		}
		entries = append(entries, entry(path.Join(p, filepath.ToSlash(rel)), hostPath))
		return nil
	})
	if err != nil {
		writeJSON(w, 404, map[string]any{"code": "not_found", "message": "no such directory"})
		return
	}
	writeJSON(w, 200, map[string]any{"entries": entries})
}

func entry(sandboxPath, hostPath string) map[string]any {
	kind := "file"
	var size int64
	if info, err := os.Lstat(hostPath); err == nil {
		size = info.Size()
		if info.IsDir() {
			kind = "dir"
		}
	}
	return map[string]any{"name": path.Base(sandboxPath), "type": kind, "path": sandboxPath,
		"size": size}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeEnvelope frames one Connect message; kept separate from the client's code so that
// a framing bug in one is not mirrored by the other.
func writeEnvelope(w io.Writer, flags byte, payload []byte) error {
	frame := make([]byte, 5+len(payload))
	frame[0] = flags
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(payload)))
	copy(frame[5:], payload)
	_, err := w.Write(frame)
	return err
}
