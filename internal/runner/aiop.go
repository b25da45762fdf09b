package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/naming"
)

// AIOPRecord is one line of aiop/index/runs.jsonl and by_pipeline/<hash>.jsonl.
type AIOPRecord struct {
	SessionID    string `json:"session_id"`
	PipelineSlug string `json:"pipeline_slug"`
	Profile      string `json:"profile"`
	ManifestHash string `json:"manifest_hash"`
	Status       string `json:"status"`
	StartedAt    string `json:"started_at"`
	EndedAt      string `json:"ended_at"`
	DurationMS   int64  `json:"duration_ms"`
	TotalRows    int64  `json:"total_rows"`
	ErrorsCount  int    `json:"errors_count"`
	CorePath     string `json:"core_path"`
}

// aiopSettings is the aiop section of osiris.yaml with OSIRIS_AIOP_* applied.
type aiopSettings struct {
	enabled      bool
	maxCoreBytes int
	density      string
	runCard      bool
}

func loadAIOPSettings(p *config.Project) aiopSettings {
	s := aiopSettings{enabled: true, maxCoreBytes: 300000, density: "medium", runCard: true}
	get := func(key string) (any, bool) {
		if env := os.Getenv("OSIRIS_AIOP_" + strings.ToUpper(key)); env != "" {
			return env, true
		}
		v, ok := p.File.AIOP[key]
		return v, ok
	}
	if v, ok := get("enabled"); ok {
		s.enabled = truthy(v)
	}
	if v, ok := get("max_core_bytes"); ok {
		if n, err := strconv.Atoi(fmt.Sprint(v)); err == nil && n > 0 {
			s.maxCoreBytes = n
		}
	}
	if v, ok := get("timeline_density"); ok {
		s.density = fmt.Sprint(v)
	}
	if v, ok := get("run_card"); ok {
		s.runCard = truthy(v)
	}
	return s
}

func truthy(v any) bool {
	switch t := v.(type) {
	case bool:
		return t
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(t))
		return err == nil && b
	}
	return false
}

// aiopDir is aiop/[<profile>/]<manifest_dir>/<aiop_run_dir>.
func (r *run) aiopDir() string {
	p := r.opts.Project
	n := p.File.Filesystem.Naming
	tokens := map[string]string{"pipeline_slug": r.slug, "profile": r.profile,
		"manifest_hash":  r.manifest.Meta.ManifestHash,
		"manifest_short": r.manifest.Meta.ManifestShort, "run_id": r.runID,
		"run_ts": naming.RunTimestamp(r.started, n.RunTSFormat)}
	base := p.AIOPDir()
	if p.ProfilesEnabled() && r.profile != "" {
		base = filepath.Join(base, r.profile)
	}
	runPart := naming.Render(n.AIOPRunDir, tokens)
	if runPart == "" {
		runPart = naming.Slugify(r.runID)
	}
	return filepath.Join(base, naming.Render(n.ManifestDir, tokens), runPart)
}

