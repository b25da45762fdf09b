// Package e2b is a small client for E2B sandboxes: the control plane that creates, extends
// and kills sandboxes, and envd, the agent inside each sandbox that serves files and runs
// processes. Osiris uses it to run a pipeline remotely with the same osiris binary.
package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/secrets"
)

// DefaultDomain is E2B's public domain; E2B_DOMAIN replaces it for self-hosted setups.
const DefaultDomain = "e2b.app"

// EnvdPort is the port envd listens on inside every sandbox.
const EnvdPort = 49983

// controlTimeout bounds one control-plane request, as E2B's own SDKs do.
const controlTimeout = 60 * time.Second

// Config says where E2B is and how to authenticate. Build it with ConfigFromEnv.
type Config struct {
	APIKey secrets.Secret
	// APIURL is the control plane base URL, "https://api.<domain>" unless overridden.
	APIURL string
	// Domain builds envd URLs ("https://49983-<id>.<domain>") when the sandbox does not
	// report its own.
	Domain string
	// SandboxURL, when set, is one URL for every sandbox's envd; the sandbox is then named
	// by the E2b-Sandbox-Id and E2b-Sandbox-Port headers.
	SandboxURL string
	// HTTPClient is used for every request; nil means a private client.
	HTTPClient *http.Client
}

// ConfigFromEnv reads E2B_API_KEY, E2B_DOMAIN, E2B_API_URL and E2B_SANDBOX_URL. A missing
// key is an error naming the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		APIKey:     secrets.Secret(strings.TrimSpace(getenv("E2B_API_KEY"))),
		Domain:     strings.TrimSpace(getenv("E2B_DOMAIN")),
		APIURL:     strings.TrimRight(strings.TrimSpace(getenv("E2B_API_URL")), "/"),
		SandboxURL: strings.TrimRight(strings.TrimSpace(getenv("E2B_SANDBOX_URL")), "/"),
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api." + cfg.Domain
	}
	if cfg.APIKey == "" {
		return cfg, errors.New("E2B_API_KEY is not set; remote runs on E2B need an API key")
	}
	for name, raw := range map[string]string{"E2B_API_URL": cfg.APIURL,
		"E2B_SANDBOX_URL": cfg.SandboxURL} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" ||
			(u.Scheme != "http" && u.Scheme != "https") {
			return cfg, fmt.Errorf("%s must be an http(s) URL", name)
		}
	}
	return cfg, nil
}

// Client talks to the control plane and hands out Sandbox handles for envd.
type Client struct {
	cfg  Config
	http *http.Client
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{cfg: cfg, http: hc}
}

// CloseIdleConnections releases pooled connections; call it when the run is over.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// APIError is a non-success answer of the control plane. Message is E2B's text, which
// never holds the API key but is redacted before display anyway.
type APIError struct {
	StatusCode int
	Code       int    `json:"code"`
	Message    string `json:"message"`
}

// Error says the status and E2B's message, redacted.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("E2B API answered %d: %s", e.StatusCode, secrets.RedactText(msg))
}

// CreateRequest is the body of POST /sandboxes. It has no field for sandbox-wide
// environment variables on purpose: secrets reach the sandbox only as the environment of
// the one process that needs them.
type CreateRequest struct {
	TemplateID string            `json:"templateID"`
	Timeout    int               `json:"timeout"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Secure     bool              `json:"secure"`
}

// SandboxInfo is what the control plane says about a sandbox.
type SandboxInfo struct {
	SandboxID   string `json:"sandboxID"`
	TemplateID  string `json:"templateID"`
	ClientID    string `json:"clientID"`
	Alias       string `json:"alias"`
	EnvdVersion string `json:"envdVersion"`
	Domain      string `json:"domain"`
	// EnvdAccessToken authenticates envd requests; it is a secret.
	EnvdAccessToken secrets.Secret `json:"-"`
}

// CreateSandbox starts a sandbox and returns a handle to its envd.
func (c *Client) CreateSandbox(ctx context.Context, req CreateRequest) (*Sandbox, error) {
	var reply struct {
		SandboxInfo
		EnvdAccessToken string `json:"envdAccessToken"`
	}
	if err := c.control(ctx, http.MethodPost, "/sandboxes", req, &reply, http.StatusCreated,
		http.StatusOK); err != nil {
		return nil, fmt.Errorf("create sandbox: %w", err)
	}
	if reply.SandboxID == "" {
		return nil, errors.New("create sandbox: the answer holds no sandboxID")
	}
	info := reply.SandboxInfo
	info.EnvdAccessToken = secrets.Secret(reply.EnvdAccessToken)
	return c.newSandbox(info), nil
}

// GetSandbox returns what the control plane knows about a running sandbox.
func (c *Client) GetSandbox(ctx context.Context, id string) (*SandboxInfo, error) {
	var info SandboxInfo
	err := c.control(ctx, http.MethodGet, "/sandboxes/"+url.PathEscape(id), nil, &info,
		http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("get sandbox: %w", err)
	}
	return &info, nil
}

// SetTimeout makes the sandbox live for seconds from now.
func (c *Client) SetTimeout(ctx context.Context, id string, seconds int) error {
	body := map[string]int{"timeout": seconds}
	err := c.control(ctx, http.MethodPost, "/sandboxes/"+url.PathEscape(id)+"/timeout", body,
		nil, http.StatusNoContent, http.StatusOK)
	if err != nil {
		return fmt.Errorf("set sandbox timeout: %w", err)
	}
	return nil
}

// Kill stops the sandbox. A sandbox that is already gone (404) counts as killed.
func (c *Client) Kill(ctx context.Context, id string) error {
	err := c.control(ctx, http.MethodDelete, "/sandboxes/"+url.PathEscape(id), nil, nil,
		http.StatusNoContent, http.StatusOK)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill sandbox: %w", err)
	}
	return nil
}

// control sends one JSON request to the control plane and decodes the answer into out.
func (c *Client) control(ctx context.Context, method, path string, in, out any,
	okStatus ...int) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()

	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.APIURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.cfg.APIKey.Reveal())
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer closeBody(resp.Body)

	for _, s := range okStatus {
		if resp.StatusCode == s {
			if out == nil {
				return nil
			}
			if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
				return fmt.Errorf("decode answer: %w", err)
			}
			return nil
		}
	}
	return decodeAPIError(resp)
}

func decodeAPIError(resp *http.Response) error {
	apiErr := &APIError{StatusCode: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, apiErr)
	return apiErr
}

// transportError keeps a network error readable without echoing the request URL's query.
func transportError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s request failed: %w", urlErr.Op, urlErr.Err)
	}
	return err
}

// closeBody drains a little of what is left so the connection can be reused, then closes.
func closeBody(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}
