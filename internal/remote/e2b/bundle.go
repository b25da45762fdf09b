package e2b

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/osirisgo/osiris/internal/connections"
	"github.com/osirisgo/osiris/internal/manifest"
	"github.com/osirisgo/osiris/internal/remote"
	"github.com/osirisgo/osiris/internal/secrets"
)

// manifestDirInBundle holds manifest.yaml and cfg/ in the sandbox. It is not the run
// directory itself, so the run's own copies of them never overwrite their sources.
const manifestDirInBundle = "bundle"

// secretEnvPrefix names the variables that carry literal secrets of the connections file
// into the sandbox process, so that the file sent along holds only placeholders.
const secretEnvPrefix = "OSIRIS_E2B_SECRET_"

// bundle is everything the sandbox needs besides the binary.
type bundle struct {
	archive     []byte
	files       []string
	refs        []string
	requiredEnv []string
	// inputs are project files the CSV extractors read, sent along; outputs are the
	// files the CSV writers write, brought back. Both are base-relative slash paths.
	inputs  []string
	outputs []string
	// warnings are told to the user before the run (paths the sandbox cannot see).
	warnings []string
	// env is the secret environment of the run process: name → value.
	env map[string]secrets.Secret
}

// buildBundle reads the compiled manifest and its step configs, checks they hold no
// secret, and writes the part of the connections file they use with every secret value
// replaced by a ${VAR} placeholder.
func buildBundle(m *manifest.Manifest, manifestDir, basePath, connectionsFile string,
	getenv func(string) string) (*bundle, error) {
	b := &bundle{env: map[string]secrets.Secret{}}
	files := map[string][]byte{}

	raw, err := os.ReadFile(filepath.Join(manifestDir, "manifest.yaml"))
	if err != nil {
		return nil, prepareError("read the compiled manifest", err)
	}
	files[manifestDirInBundle+"/manifest.yaml"] = raw

	refs := map[string]bool{}
	for _, step := range m.Steps {
		rel, err := remote.SafeRelPath(filepath.ToSlash(step.CfgPath))
		if err != nil {
			return nil, &remote.Error{Phase: "prepare", Usage: true, Err: err,
				Msg: fmt.Sprintf("step %s: cfg_path %q must stay inside the manifest directory",
					step.ID, step.CfgPath)}
		}
		cfgRaw, err := os.ReadFile(filepath.Join(manifestDir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, prepareError("read the config of step "+step.ID, err)
		}
		cfg, err := manifest.StepConfig(manifestDir, step)
		if err != nil {
			return nil, prepareError("parse the config of step "+step.ID, err)
		}
		if field := secretField(cfg, ""); field != "" {
			return nil, &remote.Error{Phase: "prepare", Usage: true, Msg: fmt.Sprintf(
				"step %s: field %s holds a secret; remote runs take secrets only from "+
					"connections", step.ID, field)}
		}
		if ref, ok := cfg["connection"].(string); ok && ref != "" {
			refs[ref] = true
		}
		files[manifestDirInBundle+"/"+rel] = cfgRaw
		if err := b.projectFiles(step, cfg, basePath, files); err != nil {
			return nil, err
		}
	}
	for ref := range refs {
		b.refs = append(b.refs, ref)
	}
	sort.Strings(b.refs)

	conns, err := connectionsSubset(b, connectionsFile, getenv)
	if err != nil {
		return nil, err
	}
	files["osiris_connections.yaml"] = conns
	files["osiris.yaml"] = []byte("version: \"2.0\"\n")

	b.archive, b.files, err = tarGz(files)
	if err != nil {
		return nil, prepareError("build the bundle", err)
	}
	return b, nil
}

// connectionsSubset writes the referenced aliases. Placeholders stay as they are and
// their variables become required environment; literal secret values are moved into
// generated variables.
// Limitation: inputs outside the project (absolute paths, base_dir) are not sent, and
// the bundle is built in memory, so at most maxInputBytes of inputs travel.
//
// maxInputBytes bounds the local input files sent in the bundle, which is held in memory.
const maxInputBytes = 64 << 20

// projectFiles looks at the file paths of CSV steps. A relative input path is a project
// file that has to travel with the bundle; a relative output path is a file to bring
// back. Absolute paths and paths under a base_dir are left to the sandbox, with a warning.
func (b *bundle) projectFiles(step manifest.Step, cfg map[string]any, basePath string,
	files map[string][]byte) error {
	p, _ := cfg["path"].(string)
	isInput := step.Component == "filesystem.csv_extractor"
	isOutput := step.Component == "filesystem.csv_writer"
	if p == "" || (!isInput && !isOutput) {
		return nil
	}
	_, hasBaseDir := cfg["base_dir"]
	rel, err := remote.SafeRelPath(filepath.ToSlash(filepath.Clean(p)))
	if err != nil || hasBaseDir || filepath.IsAbs(p) {
		b.warnings = append(b.warnings, fmt.Sprintf("step %s uses the path %s, which is "+
			"not inside the project; it must exist in the sandbox", step.ID, p))
		return nil
	}
	if isOutput {
		b.outputs = append(b.outputs, rel)
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(basePath, filepath.FromSlash(rel)))
	if err != nil {
		return &remote.Error{Phase: "prepare", Usage: true, Err: err, Msg: fmt.Sprintf(
			"step %s reads %s, which cannot be read: %v", step.ID, rel, errors.Unwrap(err))}
	}
	total := len(raw)
	for _, in := range b.inputs {
		total += len(files[in])
	}
	if total > maxInputBytes {
		return &remote.Error{Phase: "prepare", Usage: true, Msg: fmt.Sprintf(
			"the input files of this pipeline pass %d MB; remote runs send at most that "+
				"much (put larger inputs where the sandbox can read them)", maxInputBytes>>20)}
	}
	if _, dup := files[rel]; !dup {
		b.inputs = append(b.inputs, rel)
	}
	files[rel] = raw
	return nil
}

func connectionsSubset(b *bundle, connectionsFile string, getenv func(string) string) (
	[]byte, error) {
	out := map[string]map[string]any{}
	if len(b.refs) > 0 {
		file, err := connections.Load(connectionsFile)
		if err != nil {
			return nil, &remote.Error{Phase: "prepare", Usage: true, Msg: err.Error(), Err: err}
		}
		for _, ref := range b.refs {
			family, alias, err := splitRef(ref)
			if err != nil {
				return nil, &remote.Error{Phase: "prepare", Usage: true, Msg: err.Error(), Err: err}
			}
			found, err := file.Find(family, alias)
			if err != nil {
				return nil, &remote.Error{Phase: "prepare", Usage: true, Msg: err.Error(), Err: err}
			}
			body := moveSecrets(b, found.Raw, false)
			if alias == "" {
				body["default"] = true
			}
			if out[family] == nil {
				out[family] = map[string]any{}
			}
			out[family][found.Name] = body
		}
	}

	var missing []string
	for name := range connections.EnvVars(anyMap(out)) {
		if strings.HasPrefix(name, secretEnvPrefix) {
			continue
		}
		b.requiredEnv = append(b.requiredEnv, name)
		value := getenv(name)
		if value == "" {
			missing = append(missing, name)
			continue
		}
		b.env[name] = secrets.Secret(value)
	}
	sort.Strings(b.requiredEnv)
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, &remote.Error{Phase: "prepare", Usage: true, Msg: fmt.Sprintf(
			"environment variables not set for the connections this pipeline uses: %s",
			strings.Join(missing, ", "))}
	}
	raw, err := yaml.Marshal(map[string]any{"connections": out})
	if err != nil {
		return nil, prepareError("write the connections file", err)
	}
	return raw, nil
}

