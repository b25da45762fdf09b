package e2b

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"

	"github.com/osirisgo/osiris/internal/secrets"
)

// DefaultUser is the sandbox account files and processes belong to.
const DefaultUser = "user"

// Sandbox is a handle to one sandbox's envd. It is safe for concurrent use.
type Sandbox struct {
	Info SandboxInfo
	User string

	client  *Client
	baseURL string
	// viaProxy is set when every sandbox is reached through one URL (E2B_SANDBOX_URL) and
	// the sandbox is named in headers.
	viaProxy bool
}

func (c *Client) newSandbox(info SandboxInfo) *Sandbox {
	s := &Sandbox{Info: info, User: DefaultUser, client: c}
	if c.cfg.SandboxURL != "" {
		s.baseURL, s.viaProxy = c.cfg.SandboxURL, true
		return s
	}
	domain := info.Domain
	if domain == "" {
		domain = c.cfg.Domain
	}
	s.baseURL = fmt.Sprintf("https://%d-%s.%s", EnvdPort, info.SandboxID, domain)
	return s
}

// ID is the sandbox id.
func (s *Sandbox) ID() string { return s.Info.SandboxID }

// Kill stops this sandbox through the control plane.
func (s *Sandbox) Kill(ctx context.Context) error { return s.client.Kill(ctx, s.ID()) }

func (s *Sandbox) newRequest(ctx context.Context, method, path string, query url.Values,
	body io.Reader) (*http.Request, error) {
	u := s.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if s.viaProxy {
		req.Header.Set("E2b-Sandbox-Id", s.ID())
		req.Header.Set("E2b-Sandbox-Port", strconv.Itoa(EnvdPort))
	}
	if tok := s.Info.EnvdAccessToken.Reveal(); tok != "" {
		req.Header.Set("X-Access-Token", tok)
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.User+":")))
	return req, nil
}

// Health asks envd whether it is up.
func (s *Sandbox) Health(ctx context.Context) error {
	req, err := s.newRequest(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer closeBody(resp.Body)
	if resp.StatusCode/100 != 2 {
		return decodeRPCError(resp)
	}
	return nil
}

// FileEntry describes a file or directory in the sandbox.
type FileEntry struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size,omitempty"`
}

// Upload writes content to path in the sandbox, creating parent directories and
// replacing an existing file. Relative paths resolve against the user's home.
func (s *Sandbox) Upload(ctx context.Context, path string, content io.Reader) ([]FileEntry, error) {
	pr, pw := io.Pipe()
	form := multipart.NewWriter(pw)
	go func() {
		part, err := form.CreateFormFile("file", path)
		if err == nil {
			_, err = io.Copy(part, content)
		}
		if err == nil {
			err = form.Close()
		}
		pw.CloseWithError(err)
	}()

	req, err := s.newRequest(ctx, http.MethodPost, "/files", s.fileQuery(path), pr)
	if err != nil {
		_ = pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", form.FormDataContentType())
	resp, err := s.client.http.Do(req)
	_ = pr.Close()
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", path, transportError(err))
	}
	defer closeBody(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upload %s: %w", path, decodeRPCError(resp))
	}
	var entries []FileEntry
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&entries); err != nil {
		return nil, fmt.Errorf("upload %s: decode answer: %w", path, err)
	}
	return entries, nil
}

// DownloadError is a failed file download; StatusCode is 0 when no HTTP answer came.
type DownloadError struct {
	Path       string
	StatusCode int
	Err        error
}

// Error names the file and the cause.
func (e *DownloadError) Error() string {
	return fmt.Sprintf("download %s: %v", e.Path, e.Err)
}

// Unwrap exposes the cause for errors.Is (timeouts, cut bodies).
func (e *DownloadError) Unwrap() error { return e.Err }

// Download copies the sandbox file at path into w and returns the bytes written. A body
// shorter than its announced length is an error, never a silently short file.
func (s *Sandbox) Download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := s.newRequest(ctx, http.MethodGet, "/files", s.fileQuery(path), nil)
	if err != nil {
		return 0, &DownloadError{Path: path, Err: err}
	}
	resp, err := s.client.http.Do(req)
	if err != nil {
		return 0, &DownloadError{Path: path, Err: transportError(err)}
	}
	defer closeBody(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, &DownloadError{Path: path, StatusCode: resp.StatusCode,
			Err: decodeRPCError(resp)}
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		return n, &DownloadError{Path: path, StatusCode: resp.StatusCode, Err: err}
	}
	return n, nil
}

func (s *Sandbox) fileQuery(path string) url.Values {
	return url.Values{"path": {path}, "username": {s.User}}
}

// MakeDir creates a directory (and its parents) and returns its entry, whose Path is
// absolute. An existing directory is not an error.
func (s *Sandbox) MakeDir(ctx context.Context, path string) (*FileEntry, error) {
	var reply struct {
		Entry FileEntry `json:"entry"`
	}
	err := s.unary(ctx, "/filesystem.Filesystem/MakeDir", map[string]any{"path": path}, &reply)
	if err != nil {
		if rpc, ok := err.(*RPCError); ok && rpc.Code == "already_exists" {
			return s.Stat(ctx, path)
		}
		return nil, fmt.Errorf("make directory %s: %w", path, err)
	}
	return &reply.Entry, nil
}

// Stat describes one path.
func (s *Sandbox) Stat(ctx context.Context, path string) (*FileEntry, error) {
	var reply struct {
		Entry FileEntry `json:"entry"`
	}
	if err := s.unary(ctx, "/filesystem.Filesystem/Stat", map[string]any{"path": path},
		&reply); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return &reply.Entry, nil
}

// ListDir lists a directory down to depth levels.
func (s *Sandbox) ListDir(ctx context.Context, path string, depth int) ([]FileEntry, error) {
	var reply struct {
		Entries []FileEntry `json:"entries"`
	}
	err := s.unary(ctx, "/filesystem.Filesystem/ListDir",
		map[string]any{"path": path, "depth": depth}, &reply)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	return reply.Entries, nil
}

// Remove deletes a file or a directory tree.
func (s *Sandbox) Remove(ctx context.Context, path string) error {
	if err := s.unary(ctx, "/filesystem.Filesystem/Remove", map[string]any{"path": path},
		nil); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// Move renames source to destination.
func (s *Sandbox) Move(ctx context.Context, source, destination string) (*FileEntry, error) {
	var reply struct {
		Entry FileEntry `json:"entry"`
	}
	err := s.unary(ctx, "/filesystem.Filesystem/Move",
		map[string]any{"source": source, "destination": destination}, &reply)
	if err != nil {
		return nil, fmt.Errorf("move %s: %w", source, err)
	}
	return &reply.Entry, nil
}

// unary performs one Connect unary call with the JSON codec.
func (s *Sandbox) unary(ctx context.Context, procedure string, in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	req, err := s.newRequest(ctx, http.MethodPost, procedure, nil, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	resp, err := s.client.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer closeBody(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return decodeRPCError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

func decodeRPCError(resp *http.Response) error {
	rpc := &RPCError{HTTPStatus: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(raw, rpc) != nil || (rpc.Code == "" && rpc.Message == "") {
		rpc.Code = strconv.Itoa(resp.StatusCode)
		rpc.Message = http.StatusText(resp.StatusCode)
	}
	rpc.Message = secrets.RedactText(rpc.Message)
	return rpc
}
