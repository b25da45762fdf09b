// Package compile turns an OML document into a deterministic build: manifest.yaml,
// cfg/<step>.json, plan.json, fingerprints.json and run_summary.json, plus the pointers
// and the compile cache that let `osiris run` find the newest build. The same inputs give
// byte-identical artifacts, so a manifest hash names exactly one pipeline.
package compile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/osirisgo/osiris/internal/config"
	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/naming"
	"github.com/osirisgo/osiris/internal/oml"
	"github.com/osirisgo/osiris/internal/registry"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Toolchain names written into every manifest; compilerName also seeds compiler_fp, so
// changing it invalidates every cached build.
const (
	compilerName = "osiris-compiler/0.1"
	registryName = "osiris-registry/0.1"
)

// Compile modes.
const (
	ModeAuto  = "auto"  // use a cached build when the inputs match
	ModeForce = "force" // always build
	ModeNever = "never" // only use a cached build; fail when there is none
)

// Options says what to compile and how.
type Options struct {
	Project  *config.Project
	Registry *registry.Registry
	File     string // OML path, for messages; read when Source is nil
	Source   []byte
	Profile  string            // from the flag; "" = project.ResolveProfile("")
	Params   map[string]string // --param k=v
	Mode     string            // auto (default) | force | never
}

// Result describes the build that answers the compile, new or cached.
type Result struct {
	ManifestPath, ManifestDir, ManifestHash, ManifestShort, PipelineSlug, Profile string
	CacheHit                                                                      bool
	Warnings                                                                      []oml.Issue
}

// Error is a compile failure that is the user's to fix (exit code 2). Type is
// secret_inline_forbidden, unresolved_param, invalid_param, file_not_found or
// compilation_error. Msg never holds a secret value.
type Error struct {
	Type   string
	Msg    string
	Issues []oml.Issue
}

func (e *Error) Error() string { return e.Msg }

// compiled is everything the compile decided before it writes anything.
type compiled struct {
	slug, profile string
	doc           *oml.Document
	steps         []oml.Step
	params        map[string]any
	cfgs          map[string]map[string]any
	fingerprints  map[string]string
	cacheKey      string
	warnings      []oml.Issue
}

