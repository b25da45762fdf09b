package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/osirisgo/osiris/internal/audit"
	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/telemetry"
)

// Runner runs one CLI call; *bridge.Bridge is the real one.
type Runner interface {
	Run(ctx context.Context, req bridge.Request) (*bridge.Reply, error)
}

// Options configure a Server.
type Options struct {
	Version   string
	Runner    Runner
	Settings  Settings
	Audit     *audit.EventLogger
	Telemetry *telemetry.Emitter
	Logger    *slog.Logger
	// CorrelationID makes the id of one call from its JSON-RPC request id; nil means
	// RandomCorrelationID.
	CorrelationID func(requestID any) string
}

// Server is the shim: an mcp-go server whose tools all run through one pipeline of
// guards, the bridge, the envelope, audit and telemetry.
type Server struct {
	opts    Options
	mcp     *server.MCPServer
	logger  *slog.Logger
	results *resultStore
	started time.Time
}

// Instructions tell the client, at initialize, how the tools fit together.
const Instructions = "Osiris builds data pipelines in OML. Call guide_start first with " +
	"the user's intent (or oml_schema_get to read the language), use connections_list and " +
	"discovery_request to learn the data, then oml_validate the pipeline and oml_save it " +
	"only once oml_validate reports it valid. Every tool returns one JSON envelope with " +
	"status, result or error, and _meta."

// Keys under which the call hook hands per-call facts to the handler.
const (
	metaRequested = "osiris.dev/requested_name"
	metaReceived  = "osiris.dev/received_at"
	metaRequestID = "osiris.dev/request_id"
)

// New builds the server and registers the 12 tools, the hidden unknown-tool handler and
// the resource delegation.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.CorrelationID == nil {
		opts.CorrelationID = RandomCorrelationID
	}
	if opts.Settings.PayloadLimitMB == 0 {
		opts.Settings = LoadSettings(func(string) (string, bool) { return "", false })
	}
	s := &Server{opts: opts, logger: opts.Logger, results: newResultStore(), started: time.Now()}

	hooks := &server.Hooks{}
	hooks.AddBeforeCallTool(s.canonicalise)
	hooks.AddAfterListTools(func(_ context.Context, _ any, _ *mcp.ListToolsRequest,
		result *mcp.ListToolsResult) {
		kept := result.Tools[:0]
		for _, t := range result.Tools {
			if t.Name != unknownToolName {
				kept = append(kept, t)
			}
		}
		result.Tools = kept
	})
	hooks.AddAfterInitialize(func(_ context.Context, _ any, req *mcp.InitializeRequest,
		_ *mcp.InitializeResult) {
		info := map[string]any{
			"name": req.Params.ClientInfo.Name, "version": req.Params.ClientInfo.Version,
		}
		s.opts.Telemetry.Handshake(time.Since(s.started), true, info)
	})
	hooks.AddAfterDiscover(func(_ context.Context, _ any, req *mcp.DiscoverRequest,
		_ *mcp.DiscoverResult) {
		info := map[string]any{}
		if req.Params.Meta != nil {
			if client, ok := req.Params.Meta.AdditionalFields[mcp.MetaKeyClientInfo].(map[string]any); ok {
				info = client
			}
		}
		s.opts.Telemetry.Handshake(time.Since(s.started), true, info)
	})
	hooks.AddAfterListResources(s.listResources)
	hooks.AddAfterListResourceTemplates(s.listResourceTemplates)

	s.mcp = server.NewMCPServer(ServerName, opts.Version,
		server.WithHooks(hooks),
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithInstructions(Instructions),
		server.WithRecovery(),
		server.WithResourceRecovery(),
	)
	for _, t := range catalogue {
		s.mcp.AddTool(mcp.Tool{
			Name: t.Name, Description: t.Description, RawInputSchema: t.InputSchema(),
		}, s.handleCall)
	}
	s.mcp.AddTool(mcp.Tool{
		Name: unknownToolName, Description: "Answers unknown tool names.",
		RawInputSchema: json.RawMessage(`{"type":"object"}`),
	}, s.handleCall)
	s.registerResources()
	return s
}

// MCP is the underlying mcp-go server, for a transport (stdio, in-process client).
func (s *Server) MCP() *server.MCPServer { return s.mcp }

// canonicalise runs before dispatch: it maps any accepted name to its canonical tool
// and any other name to the hidden unknown-tool handler, and records what the client
// asked for and when.
func (s *Server) canonicalise(_ context.Context, id any, req *mcp.CallToolRequest) {
	requested := req.Params.Name
	name := unknownToolName
	if t, ok := Lookup(requested); ok {
		name = t.Name
	}
	if req.Params.Meta == nil {
		req.Params.Meta = &mcp.Meta{}
	}
	if req.Params.Meta.AdditionalFields == nil {
		req.Params.Meta.AdditionalFields = map[string]any{}
	}
	req.Params.Meta.AdditionalFields[metaRequested] = requested
	req.Params.Meta.AdditionalFields[metaReceived] = time.Now()
	req.Params.Meta.AdditionalFields[metaRequestID] = id
	req.Params.Name = name
}

