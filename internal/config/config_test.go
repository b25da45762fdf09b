package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func chdir(t *testing.T, dir string) {
	t.Helper()
	old, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}

func TestResolveFindsNearestAncestor(t *testing.T) {
	t.Setenv("OSIRIS_HOME", "")
	t.Setenv("OSIRIS_FILESYSTEM_BASE", "")
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, FileName), []byte("version: '2.0'\n"), 0o644)
	deep := filepath.Join(root, "a", "b")
	os.MkdirAll(deep, 0o755)
	chdir(t, deep)

	p, err := Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(root)
	got, _ := filepath.EvalSymlinks(p.Root)
	if got != real || p.Sources["root"] != "config" || !p.Exists {
		t.Fatalf("root %s (%s), want %s", p.Root, p.Sources["root"], root)
	}
	if p.RunLogsDir() != filepath.Join(p.Root, "run_logs") {
		t.Fatalf("run logs dir %s", p.RunLogsDir())
	}
}

func TestPrecedenceFlagEnvConfig(t *testing.T) {
	flagDir, envDir := t.TempDir(), t.TempDir()
	t.Setenv("OSIRIS_HOME", envDir)
	p, err := Resolve(flagDir)
	if err != nil || p.Root != flagDir || p.Sources["root"] != "flag" {
		t.Fatalf("flag should win: %v %v", p, err)
	}
	p, err = Resolve("")
	if err != nil || p.Root != envDir || p.Sources["root"] != "env" {
		t.Fatalf("env should win over cwd: %v %v", p, err)
	}
	if _, err := Resolve(filepath.Join(flagDir, "missing")); err == nil {
		t.Fatal("a missing project directory must be an error")
	}
}

func TestBasePathAndMCPLogsDir(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, FileName), []byte(
		"filesystem:\n  base_path: data\n  mcp_logs_dir: mcp\n"), 0o644)
	t.Setenv("OSIRIS_FILESYSTEM_BASE", "")
	t.Setenv("OSIRIS_MCP_LOGS_DIR", "")
	p, err := Resolve(root)
	if err != nil {
		t.Fatal(err)
	}
	if p.Base != filepath.Join(root, "data") || p.MemoryDir() != filepath.Join(root, "data", "mcp", "memory") {
		t.Fatalf("base %s memory %s", p.Base, p.MemoryDir())
	}
	t.Setenv("OSIRIS_MCP_LOGS_DIR", "/tmp/elsewhere")
	if p.MCPLogsDir() != "/tmp/elsewhere" {
		t.Fatalf("env should win: %s", p.MCPLogsDir())
	}
}

func TestInvalidConfigNamesTheFile(t *testing.T) {
	root := t.TempDir()
	cases := map[string]string{
		"filesystem: [\n": "invalid YAML",
		"filesystem:\n  naming:\n    manifest_short_len: 40\n":                "manifest_short_len",
		"filesystem:\n  profiles:\n    default: nope\n":                       "profiles.default",
		"filesystem:\n  retention:\n    run_logs_days: -1\n":                  "run_logs_days",
		"filesystem:\n  naming:\n    run_dir: \"{pipeline_slug}/{run_ts}\"\n": "run_dir",
	}
	for body, want := range cases {
		os.WriteFile(filepath.Join(root, FileName), []byte(body), 0o644)
		_, err := Resolve(root)
		if err == nil || !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), FileName) {
			t.Errorf("%q: got %v, want error mentioning %s and the file", body, err, want)
		}
	}
}

func TestDotEnvNeverOverridesExported(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, ".env"), []byte(
		"# comment\nOSIRIS_T_A=from-file\nexport OSIRIS_T_B=\"quoted\"\nOSIRIS_T_C=file\n"), 0o600)
	t.Setenv("OSIRIS_T_A", "exported")
	t.Setenv("OSIRIS_T_C", "")
	os.Unsetenv("OSIRIS_T_B")
	t.Cleanup(func() { os.Unsetenv("OSIRIS_T_B") })
	if err := LoadDotEnv(filepath.Join(root, ".env")); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("OSIRIS_T_A") != "exported" || os.Getenv("OSIRIS_T_B") != "quoted" ||
		os.Getenv("OSIRIS_T_C") != "file" {
		t.Fatalf("A=%q B=%q C=%q", os.Getenv("OSIRIS_T_A"), os.Getenv("OSIRIS_T_B"),
			os.Getenv("OSIRIS_T_C"))
	}
	os.WriteFile(filepath.Join(root, ".env"), []byte("NOEQUALS\n"), 0o600)
	if err := LoadDotEnv(filepath.Join(root, ".env")); err == nil ||
		!strings.Contains(err.Error(), ".env:1") {
		t.Fatalf("want file:line error, got %v", err)
	}
}

func TestResolveProfile(t *testing.T) {
	p, err := Resolve(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("OSIRIS_PROFILE", "")
	if got, _ := p.ResolveProfile(""); got != "dev" {
		t.Fatalf("default profile %q", got)
	}
	t.Setenv("OSIRIS_PROFILE", "prod")
	if got, _ := p.ResolveProfile(""); got != "prod" {
		t.Fatalf("env profile %q", got)
	}
	if got, _ := p.ResolveProfile("staging"); got != "staging" {
		t.Fatalf("flag profile %q", got)
	}
	if _, err := p.ResolveProfile("nope"); err == nil {
		t.Fatal("unknown profile must fail")
	}
}
