package secrets

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestIsSecretKey(t *testing.T) {
	secret := []string{
		"password", "PASSWORD", "db_password", "passwd", "pwd", "api_key", "apikey",
		"auth_token", "access_token", "service_role_key", "anon_key", "key", "secret",
		"client_secret", "private_key", "dsn", "pg_dsn", "connection_string", "bearer",
		"authorization", "aws_secret_access_key", "mysql_pass", "refresh-token",
	}
	plain := []string{
		"primary_key", "foreign_key", "upsert_keys", "host", "port", "user", "table",
		"query", "path", "delimiter", "header", "token_count", "max_tokens", "tokens",
		"batch_size", "auth_type", "idempotency_key", "database", "endpoint", "data_path",
	}
	for _, k := range secret {
		if !IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range plain {
		if IsSecretKey(k) {
			t.Errorf("IsSecretKey(%q) = true, want false", k)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "hunter2-sentinel"
	s := Secret(value)
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("connect", "password", s)
	js, _ := json.Marshal(map[string]any{"password": s})
	outputs := []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %#v %+v", s, s, s, s, s), s.String(),
		string(js), log.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, value) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != value {
		t.Fatal("Reveal lost the value")
	}
}

func TestMaskMap(t *testing.T) {
	in := map[string]any{
		"host": "db", "password": "p@ss/word", "port": 3306, "user": "osiris",
		"token": "${API_TOKEN}", "empty_secret": "",
		"headers": map[string]any{"Authorization": "Bearer abcdefgh", "X-Trace": "1"},
		"nested":  []any{map[string]any{"api_key": "k-123456"}},
		"url":     "postgresql://app:pw-in-url@db.example:5432/x",
	}
	out := MaskMap(in, Masked).(map[string]any)
	js, _ := json.Marshal(out)
	for _, leaked := range []string{"p@ss/word", "abcdefgh", "k-123456", "pw-in-url"} {
		if strings.Contains(string(js), leaked) {
			t.Fatalf("%q leaked: %s", leaked, js)
		}
	}
	if out["token"] != "${API_TOKEN}" {
		t.Errorf("placeholder should stay visible, got %v", out["token"])
	}
	if out["host"] != "db" || out["port"] != 3306 {
		t.Errorf("plain values changed: %v", out)
	}
	if in["password"] != "p@ss/word" {
		t.Error("MaskMap mutated its input")
	}
}

func TestRedactText(t *testing.T) {
	cases := map[string]string{
		"dial postgresql://app:s3cret@db:5432/x failed":               "dial postgresql://app:***@db:5432/x failed",
		"Authorization: Bearer abc.def.ghi":                           "Authorization: Bearer ***",
		"password=hunter22 user=x":                                    "password=*** user=x",
		`{"api_key": "zzz-123"}`:                                      `{"api_key": "***"}`,
		"token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc": "token: ***",
	}
	for in, want := range cases {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestRedactorLiteralValues(t *testing.T) {
	r := NewRedactor()
	r.AddFromMap(map[string]any{"password": "Zq9-sentinel-pw", "host": "localhost"})
	got := r.Redact("connect failed for Zq9-sentinel-pw at localhost")
	if strings.Contains(got, "Zq9-sentinel-pw") || !strings.Contains(got, "localhost") {
		t.Fatalf("got %q", got)
	}
	rec := r.RedactValue(map[string]any{"error": "bad Zq9-sentinel-pw", "secret": "x"}).(map[string]any)
	if rec["error"] != "bad ***" || rec["secret"] != Stars {
		t.Fatalf("got %v", rec)
	}
}

func TestRedactStringsKeepsKeysAndMaskedTokens(t *testing.T) {
	r := NewRedactor()
	r.Add("Zq9-sentinel-pw")
	doc := map[string]any{
		"password": Masked,
		"token":    "${TOKEN}",
		"api_key":  "plain-key-value",
		"query":    "select 'Zq9-sentinel-pw'",
		"hosts":    []any{"db1", map[string]any{"note": "pw Zq9-sentinel-pw"}},
		"port":     3306,
	}

	got := r.RedactStrings(doc).(map[string]any)

	if got["password"] != Masked || got["token"] != "${TOKEN}" || got["api_key"] != "plain-key-value" {
		t.Fatalf("secret-named keys changed: %v", got)
	}
	if got["query"] != "select '***'" || got["port"] != 3306 {
		t.Fatalf("strings or numbers wrong: %v", got)
	}
	nested := got["hosts"].([]any)[1].(map[string]any)
	if nested["note"] != "pw ***" {
		t.Fatalf("nested literal kept: %v", nested)
	}
	if doc["query"] != "select 'Zq9-sentinel-pw'" {
		t.Fatal("the input document was modified")
	}
	if masked := r.RedactValue(doc).(map[string]any); masked["api_key"] != Stars {
		t.Fatalf("RedactValue should blank a secret-named key: %v", masked["api_key"])
	}
}