// exportAIOP writes summary.json, run-card.md and the AIOP index records. It returns
// the summary path, or "" when AIOP is disabled.
func (r *run) exportAIOP(res *Result) (string, error) {
	settings := loadAIOPSettings(r.opts.Project)
	if !settings.enabled {
		return "", nil
	}
	dir := r.aiopDir()
	summary := r.buildSummary(res, settings)
	path := filepath.Join(dir, "summary.json")
	if err := writeJSONFile(path, summary); err != nil {
		return "", err
	}
	if settings.runCard {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, "run-card.md"),
			[]byte(runCard(res, summary)), 0o644); err != nil {
			return path, err
		}
	}

	errorsCount := 0
	if ev, ok := summary["evidence"].(map[string]any); ok {
		if list, ok := ev["errors"].([]map[string]any); ok {
			errorsCount = len(list)
		}
	}
	rec := AIOPRecord{SessionID: r.runID, PipelineSlug: r.slug, Profile: r.profile,
		ManifestHash: res.ManifestHash, Status: res.Status, StartedAt: isoTime(r.started),
		EndedAt: isoTime(r.endedAt), DurationMS: res.Duration.Milliseconds(),
		TotalRows: res.TotalRows, ErrorsCount: errorsCount, CorePath: path}
	line, err := json.Marshal(rec)
	if err != nil {
		return path, err
	}
	indexDir := filepath.Join(r.opts.Project.AIOPDir(), "index")
	if err := appendSynced(filepath.Join(indexDir, "runs.jsonl"), line); err != nil {
		return path, err
	}
	if err := appendSynced(filepath.Join(indexDir, "by_pipeline", res.ManifestHash+".jsonl"),
		line); err != nil {
		return path, err
	}
	latest := filepath.Join(r.opts.Project.AIOPDir(), "latest")
	rel, err := filepath.Rel(r.opts.Project.AIOPDir(), dir)
	if err == nil {
		_ = os.Remove(latest)
		if os.Symlink(rel, latest) != nil {
			_ = fsutil.WriteFileAtomic(latest, []byte(rel+"\n"), 0o644)
		}
	}
	return path, nil
}

var idUnsafe = regexp.MustCompile(`[^a-z0-9_]`)

// timelineType classifies an event name for the AIOP timeline.
func timelineType(name string, step bool) string {
	switch {
	case strings.Contains(name, "error") || strings.Contains(name, "failed"):
		return "ERROR"
	case strings.HasSuffix(name, "start"):
		if step {
			return "STEP_START"
		}
		return "START"
	case strings.HasSuffix(name, "complete") || strings.HasSuffix(name, "end"):
		if step {
			return "STEP_COMPLETE"
		}
		return "COMPLETE"
	}
	return "EVENT"
}

func densityKeeps(density, typ string) bool {
	switch density {
	case "high":
		return true
	case "low":
		return typ != "METRICS" && typ != "EVENT"
	}
	return typ != "EVENT"
}

