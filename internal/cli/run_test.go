package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// runProject makes a project holding the bundled demo data and pipeline.
func runProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	airports, err := os.ReadFile(filepath.Join("..", "..", "examples", "data", "airports.csv"))
	if err != nil {
		t.Fatal(err)
	}
	pipeline, err := os.ReadFile(filepath.Join("..", "..", "examples", "airports_per_state.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write("osiris.yaml", []byte("version: '2.0'\nids:\n  run_id_format: [incremental]\n"))
	write("data/airports.csv", airports)
	write("pipelines/airports_per_state.yaml", pipeline)
	return dir
}

// TestDemoPipelineOutputValues checks the demo's report against counts computed here,
// straight from the bundled CSV with encoding/csv.
func TestDemoPipelineOutputValues(t *testing.T) {
	dir := runProject(t)
	r := runCLI(t, dir, "", "run", filepath.Join(dir, "pipelines", "airports_per_state.yaml"))
	if r.Code != 0 {
		t.Fatalf("run exit %d: %s", r.Code, r.Stderr)
	}

	raw, err := os.ReadFile(filepath.Join(dir, "data", "airports.csv"))
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type agg struct {
		n        int
		lat, lon float64
	}
	byState := map[string]*agg{}
	for _, rec := range records[1:] {
		if rec[4] != "USA" {
			continue
		}
		a := byState[rec[3]]
		if a == nil {
			a = &agg{}
			byState[rec[3]] = a
		}
		lat, _ := strconv.ParseFloat(rec[5], 64)
		lon, _ := strconv.ParseFloat(rec[6], 64)
		a.n++
		a.lat += lat
		a.lon += lon
	}
	states := make([]string, 0, len(byState))
	for s := range byState {
		states = append(states, s)
	}
	sort.Slice(states, func(i, j int) bool {
		if byState[states[i]].n != byState[states[j]].n {
			return byState[states[i]].n > byState[states[j]].n
		}
		return states[i] < states[j]
	})

	out, err := os.ReadFile(filepath.Join(dir, "output", "airports_per_state.csv"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got[0], ",") != "state,airports,avg_latitude,avg_longitude" {
		t.Fatalf("header %v", got[0])
	}
	if len(got)-1 != len(states) {
		t.Fatalf("%d states in the report, %d in the data", len(got)-1, len(states))
	}
	for i, state := range states {
		row := got[i+1]
		a := byState[state]
		if row[0] != state || row[1] != strconv.Itoa(a.n) {
			t.Fatalf("row %d = %v, want %s,%d", i+1, row, state, a.n)
		}
		lat, _ := strconv.ParseFloat(row[2], 64)
		lon, _ := strconv.ParseFloat(row[3], 64)
		if math.Abs(lat-a.lat/float64(a.n)) > 0.00006 || math.Abs(lon-a.lon/float64(a.n)) > 0.00006 {
			t.Fatalf("%s averages %v,%v; want %v,%v", state, lat, lon, a.lat/float64(a.n),
				a.lon/float64(a.n))
		}
	}
	if got[1][0] != "AK" || got[1][1] != "263" {
		t.Fatalf("first row %v", got[1])
	}
}

var (
	isoPattern     = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`)
	runTSPattern   = regexp.MustCompile(`\d{8}t\d{6}z`)
	eventIDPattern = regexp.MustCompile(`\.\d{13}"`)
	secsPattern    = regexp.MustCompile(`\d+\.\d+ s\b`)
)

// volatileKeys hold timings and sizes that differ between runs.
var volatileKeys = map[string]bool{"duration_ms": true, "duration": true, "total": true,
	"compile": true, "size_bytes": true, "summary_size": true, "age_days": true,
	"total_duration_ms": true, "duration_seconds": true, "user": true, "change": true,
	"change_percent": true, "current": true, "previous": true}

func scrub(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if volatileKeys[k] {
				if _, isMap := val.(map[string]any); !isMap {
					t[k] = "$VOLATILE"
					continue
				}
			}
			t[k] = scrub(val)
		}
	case []any:
		for i, val := range t {
			t[i] = scrub(val)
		}
	}
	return v
}

