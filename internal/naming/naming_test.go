package naming

import (
	"regexp"
	"testing"
	"time"
)

func TestSlugify(t *testing.T) {
	cases := map[string]string{
		"orders_etl":         "orders-etl",
		"Orders ETL v2":      "orders-etl-v2",
		"run-000123_01J9ABC": "run-000123-01j9abc",
		"__weird--name!!__":  "weird-name",
		"airports-per-state": "airports-per-state",
		"":                   "",
	}
	for in, want := range cases {
		if got := Slugify(in); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRender(t *testing.T) {
	got := Render("{pipeline_slug}/{manifest_short}-{manifest_hash}", map[string]string{
		"pipeline_slug": "orders_etl", "manifest_short": "abc1234", "manifest_hash": "abc1234ff",
	})
	if got != "orders-etl/abc1234-abc1234ff" {
		t.Fatalf("got %q", got)
	}
	if got := Render("{pipeline_slug}/{run_ts}_{run_id}-{manifest_short}",
		map[string]string{"pipeline_slug": "p", "run_id": "r1"}); got != "p/r1" {
		t.Fatalf("empty tokens not collapsed: %q", got)
	}
}

func TestRunTimestamp(t *testing.T) {
	ts := time.Date(2025, 10, 7, 14, 22, 19, 0, time.UTC)
	if got := RunTimestamp(ts, "iso_basic_z"); got != "20251007t142219z" {
		t.Fatalf("got %q", got)
	}
}

func TestRunIDFormats(t *testing.T) {
	now := time.Date(2025, 10, 7, 14, 22, 19, 0, time.UTC)
	id, err := RunID([]string{"incremental", "ulid"}, now, func() (int, error) { return 123, nil })
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^run-000123_[0-9A-HJKMNP-TV-Z]{26}$`).MatchString(id) {
		t.Fatalf("bad id %q", id)
	}
	iso, _ := RunID([]string{"iso_ulid"}, now, nil)
	if !regexp.MustCompile(`^2025-10-07T14-22-19Z_[0-9A-Z]{26}$`).MatchString(iso) {
		t.Fatalf("bad iso_ulid %q", iso)
	}
	if a, b := ULID(now), ULID(now); a == b || a[:10] != b[:10] {
		t.Fatalf("ulids share time prefix and differ in randomness: %s %s", a, b)
	}
	fallback, _ := RunID([]string{"nonsense"}, now, nil)
	if len(fallback) != 26 {
		t.Fatalf("unknown tokens should fall back to ulid, got %q", fallback)
	}
}
