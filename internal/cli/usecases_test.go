package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUsecasesListGolden(t *testing.T) {
	dir := t.TempDir()
	for golden, args := range map[string][]string{
		"usecases_list.json":          {"usecases", "list", "--json"},
		"mcp_usecases_list.json":      {"mcp", "usecases", "list", "--json"},
		"mcp_usecases_list_sync.json": {"mcp", "usecases", "list", "--category", "sync", "--json"},
	} {
		r := runCLI(t, dir, "", args...)
		if r.Code != ExitOK {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stderr)
		}
		jsonDoc(t, r)
		assertGolden(t, golden, r.Stdout)
	}

	r := runCLI(t, dir, "", "usecases", "list", "--category", "nope", "--json")
	if doc := jsonDoc(t, r); r.Code != ExitOK || doc["total_count"] != float64(0) ||
		len(doc["categories"].([]any)) != 5 {
		t.Errorf("unknown category: exit %d %v", r.Code, doc)
	}
}

func TestMCPGuideStartGolden(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]string{
		"mcp_guide_start_list_connections.json": {},
		"mcp_guide_start_run_discovery.json": {"--known-connection", "@filesystem.local",
			"--known-connection", "@mysql.shop"},
		"mcp_guide_start_create_oml.json": {"--known-connection", "@mysql.shop",
			"--has-discovery"},
		"mcp_guide_start_validate_oml.json": {"--has-error-report", "--has-previous-oml"},
	}
	for golden, flags := range cases {
		args := append([]string{"mcp", "guide", "start", "--intent", "-", "--json"}, flags...)
		r := runCLI(t, dir, "Copy orders into a CSV file\n", args...)
		if r.Code != ExitOK {
			t.Fatalf("%v: exit %d %s", args, r.Code, r.Stdout)
		}
		jsonDoc(t, r)
		assertGolden(t, golden, r.Stdout)
	}

	r := runCLI(t, dir, "  \n", "mcp", "guide", "start", "--intent", "-", "--json")
	if r.Code != ExitUsage {
		t.Errorf("empty intent: exit %d", r.Code)
	}
	assertGolden(t, "mcp_guide_start_no_intent.json", r.Stdout)

	r = runCLI(t, dir, "", "mcp", "guide", "start", "--intent", "x", "--known-connection",
		"mysql.shop", "--json")
	if doc := jsonDoc(t, r); r.Code != ExitUsage || doc["error_type"] != "invalid_connection_ref" {
		t.Errorf("bad reference: exit %d %v", r.Code, doc)
	}
}

func TestGuideStartDetectsTheProject(t *testing.T) {
	dir := t.TempDir()
	r := runCLI(t, dir, "", "guide", "start", "--json")
	if r.Code != ExitOK {
		t.Fatalf("exit %d %s", r.Code, r.Stdout)
	}
	assertGolden(t, "guide_start.json", normalise(r.Stdout, dir))

	write := func(rel, text string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("osiris_connections.yaml", "connections:\n  mysql:\n    shop:\n      host: localhost\n"+
		"      password: ${SHOP_PW}\n")
	r = runCLI(t, dir, "", "guide", "start", "--intent", "orders", "--json")
	doc := jsonDoc(t, r)
	steps := doc["suggested_steps"].([]any)
	if doc["next_step"] != "run_discovery" || doc["mode"] != "guided_authoring" ||
		steps[0].(map[string]any)["command"] != "osiris discovery run @mysql.shop" {
		t.Errorf("with a connection: %v", doc)
	}

	write(".osiris/mcp/logs/cache/disc_0011223344556677/overview.json", "{}")
	write("pipelines/orders.yaml", "oml_version: \"0.1.0\"\n")
	r = runCLI(t, dir, "", "guide", "start", "--json")
	if doc := jsonDoc(t, r); doc["next_step"] != "validate_oml" {
		t.Errorf("with discovery and a pipeline: %v", doc["next_step"])
	}

	write("ctx.yaml", "intent: from the file\nhas_previous_oml: false\n")
	r = runCLI(t, dir, "", "guide", "start", "--context-file", filepath.Join(dir, "ctx.yaml"),
		"--json")
	doc = jsonDoc(t, r)
	if doc["next_step"] != "create_oml" || doc["objective"] != "from the file" ||
		doc["context_file"] != filepath.Join(dir, "ctx.yaml") {
		t.Errorf("context file: %v", doc)
	}

	write("bad.yaml", "intent: x\nhas_discovery: maybe\n")
	r = runCLI(t, dir, "", "guide", "start", "--context-file", filepath.Join(dir, "bad.yaml"),
		"--json")
	doc = jsonDoc(t, r)
	if r.Code != ExitUsage || !strings.Contains(doc["message"].(string), "bad.yaml") ||
		!strings.Contains(doc["message"].(string), "line 2") {
		t.Errorf("bad context file: exit %d %v", r.Code, doc)
	}
	r = runCLI(t, dir, "", "guide", "start", "--context-file", filepath.Join(dir, "none.yaml"),
		"--json")
	if doc := jsonDoc(t, r); r.Code != ExitUsage || doc["error_type"] != "invalid_context_file" {
		t.Errorf("missing context file: exit %d %v", r.Code, doc)
	}

	human := runCLI(t, dir, "", "guide", "start")
	if human.Code != ExitOK || !strings.Contains(human.Stdout, "Next step: validate_oml") {
		t.Errorf("human guide: %q", human.Stdout)
	}
}
