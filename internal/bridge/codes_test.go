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