// Compile validates, resolves and builds one pipeline. It writes nothing unless every
// check passed: invalid input leaves no build directory, pointer or cache entry.
func Compile(ctx context.Context, opts Options) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Project == nil || opts.Registry == nil {
		return nil, errors.New("compile: project and registry are required")
	}
	mode := opts.Mode
	if mode == "" {
		mode = ModeAuto
	}
	if mode != ModeAuto && mode != ModeForce && mode != ModeNever {
		return nil, &Error{Type: "usage_error",
			Msg: fmt.Sprintf("--compile must be auto, force or never, got %q", mode)}
	}

	c, err := prepare(opts)
	if err != nil {
		return nil, err
	}

	if mode != ModeForce {
		if res, ok := lookupCache(opts.Project, c); ok {
			res.Warnings = c.warnings
			if err := writePointers(opts.Project, c.slug, res); err != nil {
				return nil, err
			}
			return res, nil
		}
		if mode == ModeNever {
			return nil, &Error{Type: "compilation_error", Msg: fmt.Sprintf(
				"%s: no cached build matches these inputs and --compile never forbids building",
				fileName(opts.File))}
		}
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := build(opts, c)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func fileName(file string) string {
	if file == "" || file == "-" {
		return "<stdin>"
	}
	return file
}

// prepare runs every check and computes the cfgs and fingerprints; it writes nothing.
func prepare(opts Options) (*compiled, error) {
	src := opts.Source
	if src == nil {
		raw, err := os.ReadFile(opts.File)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, &Error{Type: "file_not_found",
					Msg: fmt.Sprintf("%s: no such file", opts.File)}
			}
			return nil, fmt.Errorf("read %s: %w", opts.File, err)
		}
		src = raw
	}
	file := fileName(opts.File)

	doc, err := oml.Parse(file, src)
	if err != nil {
		return nil, err
	}
	issues := oml.Validate(doc, opts.Registry)
	if err := rejectInvalid(file, doc, issues); err != nil {
		return nil, err
	}
	warnings := oml.Warnings(issues)

	profile, err := opts.Project.ResolveProfile(opts.Profile)
	if err != nil {
		return nil, err
	}
	params, paramWarnings, err := effectiveParams(doc, profile, opts.Params)
	if err != nil {
		return nil, err
	}
	warnings = append(warnings, paramWarnings...)

	resolved, missing := doc.WithParams(params)
	if len(missing) > 0 {
		issues := paramUses(doc, missing)
		where := file
		if len(issues) > 0 {
			where = fmt.Sprintf("%s:%d:%d", file, issues[0].Line, issues[0].Column)
		}
		return nil, &Error{Type: "unresolved_param", Issues: issues, Msg: fmt.Sprintf(
			"%s: unresolved params: %s (declare a default, a profile value, "+
				"OSIRIS_PARAM_<NAME> or --param name=value)", where, strings.Join(missing, ", "))}
	}
	resolvedIssues := oml.Validate(resolved, opts.Registry)
	if err := rejectInvalid(file, resolved, resolvedIssues); err != nil {
		return nil, err
	}
	warnings = mergeWarnings(warnings, oml.Warnings(resolvedIssues))

	c := &compiled{
		slug: naming.Slugify(resolved.Name()), profile: profile, doc: resolved,
		steps: resolved.Steps(), params: params, cfgs: map[string]map[string]any{},
	}
	if c.slug == "" {
		return nil, &Error{Type: "compilation_error", Msg: fmt.Sprintf(
			"%s: name %q gives an empty slug; use letters or digits", file, resolved.Name())}
	}
	for _, s := range c.steps {
		if _, ok := drivers.Lookup(s.Component); !ok {
			is := resolved.IssueAt(oml.SeverityError, "compilation_error", fmt.Sprintf(
				"component %s has no driver in this build of osiris", s.Component),
				"steps", s.Index, "component")
			return nil, &Error{Type: "compilation_error", Msg: issueText(file, is),
				Issues: []oml.Issue{is}}
		}
		spec, _ := opts.Registry.Get(s.Component)
		cfg, cfgWarnings := stepConfig(resolved, s, spec)
		c.cfgs[s.ID] = cfg
		c.warnings = append(c.warnings, cfgWarnings...)
	}
	c.warnings = append(warnings, c.warnings...)

	if err := c.fingerprint(opts.Registry); err != nil {
		return nil, err
	}
	return c, nil
}

// rejectInvalid turns validation errors into the compile's failure: an inline secret is
// secret_inline_forbidden, an unknown component is compilation_error, others are a
// *oml.ValidationError.
func rejectInvalid(file string, doc *oml.Document, issues []oml.Issue) error {
	for _, is := range issues {
		if is.Type == "inline_secret" && is.IsError() {
			return &Error{Type: "secret_inline_forbidden",
				Msg: fmt.Sprintf("%s:%d:%d: Inline secret at %s", file, is.Line, is.Column,
					is.Location),
				Issues: oml.Errors(issues)}
		}
	}
	if oml.HasErrors(issues) {
		return &oml.ValidationError{File: file, Issues: issues}
	}
	for _, is := range issues {
		if is.Type == "unknown_component" {
			is.Severity = oml.SeverityError
			return &Error{Type: "compilation_error", Msg: issueText(file, is),
				Issues: []oml.Issue{is}}
		}
	}
	return nil
}

func issueText(file string, is oml.Issue) string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", file, is.Line, is.Column, is.Location, is.Message)
}

func mergeWarnings(first, second []oml.Issue) []oml.Issue {
	seen := map[string]bool{}
	for _, w := range first {
		seen[w.Type+"|"+w.Location] = true
	}
	for _, w := range second {
		if !seen[w.Type+"|"+w.Location] {
			first = append(first, w)
		}
	}
	return first
}