func (r *run) buildSummary(res *Result, s aiopSettings) map[string]any {
	events, metrics, dropped := r.rec.snapshot()

	var timeline []map[string]any
	var errorsList []map[string]any
	for _, ev := range events {
		stepID, _ := ev.Fields["step_id"].(string)
		typ := timelineType(ev.Name, stepID != "" && strings.HasPrefix(ev.Name, "step_"))
		if typ == "ERROR" {
			errorsList = append(errorsList, map[string]any{"ts": isoTime(ev.TS),
				"event": ev.Name, "step_id": stepID, "message": ev.Fields["error"],
				"error_code": ev.Fields["error_code"]})
		}
		if !densityKeeps(s.density, typ) {
			continue
		}
		owner := stepID
		if owner == "" {
			owner = "run"
		}
		id := fmt.Sprintf("ev.event.%s.%s.%d", idUnsafe.ReplaceAllString(ev.Name, "_"),
			idUnsafe.ReplaceAllString(strings.ToLower(owner), "_"), ev.TS.UnixMilli())
		timeline = append(timeline, map[string]any{"@id": id, "ts": isoTime(ev.TS),
			"type": typ, "step_id": stepID, "data": ev.Fields})
	}
	if densityKeeps(s.density, "METRICS") {
		for _, m := range metrics {
			if m.StepID == "" {
				continue
			}
			id := fmt.Sprintf("ev.metric.%s.%s.%d", idUnsafe.ReplaceAllString(m.Name, "_"),
				idUnsafe.ReplaceAllString(strings.ToLower(m.StepID), "_"), m.TS.UnixMilli())
			timeline = append(timeline, map[string]any{"@id": id, "ts": isoTime(m.TS),
				"type": "METRICS", "step_id": m.StepID,
				"data": map[string]any{"metric": m.Name, "value": m.Value, "unit": m.Unit}})
		}
	}
	if errorsList == nil {
		errorsList = []map[string]any{}
	}

	stepMetrics := map[string]any{}
	var artifacts []string
	nodes := []string{}
	edges := []map[string]any{}
	components := map[string]any{}
	for _, sr := range res.Steps {
		stepMetrics[sr.ID] = map[string]any{"status": sr.Status, "rows": sr.Rows,
			"rows_read": sr.RowsRead, "rows_written": sr.RowsWritten,
			"duration_ms": sr.DurationMS}
		artifacts = append(artifacts, filepath.Join(r.runDir, "artifacts", sr.ID,
			"cleaned_config.json"))
	}
	for _, st := range r.steps {
		nodes = append(nodes, st.ID)
		for _, need := range st.Needs {
			edges = append(edges, map[string]any{"from": need, "to": st.ID,
				"relation": "produces"})
		}
		c, _ := components[st.Component].(map[string]any)
		if c == nil {
			c = map[string]any{"steps": []string{}}
		}
		c["steps"] = append(c["steps"].([]string), st.ID)
		components[st.Component] = c
	}

	summary := map[string]any{
		"@context": "https://osiris.io/schemas/aiop/v1",
		"@id":      "osiris://pipeline/@" + res.ManifestHash,
		"run": map[string]any{"session_id": r.runID, "status": res.Status,
			"started_at": isoTime(r.started), "completed_at": isoTime(r.endedAt),
			"duration_ms": res.Duration.Milliseconds(), "total_rows": res.TotalRows,
			"environment": "local", "profile": r.profile},
		"pipeline": map[string]any{"name": r.slug, "manifest_hash": res.ManifestHash,
			"manifest_short": res.ManifestShort},
		"evidence": map[string]any{"timeline": timeline,
			"metrics": map[string]any{"total_rows": res.TotalRows,
				"total_duration_ms": res.Duration.Milliseconds(), "steps": stepMetrics},
			"errors": errorsList, "artifacts": artifacts},
		"semantic": map[string]any{"@type": "SemanticLayer",
			"oml_version": r.manifest.Meta.OMLVersion, "components": components,
			"dag": map[string]any{"nodes": nodes, "edges": edges,
				"counts": map[string]any{"nodes": len(nodes), "edges": len(edges)}}},
		"narrative": r.narrative(res),
		"metadata": map[string]any{"aiop_format": "1.0", "truncated": false,
			"dropped_events": dropped, "delta": r.delta(res),
			"config_effective": map[string]any{"max_core_bytes": s.maxCoreBytes,
				"timeline_density": s.density}},
		"controls": map[string]any{"examples": []map[string]any{
			{"title": "Show this run", "command": "osiris runs show " + r.runID},
			{"title": "Read its events", "command": "osiris logs show " + r.runID + " --events"},
			{"title": "Open the HTML report", "command": "osiris logs html " + r.runID},
			{"title": "Run it again", "command": "osiris run --last-compile-in " + r.slug},
		}},
	}
	truncate(summary, s.maxCoreBytes)
	return summary
}

// truncate keeps the summary under maxBytes: first and last K timeline items with K
// falling from 100 to 5 as needed, then at most 10 step metrics.
func truncate(summary map[string]any, maxBytes int) {
	size := func() int {
		raw, _ := json.Marshal(summary)
		return len(raw)
	}
	meta := summary["metadata"].(map[string]any)
	evidence := summary["evidence"].(map[string]any)
	timeline, _ := evidence["timeline"].([]map[string]any)
	n := size()
	if n <= maxBytes {
		meta["size_bytes"] = n
		return
	}
	meta["truncated"] = true
	for _, k := range []int{100, 50, 20, 10, 5} {
		if len(timeline) > 2*k {
			kept := append(append([]map[string]any{}, timeline[:k]...),
				timeline[len(timeline)-k:]...)
			evidence["timeline"] = kept
			meta["dropped_timeline_items"] = len(timeline) - 2*k
		}
		if size() <= maxBytes {
			break
		}
	}
	if size() > maxBytes {
		steps := evidence["metrics"].(map[string]any)["steps"].(map[string]any)
		i := 0
		for k := range steps {
			if i >= 10 {
				delete(steps, k)
			}
			i++
		}
	}
	meta["size_bytes"] = size()
}

