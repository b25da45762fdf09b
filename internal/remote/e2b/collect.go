package e2b

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/fsutil"
	"github.com/osirisgo/osiris/internal/remote"
)

// localPath says where a run-relative sandbox file lands in the local run directory. The
// sandbox's own records go under remote/, because the local events, metrics and status
// files are the ones rebuilt from the stream.
func (c *collector) localPath(rel string) string {
	if c.outputs[rel] && c.rc.Project != nil {
		return filepath.Join(c.rc.Project.Base, filepath.FromSlash(rel))
	}
	runDir := c.rc.RunDir
	switch rel {
	case "status.json":
		return filepath.Join(runDir, "remote", "sandbox_status.json")
	case "events.jsonl", "metrics.jsonl", "debug.log":
		return filepath.Join(runDir, "remote", rel)
	}
	return filepath.Join(runDir, filepath.FromSlash(rel))
}

// collector gathers one run's files and failures.
type collector struct {
	a        *Adapter
	rc       *remote.RunContext
	sb       *Sandbox
	failures []remote.ArtifactFailure
	arrived  map[string]bool
	// outputs are the writers' files, which go to the project, not the run directory.
	outputs map[string]bool
	files   int
	bytes   int64
}

// Collect packs the run directory in the sandbox, downloads and unpacks it, verifies
// every file against the packer's index and writes status.json. Each file that does not
// arrive is logged, recorded as e2b_artifact_download_failed and counted; the status then
// says the artifacts are incomplete.
func (a *Adapter) Collect(ctx context.Context, p *remote.PreparedRun, rc *remote.RunContext) (
	*remote.Collected, error) {
	a.remember(rc)
	start := time.Now()
	a.mu.Lock()
	sb := a.sandbox
	a.mu.Unlock()
	c := &collector{a: a, rc: rc, sb: sb, arrived: map[string]bool{}, outputs: map[string]bool{}}
	if a.bundle != nil {
		for _, o := range a.bundle.outputs {
			c.outputs[o] = true
		}
	}

	if sb != nil && a.cwd != "" && ctx.Err() == nil {
		rc.Records.Event("e2b_collect_start", map[string]any{"sandbox_id": sb.ID()})
		if err := c.gather(ctx, p); err != nil {
			msg := rc.Redactor.Redact(err.Error())
			rc.Logger.Warn("collecting the run's files failed", "error", msg)
			rc.Records.Event("e2b_collect_error", map[string]any{"sandbox_id": sb.ID(),
				"error": msg})
		}
		a.timings["collect_ms"] = time.Since(start).Milliseconds()
		rc.Records.Event("e2b_collect_complete", map[string]any{"sandbox_id": sb.ID(),
			"files": c.files, "bytes": c.bytes, "failed": len(c.failures),
			"duration_ms": a.timings["collect_ms"]})
	}

	rc.Records.Metric("artifacts_copy_ms", time.Since(start).Milliseconds(), "ms", "")
	rc.Records.Metric("artifacts_bytes_total", c.bytes, "bytes", "")
	rc.Records.Metric("artifacts_files_total", c.files, "files", "")
	rc.Records.Metric("artifacts_failed_total", len(c.failures), "files", "")

	status, ok := a.finalStatus(c, ctx.Err() != nil)
	collected := &remote.Collected{
		EventsPath: rc.Records.EventsPath(), MetricsPath: rc.Records.MetricsPath(),
		LogPath: filepath.Join(rc.RunDir, "osiris.log"), ArtifactsDir: filepath.Join(rc.RunDir,
			"artifacts"), Files: c.files, Bytes: c.bytes, Failures: c.failures,
		Status: status, OK: ok,
	}
	raw, _ := json.MarshalIndent(status, "", "  ")
	if err := fsutil.WriteFileAtomic(filepath.Join(rc.RunDir, "status.json"),
		append(raw, '\n'), 0o600); err != nil {
		return collected, &remote.Error{Phase: "collect", Msg: "cannot write status.json: " +
			err.Error(), Err: err}
	}
	return collected, nil
}

