// Package fakecli is a stand-in for the osiris CLI in the shim's tests. A test binary
// calls Main from TestMain when FAKE_OSIRIS_MODE is set, and points the bridge at
// itself, so the shim's tests need neither a built osiris nor its databases.
//
// Every call is recorded as <FAKE_RECORD_DIR>/<correlation id>.json holding the argv
// and stdin the fake received.
package fakecli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ModeEnv selects the behaviour; its presence turns a test binary into the fake.
const ModeEnv = "FAKE_OSIRIS_MODE"

// Record is what one call of the fake received.
type Record struct {
	Args          []string `json:"args"`
	Stdin         string   `json:"stdin"`
	Cwd           string   `json:"cwd"`
	Home          string   `json:"home"`
	CorrelationID string   `json:"correlation_id"`
	PID           int      `json:"pid"`
}

// Active reports whether this process should act as the fake.
func Active() bool { return os.Getenv(ModeEnv) != "" }

// Main runs the fake with args (after the binary name) and returns its exit code.
func Main(args []string) int {
	mode := os.Getenv(ModeEnv)
	stdin, _ := io.ReadAll(os.Stdin)
	cwd, _ := os.Getwd()
	rec := Record{
		Args: args, Stdin: string(stdin), Cwd: cwd, Home: os.Getenv("OSIRIS_HOME"),
		CorrelationID: os.Getenv("OSIRIS_CORRELATION_ID"), PID: os.Getpid(),
	}
	if dir := os.Getenv("FAKE_RECORD_DIR"); dir != "" {
		raw, _ := json.Marshal(rec)
		name := rec.CorrelationID
		if name == "" {
			name = strconv.Itoa(os.Getpid())
		}
		_ = os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o600)
	}

	command := strings.Join(withoutJSON(args), " ")
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "open postgresql://app:Sentinel-Pa55word@db/x: connection refused")
		return 1
	case "error-doc":
		return printJSON(map[string]any{"status": "error", "error_type": "not_found",
			"message": "Run not found: r1"}, 2)
	case "hang":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), ModeEnv+"=sleep")
		_ = child.Start()
		if dir := os.Getenv("FAKE_RECORD_DIR"); dir != "" && child.Process != nil {
			pids := fmt.Sprintf("%d %d", os.Getpid(), child.Process.Pid)
			_ = os.WriteFile(filepath.Join(dir, "pids-"+rec.CorrelationID), []byte(pids), 0o600)
		}
		time.Sleep(time.Hour)
		return 0
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	case "big":
		n, _ := strconv.Atoi(os.Getenv("FAKE_BIG_BYTES"))
		// Quotes, '<' and newlines in the data make its escaped size larger than its size.
		chunk := strings.Repeat(`row "x" <y>`+"\n", 64)
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(chunk)
		}
		return printJSON(map[string]any{"status": "success", "data": b.String()}, 0)
	}

	switch {
	case command == "mcp oml schema":
		return printJSON(map[string]any{
			"version": "0.1.0", "schema_uri": "osiris://mcp/schemas/oml/v0.1.0.json",
			"schema": map[string]any{"$schema": "http://json-schema.org/draft-07/schema#",
				"version": "0.1.0", "required": []string{"oml_version", "name", "steps"}},
			"status": "success",
		}, 0)
	case command == "mcp connections list":
		return printJSON(map[string]any{
			"session_id": "s1", "count": 1, "status": "success",
			"connections": []any{map[string]any{"family": "mysql", "alias": "main",
				"reference": "@mysql.main", "is_default": true,
				"config": map[string]any{"host": "127.0.0.1", "password": "***MASKED***"}}},
		}, 0)
	case command == "mcp resources list":
		return printJSON(map[string]any{
			"status": "success",
			"resources": []any{map[string]any{"uri": "osiris://mcp/schemas/oml/v0.1.0.json",
				"name": "OML schema", "description": "OML v0.1.0", "mime_type": "application/json"}},
			"resource_templates": []any{map[string]any{
				"uri_template": "osiris://mcp/drafts/oml/{filename}", "name": "OML drafts",
				"mime_type": "application/x-yaml"}},
		}, 0)
	case strings.HasPrefix(command, "mcp resources read "):
		uri := strings.TrimPrefix(command, "mcp resources read ")
		if uri != "osiris://mcp/schemas/oml/v0.1.0.json" {
			return printJSON(map[string]any{"status": "error", "error_type": "not_found",
				"message": "Resource not found", "code": "SEMANTIC/SEM404"}, 1)
		}
		return printJSON(map[string]any{"uri": uri, "mime_type": "application/json",
			"text": "{\n  \"version\": \"0.1.0\"\n}", "status": "success"}, 0)
	}
	return printJSON(map[string]any{
		"status": "success", "args": args, "stdin": string(stdin),
		"_meta": map[string]any{"from": "cli"},
	}, 0)
}

func printJSON(v any, code int) int {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return code
}

func withoutJSON(args []string) []string {
	var out []string
	for _, a := range args {
		if a != "--json" {
			out = append(out, a)
		}
	}
	return out
}

// ReadRecord loads the record of the call with this correlation id.
func ReadRecord(dir, correlationID string) (*Record, error) {
	raw, err := os.ReadFile(filepath.Join(dir, correlationID+".json"))
	if err != nil {
		return nil, err
	}
	var rec Record
	return &rec, json.Unmarshal(raw, &rec)
}
