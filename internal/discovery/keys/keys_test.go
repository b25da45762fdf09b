package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDiscoveryIDIsTheHashOfConnectionComponentSamples(t *testing.T) {
	sum := sha256.Sum256([]byte("@mysql.main|mysql.extractor|5"))
	want := "disc_" + hex.EncodeToString(sum[:])[:16]
	if got := DiscoveryID("@mysql.main", "mysql.extractor", 5); got != want {
		t.Fatalf("DiscoveryID = %s, want %s", got, want)
	}
}

func TestCacheKeyIncludesTheIdempotencyKey(t *testing.T) {
	sum := sha256.Sum256([]byte("@mysql.main|mysql.extractor|5|"))
	want := "cache_" + hex.EncodeToString(sum[:])[:16]
	if got := CacheKey("@mysql.main", "mysql.extractor", 5, ""); got != want {
		t.Fatalf("CacheKey without key = %s, want %s", got, want)
	}
	if CacheKey("@mysql.main", "mysql.extractor", 5, "a") ==
		CacheKey("@mysql.main", "mysql.extractor", 5, "b") {
		t.Fatal("different idempotency keys gave the same cache key")
	}
}

func TestEveryInputChangesTheDiscoveryID(t *testing.T) {
	base := DiscoveryID("@mysql.main", "mysql.extractor", 5)
	for name, other := range map[string]string{
		"connection": DiscoveryID("@mysql.other", "mysql.extractor", 5),
		"component":  DiscoveryID("@mysql.main", "mysql.writer", 5),
		"samples":    DiscoveryID("@mysql.main", "mysql.extractor", 6),
	} {
		if other == base {
			t.Errorf("changing the %s kept discovery id %s", name, base)
		}
	}
}