// gather gets the files home: through the packer's archive when it works, else one by
// one from its index, else one by one from a directory listing.
func (c *collector) gather(ctx context.Context, p *remote.PreparedRun) error {
	args := []string{"remote", "pack", "--max-mb", strconv.Itoa(c.a.opts.ArtifactMaxMB)}
	if c.a.opts.IncludeData {
		args = append(args, "--include-data")
	}
	for _, o := range c.a.bundle.outputs {
		args = append(args, "--include", o)
	}
	var stderr bytes.Buffer
	status, err := c.sb.Run(ctx, ProcessConfig{Cmd: c.a.cwd + "/osiris", Args: args,
		Cwd: c.a.cwd, Envs: c.a.settingsEnv()}, func(o Output, b []byte) {
		if o == Stderr && stderr.Len() < 4096 {
			stderr.Write(b)
		}
	})
	if err == nil && status.ExitCode != 0 {
		err = fmt.Errorf("exit code %d: %s", status.ExitCode, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		c.fallback("the packer failed in the sandbox: " + err.Error())
		return c.fromListing(ctx)
	}

	index, err := c.downloadIndex(ctx)
	if err != nil {
		c.fallback("the packer's index did not download: " + err.Error())
		return c.fromListing(ctx)
	}
	if err := c.fromArchive(ctx, index); err != nil {
		c.fallback("the archive did not download: " + err.Error())
		c.fromIndex(ctx, index)
	}
	return nil
}

// fallback says, in the log and the events, that the archive path was given up.
func (c *collector) fallback(reason string) {
	reason = c.rc.Redactor.Redact(reason)
	c.rc.Logger.Warn("downloading the run's files one by one", "reason", reason)
	c.rc.Records.Event("e2b_artifact_pack_fallback", map[string]any{"reason": reason})
}

func (c *collector) failed(f remote.ArtifactFailure) {
	f.Error = c.rc.Redactor.Redact(f.Error)
	c.failures = append(c.failures, f)
	c.rc.Logger.Warn("an artifact of the remote run did not arrive", "path", f.Path,
		"phase", f.Phase, "error", f.Error)
	fields := map[string]any{"path": f.Path, "phase": f.Phase, "error": f.Error}
	if f.StatusCode != 0 {
		fields["status_code"] = f.StatusCode
	}
	c.rc.Records.Event("e2b_artifact_download_failed", fields)
}

func (c *collector) downloadFailure(rel string, err error) remote.ArtifactFailure {
	f := remote.ArtifactFailure{Path: rel, Phase: "download", Error: err.Error()}
	var de *DownloadError
	if errors.As(err, &de) {
		f.StatusCode = de.StatusCode
		f.Error = de.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		f.Error = fmt.Sprintf("timed out after %s", c.a.opts.DownloadTimeout)
	}
	return f
}

func (c *collector) downloadIndex(ctx context.Context) (*remote.Index, error) {
	var buf bytes.Buffer
	dctx, cancel := context.WithTimeout(ctx, c.a.opts.DownloadTimeout)
	defer cancel()
	if _, err := c.sb.Download(dctx, c.a.cwd+"/"+remote.PackIndex, &buf); err != nil {
		return nil, err
	}
	var index remote.Index
	if err := json.Unmarshal(buf.Bytes(), &index); err != nil {
		return nil, fmt.Errorf("decode %s: %w", remote.PackIndex, err)
	}
	return &index, nil
}

// fromArchive downloads out.tgz to a temporary file and extracts it. An error means the
// archive itself did not arrive; failures of single entries are recorded and the rest
// of the archive is still used.
func (c *collector) fromArchive(ctx context.Context, index *remote.Index) error {
	tmp, err := os.CreateTemp(c.rc.RunDir, ".out-*.tgz.part")
	if err != nil {
		return err
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	dctx, cancel := context.WithTimeout(ctx, c.a.opts.DownloadTimeout)
	defer cancel()
	if _, err := c.sb.Download(dctx, c.a.cwd+"/"+remote.PackArchive, tmp); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("timed out after %s", c.a.opts.DownloadTimeout)
		}
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}

	index = c.safeIndex(index)
	c.missingOutputs(index)
	written, failures, err := remote.ExtractArchive(tmp, index, func(rel string) string {
		return c.localPath(rel)
	})
	for _, f := range written {
		c.arrivedFile(f.Path, f.Size)
	}
	if err != nil {
		// A broken archive after a complete download: take what is missing one by one.
		missing := &remote.Index{}
		for _, f := range index.Files {
			if !c.arrived[f.Path] {
				missing.Files = append(missing.Files, f)
			}
		}
		c.fallback("the archive is unreadable: " + err.Error())
		c.fromIndex(ctx, missing)
		return nil
	}
	for _, f := range failures {
		c.failed(remote.ArtifactFailure{Path: f.Path, Phase: f.Phase, Error: f.Err.Error()})
	}
	return nil
}

// missingOutputs records writer outputs the packer did not find, when the run itself
// succeeded: the user expects those files.
func (c *collector) missingOutputs(index *remote.Index) {
	if c.a.exec == nil || !c.a.exec.OK {
		return
	}
	for _, s := range index.Skipped {
		if c.outputs[s.Path] {
			c.failed(remote.ArtifactFailure{Path: s.Path, Phase: "list", Error: s.Reason})
		}
	}
}

// safeIndex drops index entries whose paths would leave the run directory, recording each.
func (c *collector) safeIndex(index *remote.Index) *remote.Index {
	safe := &remote.Index{Skipped: index.Skipped, TotalBytes: index.TotalBytes}
	for _, f := range index.Files {
		if _, err := remote.SafeRelPath(f.Path); err != nil {
			c.failed(remote.ArtifactFailure{Path: f.Path, Phase: "list", Error: err.Error()})
			continue
		}
		safe.Files = append(safe.Files, f)
	}
	return safe
}

func (c *collector) arrivedFile(rel string, size int64) {
	c.arrived[rel] = true
	c.files++
	c.bytes += size
}

