package mcpserver

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// envelopeMeta is the _meta block every tool result carries.
type envelopeMeta struct {
	CorrelationID string `json:"correlation_id"`
	Tool          string `json:"tool"`
	DurationMS    int64  `json:"duration_ms"`
	BytesIn       int64  `json:"bytes_in"`
	BytesOut      int64  `json:"bytes_out"`
	CLICommand    string `json:"cli_command,omitempty"`
}

// envelope is the one JSON document inside a tool result's text item.
type envelope struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *toolError      `json:"error,omitempty"`
	Meta   envelopeMeta    `json:"_meta"`
}

func encodeCompact(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{}`)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// NewInstanceID is 12 random lower-case hex digits naming one shim instance (audit
// session "mcp_<id>", telemetry session "tel_<id>").
func NewInstanceID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("no randomness for an instance id: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// RandomCorrelationID gives each call "mcp_" + 12 random hex digits.
func RandomCorrelationID(any) string { return "mcp_" + NewInstanceID() }

// HashedCorrelationID derives the id from the JSON-RPC request id, so tests can predict
// it: "mcp_" + the first 12 hex digits of SHA-256 of the id's text.
func HashedCorrelationID(requestID any) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(requestID)))
	return "mcp_" + hex.EncodeToString(sum[:])[:12]
}

// stripMeta removes a "_meta" key the CLI may have put in its object; the envelope has
// its own.
func stripMeta(object json.RawMessage) json.RawMessage {
	if !gjson.GetBytes(object, "_meta").Exists() {
		return object
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(object, &fields) != nil {
		return object
	}
	delete(fields, "_meta")
	return encodeCompact(fields)
}

// wireSize is the number of bytes text takes inside a JSON-RPC line, escapes included.
// It counts each escaped byte value with bytes.Count, which is much faster on large
// results than a loop over the bytes.
func wireSize(text []byte) int {
	size := 2 + len(text)
	for c := 0; c < 0x80; c++ {
		if extra := escapedCost(byte(c)) - 1; extra > 0 {
			size += extra * bytes.Count(text, []byte{byte(c)})
		}
	}
	return size
}

// escapedCost is how many bytes one byte of text becomes in a JSON string written by
// encoding/json (which also escapes <, > and &).
func escapedCost(c byte) int {
	switch {
	case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
		return 2
	case c < 0x20 || c == '<' || c == '>' || c == '&':
		return 6
	}
	return 1
}

// Cut results: one part stays well under the wire limit even after escaping, and the
// shim keeps the parts of the last few cut results only.
const (
	partBudget      = 4 << 20
	keptCutResults  = 4
	cutPreviewBytes = 64 << 10
	resultsURIStart = "osiris://mcp/results/"
)

// resultStore holds the parts of results too large for one tool reply, so a client can
// read them as resources.
// Limitation: only the last few cut results are kept, in memory; a restart loses them.
type resultStore struct {
	mu    sync.Mutex
	parts map[string][]string
	order []string
}

func newResultStore() *resultStore { return &resultStore{parts: map[string][]string{}} }

func (r *resultStore) put(id string, parts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.parts[id] = parts
	r.order = append(r.order, id)
	for len(r.order) > keptCutResults {
		delete(r.parts, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *resultStore) get(id string, part int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	parts, ok := r.parts[id]
	if !ok || part < 1 || part > len(parts) {
		return "", false
	}
	return parts[part-1], true
}

func partURI(correlationID string, part int) string {
	return fmt.Sprintf("%s%s/part-%d.txt", resultsURIStart, correlationID, part)
}

// parsePartURI splits osiris://mcp/results/<id>/part-<n>.txt.
func parsePartURI(uri string) (string, int, bool) {
	rest, ok := strings.CutPrefix(uri, resultsURIStart)
	if !ok {
		return "", 0, false
	}
	id, file, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(file, "part-") || !strings.HasSuffix(file, ".txt") {
		return "", 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(file, "part-"), ".txt"))
	if err != nil {
		return "", 0, false
	}
	return id, n, true
}

// splitForWire cuts text into parts whose escaped size stays under partBudget, never
// inside a UTF-8 sequence.
func splitForWire(text []byte) []string {
	var parts []string
	start, cost := 0, 0
	for i := 0; i < len(text); i++ {
		if cost+escapedCost(text[i]) > partBudget && utf8.RuneStart(text[i]) {
			parts = append(parts, string(text[start:i]))
			start, cost = i, 0
		}
		cost += escapedCost(text[i])
	}
	return append(parts, string(text[start:]))
}

// cutResult replaces a result too large for the wire by a marker that says so, a
// preview, and the resource URIs of its parts (stored in store).
func cutResult(store *resultStore, correlationID string, result json.RawMessage) json.RawMessage {
	parts := splitForWire(result)
	store.put(correlationID, parts)
	uris := make([]string, len(parts))
	for i := range parts {
		uris[i] = partURI(correlationID, i+1)
	}
	return encodeCompact(map[string]any{
		"truncated": true,
		"message": fmt.Sprintf("The result is %d bytes, more than a tool result may carry "+
			"(%d MiB); it was cut. Read its JSON text from resource_uris in order and join "+
			"the parts.", len(result), WireLimit>>20),
		"total_bytes":   len(result),
		"parts":         len(parts),
		"resource_uris": uris,
		"preview":       utf8Prefix(string(result), cutPreviewBytes),
	})
}
