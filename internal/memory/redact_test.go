package memory

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestRedactText(t *testing.T) {
	tests := []struct {
		name, in, want string
		count          int
	}{
		{"dsn userinfo", "use postgres://etl:pw@db.example.com/x",
			"use postgres://***@db.example.com/x", 1},
		{"dsn user only", "MYSQL://root@localhost/db", "MYSQL://***@localhost/db", 1},
		{"email", "write to a.b+c@mail.example.org now", "write to ***EMAIL*** now", 1},
		{"email with pipe is not one address", "x|y@z.io", "x|***EMAIL***", 1},
		{"phone", "call +1 (415) 555-0134", "call ***PHONE***", 1},
		{"phone in brackets", "(212) 555-0199 or 1-800-555-0134", "***PHONE*** or ***PHONE***", 2},
		{"phone digits", "4155550134", "***PHONE***", 1},
		{"ssn", "ssn 123-45-6789.", "ssn ***SSN***.", 1},
		{"card", "card 4111-1111-1111-1111", "card ***CARD***", 1},
		{"card no separators", "4111111111111111", "***CARD***", 1},
		{"ip", "host 192.168.0.12 up", "host ***IP*** up", 1},
		{"password pair", "password=hunter22 ok", "password=*** ok", 1},
		{"bearer", "Bearer abcdefghijk", "Bearer ***", 1},
		{"two rules", "a@b.com and 10.0.0.1", "***EMAIL*** and ***IP***", 2},
		{"plain text kept", "orders by day, 2024-01-15", "orders by day, 2024-01-15", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n := RedactText(tt.in)
			if got != tt.want || n != tt.count {
				t.Errorf("RedactText(%q) = %q, %d; want %q, %d", tt.in, got, n, tt.want, tt.count)
			}
		})
	}
}

func TestSecretNames(t *testing.T) {
	redacted := []string{"password", "database_password", "DB_PASS", "api-key", "apikey",
		"service_role_key", "access_token", "ssn", "credit_card", "card_number",
		"customer_credit_card", "client_secret", "auth", "oauth", "x_token"}
	kept := []string{"primary_key", "foreign_key", "table_name", "column_names", "user_name",
		"tokens", "intent", "notes", "retries"}
	for _, k := range redacted {
		if out, n := Redact(map[string]any{k: "v"}); out.(map[string]any)[k] != "***REDACTED***" ||
			n != 1 {
			t.Errorf("key %q: got %v (%d redactions), want it redacted", k, out, n)
		}
	}
	for _, k := range kept {
		if out, n := Redact(map[string]any{k: "v"}); out.(map[string]any)[k] != "v" || n != 0 {
			t.Errorf("key %q: got %v (%d redactions), want it kept", k, out, n)
		}
	}
}

func TestRedactRecursesCredentialsObject(t *testing.T) {
	in := map[string]any{"credentials": map[string]any{"user": "etl", "password": "pw"},
		"secret": map[string]any{"value": "hidden"}, "n": json.Number("12345678901234567890")}
	out, n := Redact(in)
	want := map[string]any{
		"credentials": map[string]any{"user": "etl", "password": "***REDACTED***"},
		"secret":      "***REDACTED***",
		"n":           json.Number("12345678901234567890"),
	}
	if diff := cmp.Diff(want, out); diff != "" || n != 2 {
		t.Errorf("Redact (-want +got):\n%s redactions=%d", diff, n)
	}
	if in["credentials"].(map[string]any)["password"] != "pw" {
		t.Error("Redact changed its input")
	}
}

// TestRedactChatEventsGolden runs the redaction over a realistic assistant session. Run
// with -update to rewrite the golden file, then read its diff.
func TestRedactChatEventsGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "chat_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	events, err := ParseEvents(raw)
	if err != nil {
		t.Fatal(err)
	}
	redacted, n := Redact(events)
	got, err := json.MarshalIndent(map[string]any{"redactions_applied": n, "events": redacted},
		"", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')

	golden := filepath.Join("testdata", "chat_events.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("redacted chat events differ from %s (-want +got):\n%s", golden, diff)
	}

	for _, secret := range []string{"Hunter2", "dana.reyes", "415-555", "4111", "123-45-6789",
		"sk_live", "s3cr3t", "555-0199", "pg-Wh4tever", "eyJhbGci", "n0t-for-disk",
		"AKIA1234", "tok_abc", "987-65", "pa55", "10.20.30.40", "192.168.1.20", "8.8.8.8"} {
		if strings.Contains(string(got), secret) {
			t.Errorf("redacted events still contain %q", secret)
		}
	}
	for _, keep := range []string{"orders", "customer_id", `"primary_key"`, `"dana"`,
		"osiris://mcp/drafts/oml/orders_sync.yaml", `"retries": 3`, `"ratio": 0.25`} {
		if !strings.Contains(string(got), keep) {
			t.Errorf("redacted events lost %q", keep)
		}
	}
}