// stepConfig is cfg/<id>.json: the runtime mode, the component, the step's config
// without secrets, and the component's defaults for keys the step left out. Defaults of
// fields a connection supplies are not injected, so they cannot shadow the connection.
func stepConfig(doc *oml.Document, s oml.Step, spec *registry.Spec) (map[string]any,
	[]oml.Issue) {
	var warnings []oml.Issue
	secretFields := map[string]bool{}
	for _, f := range spec.SecretFields() {
		secretFields[f] = true
	}
	for _, p := range spec.Secrets {
		first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		secretFields[first] = true
	}

	cfg := map[string]any{}
	for _, key := range sortedKeys(s.Config) {
		value := s.Config[key]
		switch {
		case key == "connection":
			cfg[key] = value
		case oml.IsSecretName(key):
			warnings = append(warnings, doc.IssueAt(oml.SeverityWarning, "secret_field_dropped",
				fmt.Sprintf("step %q: %s is left out of the build; it comes from the "+
					"connection or the environment at run time", s.ID, key),
				"steps", s.Index, "config", key))
		case secretFields[key]:
			kept, dropped := dropSecretEntries(value)
			if kept != nil {
				cfg[key] = kept
			}
			for _, name := range dropped {
				warnings = append(warnings, doc.IssueAt(oml.SeverityWarning,
					"secret_field_dropped", fmt.Sprintf(
						"step %q: %s.%s is left out of the build; it comes from the "+
							"connection at run time", s.ID, key, name),
					"steps", s.Index, "config", key, name))
			}
		default:
			cfg[key] = value
		}
	}

	if _, hasWriteMode := spec.Properties()["write_mode"]; hasWriteMode {
		if alias, ok := cfg["mode"]; ok {
			if _, set := cfg["write_mode"]; !set {
				cfg["write_mode"] = alias
			}
			delete(cfg, "mode")
			warnings = append(warnings, doc.IssueAt(oml.SeverityWarning, "deprecated_key",
				fmt.Sprintf("step %q: config.mode is a deprecated alias; use write_mode", s.ID),
				"steps", s.Index, "config", "mode"))
		}
	}

	for key, def := range spec.Defaults() {
		if _, set := cfg[key]; set || key == "mode" || secretFields[key] {
			continue
		}
		if _, fromConnection := spec.ConnectionField(key); fromConnection {
			continue
		}
		cfg[key] = typedDefault(spec, key, def)
	}
	cfg["component"] = s.Component
	cfg["mode"] = oml.RuntimeModes[s.Mode]
	return cfg, warnings
}

// typedDefault restores integers in a spec default: the registry reads specs through
// JSON, which turns 10000 into 10000.0. A property declared "number" keeps its float.
func typedDefault(spec *registry.Spec, key string, def any) any {
	prop, _ := spec.Properties()[key].(map[string]any)
	if prop["type"] == "number" {
		return def
	}
	return integralToInt(def)
}

