package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"
)

// update rewrites the golden files under testdata/ instead of comparing with them; a
// reviewer then reads the diff of the tool contract.
var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// snapshotDir holds one file per canonical tool: what a client sees in tools/list plus the
// other names tools/call accepts for it.
var snapshotDir = filepath.Join("testdata", "tools")

const snapshotHint = "go test ./internal/mcpserver -run TestToolContractSnapshots -update"

// Each tool's contract (name, description, input schema as tools/list sends it, and the
// accepted aliases) must match its snapshot, so that any change to what assistants read
// shows up in review as a diff.
func TestToolContractSnapshots(t *testing.T) {
	h := newHarness(t, "echo", nil)
	listed, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}

	snapshots := map[string][]byte{}
	for _, tool := range listed.Tools {
		snapshot, err := toolSnapshot(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool.Name, err)
		}
		snapshots[tool.Name] = snapshot
	}
	checkListedToolsAreTheCatalogue(t, listed.Tools)

	if *update {
		writeSnapshots(t, snapshots)
		return
	}
	names := make([]string, 0, len(snapshots))
	for name := range snapshots {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		got := snapshots[name]
		path := filepath.Join(snapshotDir, name+".snap")
		want, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: no snapshot for tool %s; create it with: %s", path, name, snapshotHint)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s: tool %s differs from its snapshot (-snapshot +server); if the "+
				"change is intended, regenerate with: %s\n%s", path, name, snapshotHint, diff)
		}
	}
	for _, stale := range staleSnapshots(t, snapshots) {
		t.Errorf("%s: snapshot for a tool the server no longer lists; delete it or run: %s",
			stale, snapshotHint)
	}
}

// checkListedToolsAreTheCatalogue makes sure the snapshots cover exactly the catalogue:
// the hidden unknown-tool handler must stay out of tools/list, and no tool may go missing.
func checkListedToolsAreTheCatalogue(t *testing.T, listed []mcp.Tool) {
	t.Helper()
	var got, want []string
	for _, tool := range listed {
		got = append(got, tool.Name)
	}
	for _, tool := range Catalogue() {
		want = append(want, tool.Name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) != 12 {
		t.Errorf("catalogue has %d tools, want 12", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tools/list differs from the catalogue (-catalogue +listed):\n%s", diff)
	}
}

// toolSnapshot renders one listed tool as indented JSON. It goes through maps so that keys
// come out sorted at every level, whatever order the server or the schema builder used.
func toolSnapshot(tool mcp.Tool) ([]byte, error) {
	wire, err := json.Marshal(tool)
	if err != nil {
		return nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal(wire, &fields); err != nil {
		return nil, err
	}

	entry, ok := Lookup(tool.Name)
	if !ok {
		return nil, errors.New("listed but not in the catalogue")
	}
	contract := map[string]any{
		"name":        fields["name"],
		"description": fields["description"],
		"inputSchema": fields["inputSchema"],
		"aliases":     entry.Aliases(),
	}

	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(contract); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeSnapshots rewrites every snapshot and removes those of tools that are gone, so
// that one -update run leaves the directory matching the server.
func writeSnapshots(t *testing.T, snapshots map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(snapshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range snapshots {
		path := filepath.Join(snapshotDir, name+".snap")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, stale := range staleSnapshots(t, snapshots) {
		if err := os.Remove(stale); err != nil {
			t.Fatal(err)
		}
		t.Logf("removed %s", stale)
	}
}

// staleSnapshots lists the .snap files whose tool the server does not list.
func staleSnapshots(t *testing.T, snapshots map[string][]byte) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(snapshotDir, "*.snap"))
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".snap")
		if _, ok := snapshots[name]; !ok {
			stale = append(stale, file)
		}
	}
	return stale
}