// call is the state of one tool call as it moves through the pipeline.
type call struct {
	correlationID string
	requested     string
	tool          *Tool
	toolName      string // canonical, or the requested name for an unknown tool
	received      time.Time
	bytesIn       int64
	command       string
}

func (s *Server) newCall(req mcp.CallToolRequest) *call {
	c := &call{requested: req.Params.Name, received: time.Now()}
	var requestID any
	if meta := req.Params.Meta; meta != nil && meta.AdditionalFields != nil {
		if v, ok := meta.AdditionalFields[metaRequested].(string); ok {
			c.requested = v
		}
		if v, ok := meta.AdditionalFields[metaReceived].(time.Time); ok {
			c.received = v
		}
		requestID = meta.AdditionalFields[metaRequestID]
	}
	if requestID == nil {
		requestID = c.requested + c.received.String()
	}
	c.correlationID = s.opts.CorrelationID(requestID)
	c.toolName = bridge.RedactMessage(preview(c.requested, 128))
	if t, ok := Lookup(c.requested); ok {
		c.tool, c.toolName = t, t.Name
	}
	return c
}

// rawArguments are the call's arguments as compact JSON bytes.
func rawArguments(req mcp.CallToolRequest) []byte {
	raw := []byte(req.Params.RawArguments)
	if len(raw) == 0 {
		if req.Params.Arguments == nil {
			return nil
		}
		encoded, err := json.Marshal(req.Params.Arguments)
		if err != nil {
			return nil
		}
		raw = encoded
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}

// handleCall is the one handler of every tool. It always answers with an envelope; a
// panic anywhere below becomes an INTERNAL/UNEXPECTED envelope and the server goes on.
func (s *Server) handleCall(ctx context.Context, req mcp.CallToolRequest) (
	result *mcp.CallToolResult, err error) {
	c := s.newCall(req)
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("tool handler panicked", "tool", c.toolName, "panic", fmt.Sprint(r),
				"stack", string(debug.Stack()))
			result = s.fail(c, &toolError{
				Code: bridge.FamilyInternal + "/UNEXPECTED", Family: bridge.FamilyInternal,
				Message: "internal error in the MCP server; the call was not completed",
				Path:    []string{}, Details: map[string]any{},
			})
			err = nil
		}
	}()
	return s.run(ctx, c, rawArguments(req)), nil
}

func (s *Server) run(ctx context.Context, c *call, raw []byte) *mcp.CallToolResult {
	c.bytesIn = int64(len(raw))
	limit := s.opts.Settings.PayloadLimit()
	memory := c.tool != nil && c.tool.Name == "memory_capture"

	var decoded map[string]any
	var decodeErr *toolError
	if c.bytesIn <= limit {
		decoded, decodeErr = decodeArguments(raw)
	}
	s.auditStart(c, auditArguments(decoded, raw, memory))

	if c.bytesIn > limit {
		return s.fail(c, &toolError{
			Code: bridge.FamilyPolicy + "/POL002", Family: bridge.FamilyPolicy,
			Message: fmt.Sprintf("payload too large: the arguments are %d bytes, the limit is "+
				"%d bytes", c.bytesIn, limit),
			Path:    []string{},
			Suggest: "Send a smaller document, or raise OSIRIS_MCP_PAYLOAD_LIMIT_MB (max 100).",
			Details: map[string]any{"reason": "payload_too_large", "limit_bytes": limit,
				"actual_bytes": c.bytesIn},
		})
	}
	if c.tool == nil {
		return s.fail(c, &toolError{
			Code: bridge.FamilySemantic + "/SEM001", Family: bridge.FamilySemantic,
			Message: "Unknown tool: " + preview(c.requested, 128), Path: []string{},
			Suggest: "Call guide_start, or see tools/list for the tool names.",
			Details: map[string]any{"requested_name": preview(c.requested, 128)},
		})
	}
	if decodeErr != nil {
		return s.fail(c, decodeErr)
	}
	if memory {
		if consent, _ := decoded["consent"].(bool); !consent {
			return s.fail(c, &toolError{
				Code: bridge.FamilyPolicy + "/POL001", Family: bridge.FamilyPolicy,
				Message: "consent required: memory_capture stores data only with consent: true",
				Path:    []string{"consent"},
				Suggest: "Ask the user for consent, then call again with consent: true.",
				Details: map[string]any{"reason": "consent_required", "tool": c.tool.Name},
			})
		}
	}
	args, checkErr := checkArguments(c.tool, decoded)
	if checkErr != nil {
		return s.fail(c, checkErr)
	}
	if c.tool.Name == "guide_start" && strings.TrimSpace(args.str("intent")) == "" {
		return s.fail(c, &toolError{
			Code: bridge.FamilySchema + "/OML020", Family: bridge.FamilySchema,
			Message: "intent is required", Path: []string{"intent"},
			Suggest: "Describe what the user wants to build, or start with connections_list.",
			Details: map[string]any{"next_steps": []any{
				map[string]any{"tool": "connections_list", "params": map[string]any{}}}},
		})
	}

	inv := c.tool.build(args, s.opts.Settings)
	c.command = bridge.Command(inv.args)
	reply, err := s.opts.Runner.Run(ctx, bridge.Request{
		Args: inv.args, Stdin: inv.stdin, Timeout: s.opts.Settings.ToolTimeout,
		CorrelationID: c.correlationID,
	})
	if err != nil {
		var failure *bridge.Failure
		if !errors.As(err, &failure) {
			failure = &bridge.Failure{Code: bridge.FamilySemantic + "/SEM000",
				Family: bridge.FamilySemantic, Message: bridge.RedactMessage(err.Error())}
		}
		te := fromFailure(failure)
		te.Details, _ = redactValue(te.Details).(map[string]any)
		return s.fail(c, te)
	}

	result := stripMeta(reply.Object)
	if int64(len(result)) > limit {
		return s.fail(c, &toolError{
			Code: bridge.FamilyPolicy + "/POL002", Family: bridge.FamilyPolicy,
			Message: fmt.Sprintf("payload too large: the result is %d bytes, the limit is %d "+
				"bytes", len(result), limit),
			Path:    []string{},
			Suggest: "Ask for less data (fewer samples, a narrower request).",
			Details: map[string]any{"reason": "payload_too_large", "limit_bytes": limit,
				"actual_bytes": len(result)},
		})
	}
	return s.succeed(c, result)
}

