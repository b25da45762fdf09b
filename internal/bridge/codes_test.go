package bridge

import (
	"strings"
	"testing"
)

func TestDeriveCode(t *testing.T) {
	cases := []struct {
		message, fallback, family, code string
	}{
		{"Missing required field: name", FamilySemantic, "SCHEMA", "SCHEMA/OML001"},
		{"missing required field: steps[0].id", FamilySemantic, "SCHEMA", "SCHEMA/OML002"},
		{"missing required field: mode", FamilySemantic, "SCHEMA", "SCHEMA/OML004"},
		{"YAML parse error: line 3", FamilySemantic, "SCHEMA", "SCHEMA/OML010"},
		{"Unknown tool: foo", FamilySchema, "SEMANTIC", "SEMANTIC/SEM001"},
		{"Connection not found: @x.y", FamilySemantic, "DISCOVERY", "DISCOVERY/DISC001"},
		{"Consent required", FamilySemantic, "POLICY", "POLICY/POL001"},
		{"dial tcp: connection refused", FamilySemantic, "SEMANTIC", "SEMANTIC/E_CONN_REFUSED"},
		{"lookup db: no such host", FamilySemantic, "SEMANTIC", "SEMANTIC/E_CONN_DNS"},
		{"i/o timeout", FamilySemantic, "DISCOVERY", "DISCOVERY/E_CONN_TIMEOUT"},
		// "connection timeout" (18) is longer than "timeout" and than "connection refused"
		// does not occur; the longest fragment decides.
		{"connection timeout after 5s", FamilySemantic, "DISCOVERY", "DISCOVERY/E_CONN_TIMEOUT"},
		// "environment variable" is longer than "not set": the secret rule wins.
		{"environment variable PG_PASS not set", FamilySemantic, "SEMANTIC",
			"SEMANTIC/E_CONN_SECRET_MISSING"},
		{"authentication failed for user", FamilySemantic, "SEMANTIC", "SEMANTIC/E_CONN_AUTH_FAILED"},
	}
	for _, c := range cases {
		family, code := DeriveCode(c.message, c.fallback)
		if family != c.family || code != c.code {
			t.Errorf("DeriveCode(%q) = %s %s, want %s %s", c.message, family, code, c.family, c.code)
		}
	}
}

func TestDeriveCodeFallbackIsHashedAndDeterministic(t *testing.T) {
	family, code := DeriveCode("something odd happened", FamilyDiscovery)
	if family != FamilyDiscovery || !strings.HasPrefix(code, "DISCOVERY/DISC") || len(code) != 17 {
		t.Fatalf("got %s %s", family, code)
	}
	if code != strings.ToUpper(code) {
		t.Errorf("suffix not upper case: %s", code)
	}
	for i := 0; i < 10; i++ {
		if _, again := DeriveCode("something odd happened", FamilyDiscovery); again != code {
			t.Fatalf("not deterministic: %s vs %s", again, code)
		}
	}
	if _, other := DeriveCode("something else happened", FamilyDiscovery); other == code {
		t.Errorf("different messages gave the same code %s", code)
	}
}

func TestLongestFragmentFirstIsTheOrder(t *testing.T) {
	for i := 1; i < len(orderedPatterns); i++ {
		if len(orderedPatterns[i].fragment) > len(orderedPatterns[i-1].fragment) {
			t.Fatalf("%q after %q", orderedPatterns[i].fragment, orderedPatterns[i-1].fragment)
		}
	}
}

func TestRedactMessage(t *testing.T) {
	cases := map[string]string{
		"postgresql://app:s3cr3tpw@db.example:5432/x": "postgresql://***@db.example:5432/x",
		"https://token@api.example/graphql":           "https://***@api.example/graphql",
		"retry with password=hunter2&user=x":          "retry with password=***&user=x",
		"key=abcdef; next":                            "key=***; next",
		"TOKEN=xyz other":                             "TOKEN=*** other",
		"nothing here":                                "nothing here",
	}
	for in, want := range cases {
		if got := RedactMessage(in); got != want {
			t.Errorf("RedactMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

// An error document without a code gets one from its error_type, so that the same kind of
// failure has the same code whatever ids its message names.
func TestDocumentWithoutCodeTakesItsCodeFromErrorType(t *testing.T) {
	cases := []struct {
		doc      string
		exitCode int
		want     string
	}{
		{`{"status":"error","error_type":"not_found","message":"Run not found: r1"}`, 2,
			"SCHEMA/NOT_FOUND"},
		{`{"status":"error","error_type":"not_found","message":"Run not found: r2-other"}`, 2,
			"SCHEMA/NOT_FOUND"},
		{`{"status":"error","error_type":"memory_write_failed",` +
			`"message":"Memory capture failed: disk full at /tmp/a"}`, 1,
			"SEMANTIC/MEMORY_WRITE_FAILED"},
		{`{"status":"error","error_type":"memory_write_failed",` +
			`"message":"Memory capture failed: disk full at /tmp/b"}`, 1,
			"SEMANTIC/MEMORY_WRITE_FAILED"},
		// A message naming a problem the taxonomy knows keeps that fixed code.
		{`{"status":"error","error_type":"x","message":"connection not found: @mysql.x"}`, 1,
			"DISCOVERY/DISC001"},
		{`{"status":"error","error_type":"bad type!","message":"odd"}`, 1, "SEMANTIC/BAD_TYPE"},
		// A code in the document always wins.
		{`{"status":"error","error_type":"not_found","message":"Run not found: r1",` +
			`"code":"POLICY/POL004"}`, 2, "POLICY/POL004"},
	}
	for _, c := range cases {
		f := classifyFailure([]byte(c.doc), "", c.exitCode)
		if f.Code != c.want {
			t.Errorf("%s (exit %d): code %s, want %s", c.doc, c.exitCode, f.Code, c.want)
		}
		if family, _, _ := strings.Cut(c.want, "/"); f.Family != family {
			t.Errorf("%s: family %s", c.doc, f.Family)
		}
	}

	// Neither code nor error_type: hashed from the message, as before.
	f := classifyFailure([]byte(`{"status":"error","message":"odd"}`), "", 1)
	_, want := DeriveCode("odd", FamilySemantic)
	if f.Code != want {
		t.Errorf("code %s, want %s", f.Code, want)
	}
}
