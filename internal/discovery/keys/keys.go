// Package keys computes the two names of a discovery: the discovery_id of its artifact
// set and the cache_key of one request. The MCP shim and the CLI both import it, so the
// two processes can never disagree on a name; it imports nothing but the standard library.
package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// DiscoveryID names the artifacts of discovering one connection with one component and
// one sample count. Requests that differ only in their idempotency key share it.
func DiscoveryID(connection, component string, samples int) string {
	return "disc_" + digest(connection+"|"+component+"|"+strconv.Itoa(samples))
}

// CacheKey names one request, idempotency key included ("" when there is none).
func CacheKey(connection, component string, samples int, idempotencyKey string) string {
	return "cache_" + digest(connection+"|"+component+"|"+strconv.Itoa(samples)+"|"+
		idempotencyKey)
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