func (s *Server) succeed(c *call, result json.RawMessage) *mcp.CallToolResult {
	bytesOut := int64(len(result))
	env := envelope{Status: "success", Result: result, Meta: s.meta(c, bytesOut)}
	text := encodeCompact(env)
	if wireSize(text) > WireLimit {
		env.Result = cutResult(s.results, c.correlationID, result)
		text = encodeCompact(env)
	}

	s.auditLog(c, "tool_result", "tool_call_completed", map[string]any{
		"tool": c.toolName, "duration_ms": env.Meta.DurationMS, "bytes_out": bytesOut,
		"status": "success",
	})
	s.opts.Telemetry.RecordToolCall(telemetry.ToolCall{
		CorrelationID: c.correlationID, Tool: c.toolName, OK: true, DurationMS: env.Meta.DurationMS, BytesIn: c.bytesIn,
		BytesOut: bytesOut,
	})
	s.logger.Debug("tool call", "tool", c.toolName, "correlation_id", c.correlationID,
		"duration_ms", env.Meta.DurationMS, "status", "success")
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(string(text))}}
}

func (s *Server) fail(c *call, te *toolError) *mcp.CallToolResult {
	te.Message = bridge.RedactMessage(te.Message)
	bytesOut := int64(len(encodeCompact(te)))
	env := envelope{Status: "error", Error: te, Meta: s.meta(c, bytesOut)}
	text := encodeCompact(env)

	s.auditLog(c, "tool_error", "tool_call_failed", map[string]any{
		"tool": c.toolName, "duration_ms": env.Meta.DurationMS, "error_code": te.Code,
		"error": te.Message,
	})
	s.opts.Telemetry.RecordToolCall(telemetry.ToolCall{
		CorrelationID: c.correlationID, Tool: c.toolName, OK: false, DurationMS: env.Meta.DurationMS, BytesIn: c.bytesIn,
		BytesOut: bytesOut, Error: te.Code,
	})
	s.logger.Debug("tool call", "tool", c.toolName, "correlation_id", c.correlationID,
		"duration_ms", env.Meta.DurationMS, "status", "error", "code", te.Code)
	return &mcp.CallToolResult{
		Content: []mcp.Content{mcp.NewTextContent(string(text))}, IsError: true,
	}
}

func (s *Server) meta(c *call, bytesOut int64) envelopeMeta {
	return envelopeMeta{
		CorrelationID: c.correlationID, Tool: c.toolName,
		DurationMS: time.Since(c.received).Milliseconds(), BytesIn: c.bytesIn,
		BytesOut: bytesOut, CLICommand: c.command,
	}
}

func (s *Server) auditStart(c *call, arguments any) {
	s.auditLog(c, "tool_call", "tool_call_started", map[string]any{
		"tool": c.toolName, "tool_name": c.toolName,
		"requested_name": bridge.RedactMessage(preview(c.requested, 128)),
		"bytes_in":       c.bytesIn, "arguments": arguments,
	})
}

func (s *Server) auditLog(c *call, event, eventType string, fields map[string]any) {
	s.opts.Audit.Log(event, eventType, c.correlationID, fields)
}
