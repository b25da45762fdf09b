package connections

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `version: 1
connections:
  mysql:
    replica:
      host: r.local
      password: ${OSIRIS_TEST_MYSQL_PW}
    primary:
      default: true
      host: p.local
      port: 3306
      password: ${OSIRIS_TEST_MYSQL_PW}
    other:
      default: true
      host: o.local
  postgres:
    default:
      host: pg.local
      password: ${OSIRIS_TEST_UNSET_VAR}
  filesystem:
    local:
      base_dir: data
`

func writeSample(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "osiris_connections.yaml")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolveDefaultsAndEnv(t *testing.T) {
	t.Setenv("OSIRIS_TEST_MYSQL_PW", "pw-from-env")
	f, err := Load(writeSample(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Families, ",") != "mysql,postgres,filesystem" {
		t.Fatalf("families in file order: %v", f.Families)
	}

	conn, alias, err := f.Resolve("mysql", "")
	if err != nil {
		t.Fatal(err)
	}
	if alias.Name != "primary" || conn["host"] != "p.local" || conn["password"] != "pw-from-env" {
		t.Fatalf("default alias: %s %v", alias.Name, conn)
	}
	if _, ok := conn["default"]; ok {
		t.Fatal("default key must be stripped")
	}
	_, warnings, _ := f.DefaultAlias("mysql")
	if len(warnings) != 1 {
		t.Fatalf("two default: true aliases should warn once, got %v", warnings)
	}

	if _, a, err := f.Resolve("postgres", ""); err == nil || a == nil {
		t.Fatal("an unset variable must fail")
	} else if !strings.Contains(err.Error(), "OSIRIS_TEST_UNSET_VAR") ||
		!strings.Contains(err.Error(), "password") {
		t.Fatalf("error should name variable and field: %v", err)
	}
}

func TestResolveErrors(t *testing.T) {
	f, err := Load(writeSample(t))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ family, alias, want string }{
		{"nosuch", "x", "Available families: mysql, postgres, filesystem"},
		{"mysql", "nosuch", "Available aliases: replica, primary, other"},
		{"filesystem", "", "No default connection for family 'filesystem'"},
	}
	for _, c := range cases {
		_, err := f.Find(c.family, c.alias)
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Find(%s,%s) = %v, want %q", c.family, c.alias, err, c.want)
		}
	}

	empty, _ := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if _, err := empty.Find("mysql", ""); err == nil ||
		!strings.Contains(err.Error(), "No connections configured") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParseReference(t *testing.T) {
	if fam, alias, err := ParseReference("@mysql.primary"); err != nil || fam != "mysql" || alias != "primary" {
		t.Fatalf("got %s %s %v", fam, alias, err)
	}
	for _, bad := range []string{"mysql.primary", "@mysql", "@my sql.x", "@a.b.c", ""} {
		if _, _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) should fail", bad)
		}
	}
}

func TestMaskedKeepsPlaceholdersAndHidesValues(t *testing.T) {
	t.Setenv("OSIRIS_TEST_MYSQL_PW", "pw-from-env")
	f, _ := Load(writeSample(t))
	a, _ := f.Find("mysql", "primary")
	m := Masked(a.Raw)
	if m["password"] != "***MASKED***" {
		t.Fatalf("password shown: %v", m["password"])
	}
	p, _ := f.Find("postgres", "default")
	if Masked(p.Raw)["password"] != "${OSIRIS_TEST_UNSET_VAR}" {
		t.Fatal("unresolved placeholder should stay visible")
	}
	vars := EnvVars(p.Raw)
	if set, ok := vars["OSIRIS_TEST_UNSET_VAR"]; !ok || set {
		t.Fatalf("env vars: %v", vars)
	}
}

func TestLoadRejectsBadShapes(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notmap.yaml":    "connections: [a, b]\n",
		"badalias.yaml":  "connections:\n  mysql:\n    \"bad alias\": {host: x}\n",
		"broken.yaml":    "connections:\n  mysql: {\n",
		"dupfamily.yaml": "connections:\n  fs:\n    a: {x: 1}\n  fs:\n    b: {x: 2}\n",
		"dupalias.yaml":  "connections:\n  fs:\n    a: {x: 1}\n    a: {x: 2}\n",
		"dupfield.yaml":  "connections:\n  fs:\n    a:\n      x: 1\n      x: 2\n",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: want error naming the file, got %v", name, err)
		}
	}
}