func integralToInt(v any) any {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
	case []any:
		out := make([]any, len(t))
		for i, item := range t {
			out[i] = integralToInt(item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, item := range t {
			out[k] = integralToInt(item)
		}
		return out
	}
	return v
}

// dropSecretEntries keeps the non-secret entries of a map-valued secret field (HTTP
// headers: keep Accept, drop Authorization) and drops any other value whole.
func dropSecretEntries(value any) (kept any, dropped []string) {
	m, ok := value.(map[string]any)
	if !ok {
		return nil, []string{}
	}
	out := map[string]any{}
	for _, k := range sortedKeys(m) {
		if secrets.IsSecretHeader(k) {
			dropped = append(dropped, k)
			continue
		}
		out[k] = m[k]
	}
	return out, dropped
}

// fingerprint fills the fingerprints and the cache key.
func (c *compiled) fingerprint(reg *registry.Registry) error {
	omlFP, err := fingerprintOf(c.doc.Value)
	if err != nil {
		return fmt.Errorf("fingerprint OML: %w", err)
	}
	used := map[string]any{}
	for _, s := range c.steps {
		spec, _ := reg.Get(s.Component)
		used[s.Component] = spec.Raw
	}
	registryFP, err := fingerprintOf(used)
	if err != nil {
		return fmt.Errorf("fingerprint registry: %w", err)
	}
	paramsFP, err := fingerprintOf(c.params)
	if err != nil {
		return fmt.Errorf("fingerprint params: %w", err)
	}
	c.fingerprints = map[string]string{
		"oml_fp":      omlFP,
		"registry_fp": registryFP,
		"compiler_fp": "sha256:" + sha256Hex([]byte(compilerName)),
		"params_fp":   paramsFP,
		"profile":     c.profile,
	}
	parts := []string{omlFP, registryFP, c.fingerprints["compiler_fp"], paramsFP, c.profile,
		binaryIdentity()}
	sort.Strings(parts)
	c.cacheKey = sha256Hex([]byte(strings.Join(parts, "\n")))
	return nil
}

var (
	binaryOnce sync.Once
	binaryID   string
)

// binaryIdentity names the running osiris build (its executable's size and modification
// time). It is part of the compile cache key, but not of any fingerprint, so a new or
// rebuilt binary never reuses a build an older compiler wrote, while manifests and their
// hashes stay the same across builds.
func binaryIdentity() string {
	binaryOnce.Do(func() {
		binaryID = "binary:unknown"
		exe, err := os.Executable()
		if err != nil {
			return
		}
		info, err := os.Stat(exe)
		if err != nil {
			return
		}
		binaryID = fmt.Sprintf("binary:%d:%d", info.Size(), info.ModTime().UnixNano())
	})
	return binaryID
}

func fingerprintOf(v any) (string, error) {
	raw, err := CanonicalJSON(v)
	if err != nil {
		return "", err
	}
	return "sha256:" + sha256Hex(raw), nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// manifestDocument builds manifest.yaml as plain values, without manifest_hash,
// manifest_short and manifest_fp: the form both manifest_fp and manifest_hash hash.
func (c *compiled) manifestDocument() (map[string]any, error) {
	m := manifest.Manifest{
		Meta: manifest.Meta{
			OMLVersion: oml.Version, Profile: c.profile, RunID: "${run_id}",
			Toolchain: manifest.Toolchain{Compiler: compilerName, Registry: registryName},
		},
		Name: c.doc.Name(),
		Pipeline: manifest.Pipeline{
			ID: c.slug, Version: oml.Version, Fingerprints: c.fingerprints,
		},
	}
	if v, ok := c.doc.Map()["oml_version"].(string); ok {
		m.Meta.OMLVersion = v
	}
	if md, ok := c.doc.Map()["metadata"].(map[string]any); ok && len(md) > 0 {
		m.Metadata = md
	}
	for _, s := range c.steps {
		m.Steps = append(m.Steps, manifest.Step{
			ID: s.ID, Component: s.Component, Driver: s.Component,
			CfgPath: "cfg/" + s.ID + ".json", Needs: append([]string{}, s.Needs...),
		})
	}
	plainValue, err := toPlain(m)
	if err != nil {
		return nil, err
	}
	plain := plainValue.(map[string]any)
	meta := plain["meta"].(map[string]any)
	delete(meta, "manifest_hash")
	delete(meta, "manifest_short")
	return plain, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// buildDir is build/pipelines/[<profile>/].
func buildDir(p *config.Project, profile string) string {
	dir := filepath.Join(p.BuildDir(), "pipelines")
	if p.ProfilesEnabled() && profile != "" {
		dir = filepath.Join(dir, naming.Slugify(profile))
	}
	return dir
}

// paramUses finds every value that uses an unresolved param, so the error names the
// field, line and column of each ${params.NAME}.
func paramUses(doc *oml.Document, names []string) []oml.Issue {
	var issues []oml.Issue
	var walk func(v any, segments []any)
	walk = func(v any, segments []any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k], append(append([]any(nil), segments...), k))
			}
		case []any:
			for i, item := range t {
				walk(item, append(append([]any(nil), segments...), i))
			}
		case string:
			for _, name := range names {
				if strings.Contains(t, "${params."+name+"}") {
					issues = append(issues, doc.IssueAt(oml.SeverityError, "unresolved_param",
						"unresolved param '"+name+"'", segments...))
				}
			}
		}
	}
	walk(doc.Map(), nil)
	sort.SliceStable(issues, func(i, j int) bool { return issues[i].Line < issues[j].Line })
	return issues
}