// withoutTimeline drops the AIOP timeline (its order follows concurrent steps) after
// checking that it is there, and returns the document as JSON.
func withoutTimeline(t *testing.T, doc map[string]any) string {
	t.Helper()
	if summary, ok := doc["summary"].(map[string]any); ok {
		evidence, _ := summary["evidence"].(map[string]any)
		if core, ok := summary["core"].(map[string]any); ok {
			evidence, _ = core["evidence"].(map[string]any)
		}
		if timeline, _ := evidence["timeline"].([]any); len(timeline) == 0 {
			t.Fatal("AIOP summary without a timeline")
		}
		evidence["timeline"] = "$CHECKED"
	}
	raw, _ := json.Marshal(doc)
	return string(raw)
}

// runNormalise makes a run document stable: timings, times, hashes and paths replaced.
func runNormalise(t *testing.T, stdout, dir, hash string) string {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	raw, _ := json.MarshalIndent(scrub(doc), "", "  ")
	s := normalise(string(raw), dir)
	if hash != "" {
		s = strings.ReplaceAll(s, hash, "$HASH")
		s = strings.ReplaceAll(s, hash[:7], "$SHORT")
	}
	s = isoPattern.ReplaceAllString(s, "$$TS")
	s = runTSPattern.ReplaceAllString(s, "$$RUNTS")
	s = eventIDPattern.ReplaceAllString(s, `.$$MS"`)
	return secsPattern.ReplaceAllString(s, "$$SECS s") + "\n"
}

