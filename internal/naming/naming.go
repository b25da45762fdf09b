// Package naming renders the path templates of osiris.yaml (manifest_dir, run_dir,
// aiop_run_dir) and makes run ids. Compile and run share it so paths always agree.
package naming

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

var (
	dropChars  = regexp.MustCompile(`[^a-z0-9_-]`)
	repeatSeps = regexp.MustCompile(`[-_]{2,}`)
	tokenRef   = regexp.MustCompile(`\{([a-z_]+)\}`)
)

// Slugify lowercases s, turns spaces and "_" into "-", drops every other character outside
// [a-z0-9_-], collapses runs of "-" and "_" and trims them from the ends.
// "Orders_ETL v2" becomes "orders-etl-v2".
func Slugify(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer(" ", "-", "_", "-").Replace(s)
	s = dropChars.ReplaceAllString(s, "")
	s = repeatSeps.ReplaceAllStringFunc(s, func(m string) string { return m[:1] })
	return strings.Trim(s, "-_")
}

// Render fills {token} references of a template with slugified values; unknown or missing
// tokens render empty. Separators left over by empty tokens are collapsed and trimmed from
// each path segment, so "{a}/{b}_{c}" with an empty b renders "a/c".
func Render(template string, tokens map[string]string) string {
	out := tokenRef.ReplaceAllStringFunc(template, func(m string) string {
		return Slugify(tokens[m[1:len(m)-1]])
	})
	out = repeatSeps.ReplaceAllStringFunc(out, func(m string) string { return m[:1] })
	var segments []string
	for _, seg := range strings.Split(out, "/") {
		if seg = strings.Trim(seg, "-_"); seg != "" {
			segments = append(segments, seg)
		}
	}
	return strings.Join(segments, "/")
}

// RunTimestamp formats a run's start time by run_ts_format: iso_basic_z (20251007t142219z),
// epoch_ms, none, or a strftime pattern (%Y %m %d %H %M %S).
func RunTimestamp(t time.Time, format string) string {
	t = t.UTC()
	switch format {
	case "", "iso_basic_z":
		return strings.ToLower(t.Format("20060102T150405Z"))
	case "epoch_ms":
		return fmt.Sprint(t.UnixMilli())
	case "none":
		return ""
	}
	r := strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02", "%H", "15", "%M", "04",
		"%S", "05")
	return t.Format(r.Replace(format))
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ULID returns a 26-character ULID: 48 bits of milliseconds and 80 random bits.
func ULID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	// 128 bits as 26 base32 digits, most significant first (the first digit holds 3 bits).
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 26)
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// UUIDv4 returns a random RFC 4122 version 4 UUID.
func UUIDv4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Snowflake returns (epoch_ms << 22) | (pid % 1024) << 12 | random 0..4095.
func Snowflake(t time.Time) string {
	var r [2]byte
	_, _ = rand.Read(r[:])
	seq := uint64(binary.BigEndian.Uint16(r[:])) % 4096
	return fmt.Sprint(uint64(t.UnixMilli())<<22 | uint64(os.Getpid()%1024)<<12 | seq)
}

// RunID builds a run id from format tokens joined by "_": incremental (run-%06d from
// next), ulid, iso_ulid, uuidv4, snowflake. Unknown tokens are skipped; none left means
// ulid. next is called only when the incremental token is present.
func RunID(tokens []string, now time.Time, next func() (int, error)) (string, error) {
	var parts []string
	for _, tok := range tokens {
		switch strings.TrimSpace(tok) {
		case "incremental":
			if next == nil {
				continue
			}
			n, err := next()
			if err != nil {
				return "", err
			}
			parts = append(parts, fmt.Sprintf("run-%06d", n))
		case "ulid":
			parts = append(parts, ULID(now))
		case "iso_ulid":
			parts = append(parts, now.UTC().Format("2006-01-02T15-04-05Z")+"_"+ULID(now))
		case "uuidv4":
			parts = append(parts, UUIDv4())
		case "snowflake":
			parts = append(parts, Snowflake(now))
		}
	}
	if len(parts) == 0 {
		return ULID(now), nil
	}
	return strings.Join(parts, "_"), nil
}
