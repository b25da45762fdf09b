package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/osirisgo/osiris/internal/bridge"
)

// maxResourceURIBytes bounds a resource URI. The URI goes on the CLI's command line,
// where one argument is capped near 128 KiB on Linux; no Osiris resource name is longer
// than a few hundred bytes.
const maxResourceURIBytes = 8 << 10

// anyURITemplate matches every URI, so that every resources/read reaches readResource,
// which hands it to the CLI. It is never listed.
const anyURITemplate = "{+uri}"

func (s *Server) registerResources() {
	s.mcp.AddResourceTemplate(mcp.NewResourceTemplate(anyURITemplate, "osiris resources"),
		s.readResource)
}

// resourceList is what `osiris mcp resources list` prints. Both snake_case and the
// protocol's camelCase field names are accepted.
type resourceList struct {
	Resources []struct {
		URI         string `json:"uri"`
		Name        string `json:"name"`
		Description string `json:"description"`
		MIMEType    string `json:"mime_type"`
		MIMETypeAlt string `json:"mimeType"`
	} `json:"resources"`
	Templates    []resourceTemplateItem `json:"resource_templates"`
	TemplatesAlt []resourceTemplateItem `json:"templates"`
}

type resourceTemplateItem struct {
	URITemplate    string `json:"uri_template"`
	URITemplateAlt string `json:"uriTemplate"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	MIMEType       string `json:"mime_type"`
	MIMETypeAlt    string `json:"mimeType"`
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// fetchResourceList asks the CLI for the resource list.
func (s *Server) fetchResourceList(ctx context.Context) (*resourceList, error) {
	correlationID := RandomCorrelationID(nil)
	reply, err := s.opts.Runner.Run(ctx, bridge.Request{
		Args: []string{"mcp", "resources", "list"}, Timeout: s.opts.Settings.ResourceTimeout,
		CorrelationID: correlationID,
	})
	status := "ok"
	var list resourceList
	if err == nil {
		if jerr := json.Unmarshal(reply.Object, &list); jerr != nil {
			err = fmt.Errorf("CLI returned an unexpected resource list: %w", jerr)
		}
	}
	if err != nil {
		status = "error"
		s.logger.Warn("resources list failed", "error", bridge.RedactMessage(err.Error()))
	}
	s.opts.Audit.Log("resource_access", "resource_access", correlationID, map[string]any{
		"resource_uri": "", "operation": "list", "status": status,
	})
	return &list, err
}

// listResources replaces mcp-go's (empty) static list with the CLI's.
// Limitation: a failing CLI gives an empty list rather than a JSON-RPC error, because
// mcp-go offers no way to fail a list from its hook; the failure is logged and audited.
func (s *Server) listResources(ctx context.Context, _ any, _ *mcp.ListResourcesRequest,
	result *mcp.ListResourcesResult) {
	result.Resources = []mcp.Resource{}
	result.NextCursor = ""
	list, err := s.fetchResourceList(ctx)
	if err != nil {
		return
	}
	for _, r := range list.Resources {
		if r.URI == "" {
			continue
		}
		resource := mcp.NewResource(r.URI, firstNonEmpty(r.Name, r.URI),
			mcp.WithResourceDescription(r.Description),
			mcp.WithMIMEType(firstNonEmpty(r.MIMEType, r.MIMETypeAlt)))
		result.Resources = append(result.Resources, resource)
	}
}

// listResourceTemplates replaces the catch-all template with the CLI's templates.
func (s *Server) listResourceTemplates(ctx context.Context, _ any,
	_ *mcp.ListResourceTemplatesRequest, result *mcp.ListResourceTemplatesResult) {
	result.ResourceTemplates = []mcp.ResourceTemplate{}
	result.NextCursor = ""
	list, err := s.fetchResourceList(ctx)
	if err != nil {
		return
	}
	for _, item := range append(list.Templates, list.TemplatesAlt...) {
		encoded, _ := json.Marshal(map[string]any{
			"uriTemplate": firstNonEmpty(item.URITemplate, item.URITemplateAlt),
			"name":        firstNonEmpty(item.Name, item.URITemplate, item.URITemplateAlt),
			"description": item.Description,
			"mimeType":    firstNonEmpty(item.MIMEType, item.MIMETypeAlt),
		})
		var template mcp.ResourceTemplate
		if err := json.Unmarshal(encoded, &template); err != nil || template.URITemplate == nil {
			s.logger.Warn("CLI listed an invalid resource template", "template", item.URITemplate)
			continue
		}
		result.ResourceTemplates = append(result.ResourceTemplates, template)
	}
}

// resourceDocument is what `osiris mcp resources read URI` prints.
type resourceDocument struct {
	URI         string `json:"uri"`
	MIMEType    string `json:"mime_type"`
	MIMETypeAlt string `json:"mimeType"`
	Text        string `json:"text"`
}

// readResource serves the parts of cut tool results itself and hands every other URI
// to the CLI.
// Limitation: a failed read is a JSON-RPC internal error (-32603) whose message carries
// the error code; mcp-go does not let a resource handler attach the error object as data.
func (s *Server) readResource(ctx context.Context, req mcp.ReadResourceRequest) (
	[]mcp.ResourceContents, error) {
	received := time.Now()
	uri := req.Params.URI
	correlationID := RandomCorrelationID(nil)
	contents, err := s.readResourceURI(ctx, uri, correlationID)
	status := "ok"
	if err != nil {
		status = "error"
	}
	// The URI may be megabytes long; audit and log a short, redacted preview of it.
	shown := bridge.RedactMessage(preview(utf8Prefix(uri, 2048), 512))
	s.opts.Audit.Log("resource_access", "resource_access", correlationID, map[string]any{
		"resource_uri": shown, "operation": "read", "status": status,
	})
	s.logger.Debug("resource read", "uri", shown,
		"correlation_id", correlationID, "duration_ms", time.Since(received).Milliseconds(),
		"status", status)
	return contents, err
}

func (s *Server) readResourceURI(ctx context.Context, uri, correlationID string) (
	[]mcp.ResourceContents, error) {
	if strings.HasPrefix(uri, resultsURIStart) {
		id, part, ok := parsePartURI(uri)
		text, found := s.results.get(id, part)
		if !ok || !found {
			return nil, errors.New("Resource not found: the cut result is no longer held " +
				"by this server (SEMANTIC)")
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{
			URI: uri, MIMEType: "text/plain", Text: text,
		}}, nil
	}
	if len(uri) > maxResourceURIBytes {
		return nil, fmt.Errorf("payload too large: the resource URI is %d bytes, the limit is "+
			"%d bytes (POLICY/POL002)", len(uri), maxResourceURIBytes)
	}
	if strings.HasPrefix(uri, "-") || strings.ContainsAny(uri, "\x00\n") {
		return nil, errors.New("Invalid URI scheme (SEMANTIC)")
	}

	reply, err := s.opts.Runner.Run(ctx, bridge.Request{
		Args: []string{"mcp", "resources", "read", uri}, Timeout: s.opts.Settings.ResourceTimeout,
		CorrelationID: correlationID,
	})
	if err != nil {
		var failure *bridge.Failure
		if errors.As(err, &failure) {
			return nil, fmt.Errorf("%s (%s)", failure.Message, failure.Code)
		}
		return nil, errors.New(bridge.RedactMessage(err.Error()))
	}
	var doc resourceDocument
	if err := json.Unmarshal(reply.Object, &doc); err != nil {
		return nil, fmt.Errorf("Failed to read resource: unexpected CLI reply")
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{
		URI: firstNonEmpty(doc.URI, uri), MIMEType: firstNonEmpty(doc.MIMEType, doc.MIMETypeAlt),
		Text: doc.Text,
	}}, nil
}