func TestRunCommandsGolden(t *testing.T) {
	dir := runProject(t)
	pipeline := filepath.Join(dir, "pipelines", "airports_per_state.yaml")

	r := runCLI(t, dir, "", "run", pipeline, "--json")
	if r.Code != 0 {
		t.Fatalf("run: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
	hash, _ := jsonDoc(t, r)["manifest_hash"].(string)
	if len(hash) != 64 {
		t.Fatalf("manifest hash %q", hash)
	}
	assertGolden(t, "run_success.json", runNormalise(t, r.Stdout, dir, hash))

	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"runs_list.json", []string{"runs", "list"}},
		{"runs_show.json", []string{"runs", "show", "run-000001"}},
		{"logs_list.json", []string{"logs", "list"}},
		{"logs_show.json", []string{"logs", "show", "run-000001"}},
		{"logs_last.json", []string{"logs", "last"}},
		{"logs_html.json", []string{"logs", "html", "run-000001"}},
		{"aiop_list.json", []string{"aiop", "list"}},
		{"aiop_show.json", []string{"aiop", "show", "--run", "run-000001"}},
		{"mcp_aiop_list.json", []string{"mcp", "aiop", "list"}},
		{"mcp_aiop_show.json", []string{"mcp", "aiop", "show", "--run", "run-000001"}},
		{"maintenance_clean.json", []string{"maintenance", "clean", "--dry-run"}},
		{"runs_show_unknown.json", []string{"runs", "show", "run-999999"}},
		{"mcp_aiop_show_unknown.json", []string{"mcp", "aiop", "show", "--run", "nope"}},
	} {
		r := runCLI(t, dir, "", append(c.args, "--json")...)
		want := 0
		if strings.Contains(c.golden, "unknown") {
			want = 2
		}
		if r.Code != want {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", c.args, r.Code, want, r.Stdout, r.Stderr)
		}
		assertGolden(t, c.golden, runNormalise(t, withoutTimeline(t, jsonDoc(t, r)), dir, hash))
	}

	// Metrics and events arrive in the order concurrent steps report them, so they are
	// checked by content rather than against a golden file.
	doc := jsonDoc(t, runCLI(t, dir, "", "logs", "show", "run-000001", "--events",
		"--metrics", "--json"))
	stepsWithRowsRead := map[string]bool{}
	for _, m := range doc["metrics"].([]any) {
		m := m.(map[string]any)
		if m["metric"] == "rows_read" {
			stepsWithRowsRead[m["step_id"].(string)] = true
		}
	}
	if !stepsWithRowsRead["read-airports"] || !stepsWithRowsRead["count-per-state"] {
		t.Fatalf("rows_read metrics by step: %v", stepsWithRowsRead)
	}
	events := doc["events"].([]any)
	if first := events[0].(map[string]any)["event"]; first != "compile_start" {
		t.Fatalf("first event %v, want compile_start", first)
	}
	if last := events[len(events)-1].(map[string]any)["event"]; last != "run_end" {
		t.Fatalf("last event %v", last)
	}

	page, err := os.ReadFile(filepath.Join(jsonDoc(t, runCLI(t, dir, "", "logs", "last",
		"--json"))["session"].(map[string]any)["session_dir"].(string), "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "run-000001", "read-airports",
		"count-per-state", "write-report", "3 of 3 completed"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("http://")) {
		t.Error("report is not self-contained")
	}
}

func TestRunUsageAndFailures(t *testing.T) {
	dir := runProject(t)
	pipeline := filepath.Join(dir, "pipelines", "airports_per_state.yaml")

	for _, c := range []struct {
		name string
		args []string
		code int
		typ  string
	}{
		{"file and pointer", []string{"run", pipeline, "--last-compile"}, 2, "usage_error"},
		{"nothing to run", []string{"run"}, 2, "usage_error"},
		{"no compile yet", []string{"run", "--last-compile"}, 2, "no_manifest"},
		{"missing file", []string{"run", "nope.yaml"}, 2, "file_not_found"},
		{"bad target", []string{"run", pipeline, "--target", "mars"}, 2, "usage_error"},
	} {
		t.Setenv("OSIRIS_LAST_MANIFEST", "")
		r := runCLI(t, dir, "", append(c.args, "--json")...)
		doc := jsonDoc(t, r)
		if r.Code != c.code || doc["error_type"] != c.typ {
			t.Errorf("%s: exit %d type %v, want %d %s\n%s", c.name, r.Code, doc["error_type"],
				c.code, c.typ, r.Stdout)
		}
	}

	invalid := filepath.Join(dir, "pipelines", "invalid.yaml")
	_ = os.WriteFile(invalid, []byte("oml_version: \"0.1.0\"\nname: x\nsteps: []\n"), 0o644)
	r := runCLI(t, dir, "", "run", invalid, "--json")
	if doc := jsonDoc(t, r); r.Code != 2 || doc["phase"] != "compile" {
		t.Fatalf("invalid OML: %d %s", r.Code, r.Stdout)
	}

	// A ragged data file fails the extract step: exit 1, phase execute, line named.
	if err := os.WriteFile(filepath.Join(dir, "data", "airports.csv"),
		[]byte("iata,name,city,state,country,latitude,longitude\nA,B,C,TX,USA,1,2,3\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, dir, "", "run", pipeline, "--json")
	doc := jsonDoc(t, r)
	if r.Code != 1 || doc["phase"] != "execute" || doc["step_id"] != "read-airports" ||
		!strings.Contains(doc["message"].(string), "line 2") || doc["session_dir"] == nil {
		t.Fatalf("failing step: %d %s", r.Code, r.Stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "output", "airports_per_state.csv")); err == nil {
		t.Fatal("a failed run wrote its output")
	}

	// The sandbox side prints only JSON lines, the last one the outcome.
	r = runCLI(t, dir, "", "run", "--last-compile", "--events-stdout", "--run-id", "sbx-1",
		"--run-dir", filepath.Join(dir, "sandbox-run"))
	if r.Code != 1 {
		t.Fatalf("events-stdout exit %d", r.Code)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["type"] == nil {
			t.Fatalf("not a typed JSON line: %q", line)
		}
	}
	var last map[string]any
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last["type"] != "run_complete" || last["ok"] != false || last["exit_code"] != 1.0 ||
		last["run_id"] != "sbx-1" {
		t.Fatalf("last line %v", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "sandbox-run", "events.jsonl")); err != nil {
		t.Fatal("the given run dir was not used")
	}
}