// moveSecrets copies an alias body, replacing each literal secret value by a generated
// placeholder whose value goes into the process environment.
// Every value of a "headers" map counts as secret, as it does for masking.
func moveSecrets(b *bundle, body map[string]any, allSecret bool) map[string]any {
	out := make(map[string]any, len(body))
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := body[k].(type) {
		case map[string]any:
			out[k] = moveSecrets(b, v, allSecret || strings.EqualFold(k, "headers"))
		case string:
			if (allSecret || secrets.IsSecretKey(k)) && v != "" && !strings.Contains(v, "${") {
				name := fmt.Sprintf("%s%d", secretEnvPrefix, len(b.env)+1)
				b.env[name] = secrets.Secret(v)
				out[k] = "${" + name + "}"
				continue
			}
			out[k] = v
		default:
			out[k] = v
		}
	}
	return out
}

func splitRef(ref string) (family, alias string, err error) {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "@") && !strings.Contains(ref, ".") && len(ref) > 1 {
		return ref[1:], "", nil
	}
	return connections.ParseReference(ref)
}

func anyMap(m map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// secretField returns the path of the first secret-named field with a literal value.
func secretField(v any, path string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := k
		if path != "" {
			p = path + "." + k
		}
		if s, ok := m[k].(string); ok && secrets.IsSecretKey(k) && s != "" &&
			!strings.HasPrefix(s, "${") && s != secrets.Masked {
			return p
		}
		if f := secretField(m[k], p); f != "" {
			return f
		}
	}
	return ""
}

func tarGz(files map[string][]byte) ([]byte, []string, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range names {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])),
			Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), names, nil
}

func prepareError(what string, err error) error {
	return &remote.Error{Phase: "prepare", Msg: "cannot " + what + ": " +
		secrets.RedactText(err.Error()), Err: err}
}