func (r *run) narrative(res *Result) map[string]any {
	intent, _ := r.manifest.Metadata["intent"].(string)
	var paragraphs []string
	paragraphs = append(paragraphs, fmt.Sprintf("Pipeline %s ran %d of %d steps in %.2f s "+
		"and ended %s.", r.slug, res.StepsCompleted, res.StepsTotal, res.Duration.Seconds(),
		res.Status))
	if intent != "" {
		paragraphs = append(paragraphs, "Its stated intent: "+intent+".")
	}
	var flow []string
	for _, sr := range res.Steps {
		flow = append(flow, fmt.Sprintf("%s (%s, %d rows, %s)", sr.ID, sr.Component, sr.Rows,
			sr.Status))
	}
	paragraphs = append(paragraphs, "Steps: "+strings.Join(flow, "; ")+".")
	paragraphs = append(paragraphs, fmt.Sprintf("Total rows: %d.", res.TotalRows))
	if res.Err != nil {
		paragraphs = append(paragraphs, fmt.Sprintf("It failed at step %s (%s): %s",
			res.Err.Step, res.Err.Code, r.redactor.Redact(res.Err.Msg)))
	}
	if len(paragraphs) > 5 {
		paragraphs = paragraphs[:5]
	}
	return map[string]any{"narrative": strings.Join(paragraphs, " "),
		"paragraphs": paragraphs, "intent_known": intent != "", "intent": intent}
}

// delta compares with the newest earlier run of the same manifest.
func (r *run) delta(res *Result) map[string]any {
	path := filepath.Join(r.opts.Project.AIOPDir(), "index", "by_pipeline",
		res.ManifestHash+".jsonl")
	raw, err := os.ReadFile(path)
	if err != nil {
		return map[string]any{"first_run": true}
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var prev AIOPRecord
		if json.Unmarshal([]byte(lines[i]), &prev) != nil || prev.SessionID == r.runID {
			continue
		}
		change := func(previous, current int64) map[string]any {
			out := map[string]any{"previous": previous, "current": current,
				"change": current - previous}
			if previous != 0 {
				out["change_percent"] = round2(float64(current-previous) * 100 /
					float64(previous))
			}
			return out
		}
		errorsNow := 0
		if res.Err != nil {
			errorsNow = 1
		}
		return map[string]any{"first_run": false,
			"rows":         change(prev.TotalRows, res.TotalRows),
			"duration_ms":  change(prev.DurationMS, res.Duration.Milliseconds()),
			"errors_count": map[string]any{"previous": prev.ErrorsCount, "current": errorsNow},
			"previous_run": prev.SessionID}
	}
	return map[string]any{"first_run": true}
}

func runCard(res *Result, summary map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Run %s\n\n", res.RunID)
	fmt.Fprintf(&b, "- Pipeline: %s\n- Status: %s\n- Duration: %.2f s\n- Total rows: %d\n\n",
		res.PipelineSlug, res.Status, res.Duration.Seconds(), res.TotalRows)
	b.WriteString("| step | driver | status | rows | ms |\n|---|---|---|---|---|\n")
	for _, sr := range res.Steps {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d |\n", sr.ID, sr.Component, sr.Status, sr.Rows,
			sr.DurationMS)
	}
	if n, ok := summary["narrative"].(map[string]any); ok {
		fmt.Fprintf(&b, "\n%s\n", n["narrative"])
	}
	return b.String()
}

// ReadAIOPRecords returns the AIOP index, newest first.
func ReadAIOPRecords(p *config.Project) ([]AIOPRecord, error) {
	raw, err := os.ReadFile(filepath.Join(p.AIOPDir(), "index", "runs.jsonl"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []AIOPRecord
	for _, line := range strings.Split(string(raw), "\n") {
		var rec AIOPRecord
		if json.Unmarshal([]byte(line), &rec) == nil && rec.SessionID != "" {
			out = append(out, rec)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