// fromIndex downloads each listed file and checks it against its size and SHA-256.
func (c *collector) fromIndex(ctx context.Context, index *remote.Index) {
	for _, f := range c.safeIndex(index).Files {
		if ctx.Err() != nil {
			c.failed(remote.ArtifactFailure{Path: f.Path, Phase: "download",
				Error: "the run was interrupted"})
			continue
		}
		c.downloadOne(ctx, f)
	}
}

func (c *collector) downloadOne(ctx context.Context, f remote.IndexEntry) {
	pr, pw := io.Pipe()
	dctx, cancel := context.WithTimeout(ctx, c.a.opts.DownloadTimeout)
	defer cancel()
	go func() {
		_, err := c.sb.Download(dctx, c.a.cwd+"/"+f.Path, pw)
		pw.CloseWithError(err)
	}()
	err := remote.WriteVerified(c.localPath(f.Path), pr, f)
	_ = pr.CloseWithError(errors.New("done"))
	switch {
	case err == nil:
		c.arrivedFile(f.Path, f.Size)
	case errors.Is(err, remote.ErrMismatch):
		c.failed(remote.ArtifactFailure{Path: f.Path, Phase: "verify", Error: err.Error()})
	default:
		c.failed(c.downloadFailure(f.Path, err))
	}
}

// fromListing is the last resort when the packer did not run: list the run directory,
// apply the same filter and download what it keeps (sizes checked, no hashes).
func (c *collector) fromListing(ctx context.Context) error {
	entries, err := c.sb.ListDir(ctx, c.a.cwd, 16)
	if err != nil {
		c.failed(remote.ArtifactFailure{Path: ".", Phase: "list", Error: err.Error()})
		return nil
	}
	opts := remote.PackOptions{MaxBytes: int64(c.a.opts.ArtifactMaxMB) << 20,
		IncludeData: c.a.opts.IncludeData}
	index := &remote.Index{}
	for _, e := range entries {
		if e.Type != "file" || !strings.HasPrefix(e.Path, c.a.cwd+"/") {
			continue
		}
		rel := strings.TrimPrefix(e.Path, c.a.cwd+"/")
		if keep, _ := remote.Wanted(rel, e.Size, opts); keep || c.outputs[rel] {
			index.Files = append(index.Files, remote.IndexEntry{Path: path.Clean(rel),
				Size: e.Size})
		}
	}
	sort.Slice(index.Files, func(i, j int) bool { return index.Files[i].Path < index.Files[j].Path })
	c.fromIndex(ctx, index)
	return nil
}

// finalStatus merges the sandbox's status.json with what the host saw and applies the
// success rule: exit code 0, every step completed, status file and events file arrived.
func (a *Adapter) finalStatus(c *collector, interrupted bool) (map[string]any, bool) {
	rc := c.rc
	status := map[string]any{}
	statusArrived := false
	if raw, err := os.ReadFile(c.localPath("status.json")); err == nil &&
		c.arrived["status.json"] {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		statusArrived = dec.Decode(&status) == nil
	}

	exitCode, stepsCompleted, stepsTotal := -1, 0, 0
	if a.exec != nil {
		exitCode, stepsCompleted, stepsTotal = a.exec.ExitCode, a.exec.StepsCompleted,
			a.exec.StepsTotal
	}
	if statusArrived {
		if n, ok := intValue(status["steps_completed"]); ok {
			stepsCompleted = n
		}
		if n, ok := intValue(status["steps_total"]); ok {
			stepsTotal = n
		}
	}

	var reason string
	switch {
	case interrupted || (a.exec != nil && a.exec.Interrupted):
		reason = "interrupted"
	case a.exec == nil:
		reason = "the run did not start in the sandbox"
	case a.exec.Error != "" && exitCode == 0:
		reason = a.exec.Error
	case exitCode != 0:
		reason = fmt.Sprintf("the run exited with code %d", exitCode)
	case !statusArrived:
		reason = "status contract violation"
	case stepsTotal == 0 || stepsCompleted != stepsTotal:
		reason = fmt.Sprintf("%d of %d steps completed", stepsCompleted, stepsTotal)
	case status["ok"] == false:
		reason = "the sandbox run reported failure"
	case !c.arrived["events.jsonl"]:
		reason = "the events file did not arrive"
	}
	ok := reason == ""

	if !statusArrived {
		status = map[string]any{}
	}
	if !ok {
		if _, has := status["reason"]; !has || status["reason"] == "" || status["ok"] == true {
			status["reason"] = reason
		}
		if a.exec != nil {
			status["last_stderr"] = a.exec.LastStderr
		}
	}
	status["ok"] = ok
	status["exit_code"] = exitCode
	if !ok && exitCode == 0 {
		status["exit_code"] = 1
	}
	status["steps_completed"] = stepsCompleted
	status["steps_total"] = stepsTotal
	status["execution_type"] = "e2b"
	if c.sb != nil {
		status["sandbox_id"] = c.sb.ID()
	}
	failed := make([]remote.ArtifactFailure, len(c.failures))
	copy(failed, c.failures)
	status["artifacts_incomplete"] = len(c.failures) > 0
	status["artifacts_failed"] = failed
	status["artifacts_failed_total"] = len(c.failures)
	return rc.Redactor.RedactValue(status).(map[string]any), ok
}
