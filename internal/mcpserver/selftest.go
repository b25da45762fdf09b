package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// SelftestOptions configure Selftest.
type SelftestOptions struct {
	BasePath string
	Debug    bool
	JSON     bool
	Stdout   io.Writer
	Stderr   io.Writer
	// Command is the server to start; empty means this executable.
	Command string
}

// check is one self-test result.
type check struct {
	Name       string `json:"name"`
	Passed     bool   `json:"passed"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail"`
}

// Selftest starts a real osiris-mcp over stdio, as a client would, and checks the
// handshake, two tools through the CLI and the tool list. It returns 0 when every check
// passed, else 1.
func Selftest(opts SelftestOptions) int {
	started := time.Now()
	settings := LoadSettings(os.LookupEnv)
	command := opts.Command
	if command == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(opts.Stderr, "selftest: cannot find own executable: %v\n", err)
			return 1
		}
		command = exe
	}
	var args []string
	if opts.BasePath != "" {
		args = append(args, "--base-path", opts.BasePath)
	}
	if opts.Debug {
		args = append(args, "--debug")
	}

	checks := runChecks(command, args, settings)
	passed := true
	for _, c := range checks {
		passed = passed && c.Passed
	}
	total := time.Since(started).Milliseconds()

	if opts.JSON {
		status := "success"
		if !passed {
			status = "error"
		}
		doc, _ := json.MarshalIndent(map[string]any{
			"status": status, "checks": checks, "total_ms": total,
		}, "", "  ")
		fmt.Fprintln(opts.Stdout, string(doc))
	} else {
		for _, c := range checks {
			verdict := "PASS"
			if !c.Passed {
				verdict = "FAIL"
			}
			fmt.Fprintf(opts.Stdout, "%s %s (%d ms) %s\n", verdict, c.Name, c.DurationMS, c.Detail)
		}
	}
	if !passed {
		return 1
	}
	return 0
}

func runChecks(command string, args []string, settings Settings) []check {
	names := []string{"handshake", "connections.list", "oml.schema.get", "tools/list"}
	failAll := func(detail string) []check {
		out := make([]check, len(names))
		for i, n := range names {
			out[i] = check{Name: n, Detail: detail}
		}
		return out
	}

	mcpClient, err := client.NewStdioMCPClient(command, nil, args...)
	if err != nil {
		return failAll("could not start the server: " + err.Error())
	}
	defer mcpClient.Close()

	ctx, cancel := context.WithTimeout(context.Background(),
		settings.HandshakeTimeout+2*settings.ToolTimeout+10*time.Second)
	defer cancel()

	var checks []check
	start := time.Now()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "osiris-selftest", Version: "1"}
	_, err = mcpClient.Initialize(ctx, init)
	elapsed := time.Since(start)
	handshake := check{Name: "handshake", DurationMS: elapsed.Milliseconds()}
	switch {
	case err != nil:
		handshake.Detail = "initialize failed: " + err.Error()
	case elapsed >= settings.HandshakeTimeout:
		handshake.Detail = fmt.Sprintf("took longer than %s", settings.HandshakeTimeout)
	default:
		handshake.Passed, handshake.Detail = true, "ok"
	}
	checks = append(checks, handshake)
	if err != nil {
		return append(checks, failAll("no handshake")[1:]...)
	}

	checks = append(checks, toolCheck(ctx, mcpClient, "connections.list", func(env map[string]any) string {
		if env["status"] != "success" {
			return "status " + fmt.Sprint(env["status"]) + ": " + errorMessage(env)
		}
		return ""
	}))
	checks = append(checks, toolCheck(ctx, mcpClient, "oml.schema.get", func(env map[string]any) string {
		result, _ := env["result"].(map[string]any)
		if env["status"] != "success" {
			return "status " + fmt.Sprint(env["status"]) + ": " + errorMessage(env)
		}
		if result["version"] != "0.1.0" || result["schema"] == nil {
			return fmt.Sprintf("version %v, schema present %v", result["version"], result["schema"] != nil)
		}
		return ""
	}))

	start = time.Now()
	list, err := mcpClient.ListTools(ctx, mcp.ListToolsRequest{})
	toolsCheck := check{Name: "tools/list", DurationMS: time.Since(start).Milliseconds()}
	if err != nil {
		toolsCheck.Detail = err.Error()
	} else {
		var got, want []string
		for _, t := range list.Tools {
			got = append(got, t.Name)
		}
		for _, t := range catalogue {
			want = append(want, t.Name)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			toolsCheck.Passed, toolsCheck.Detail = true, fmt.Sprintf("%d tools", len(got))
		} else {
			toolsCheck.Detail = "got " + strings.Join(got, ",")
		}
	}
	return append(checks, toolsCheck)
}

func toolCheck(ctx context.Context, c *client.Client, name string,
	verify func(map[string]any) string) check {
	start := time.Now()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = map[string]any{}
	result, err := c.CallTool(ctx, req)
	out := check{Name: name, DurationMS: time.Since(start).Milliseconds()}
	if err != nil {
		out.Detail = err.Error()
		return out
	}
	env, err := envelopeOf(result)
	if err != nil {
		out.Detail = err.Error()
		return out
	}
	if problem := verify(env); problem != "" {
		out.Detail = problem
		return out
	}
	out.Passed, out.Detail = true, "ok"
	return out
}

// envelopeOf decodes the envelope inside a tool result's single text item.
func envelopeOf(result *mcp.CallToolResult) (map[string]any, error) {
	if len(result.Content) != 1 {
		return nil, fmt.Errorf("result has %d content items, want 1", len(result.Content))
	}
	text, ok := mcp.AsTextContent(result.Content[0])
	if !ok {
		return nil, fmt.Errorf("result content is not text")
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(text.Text), &env); err != nil {
		return nil, fmt.Errorf("result text is not JSON: %w", err)
	}
	return env, nil
}

func errorMessage(env map[string]any) string {
	if e, ok := env["error"].(map[string]any); ok {
		return fmt.Sprintf("%v %v", e["code"], e["message"])
	}
	return ""
}
