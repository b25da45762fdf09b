package mcpserver

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/osirisgo/osiris/internal/bridge"
	"github.com/osirisgo/osiris/internal/telemetry"
)

// ServerName is the name the shim gives itself in initialize.
const ServerName = "osiris-mcp-server"

// WireLimit bounds one tool result line on stdout. The official TypeScript client drops
// the connection when a stdio line passes 10 MiB; 8 MiB leaves room for framing.
const WireLimit = 8 << 20

// Settings are the shim's tunables, read from the environment.
type Settings struct {
	PayloadLimitMB   int
	ToolTimeout      time.Duration
	ResourceTimeout  time.Duration
	HandshakeTimeout time.Duration
	// CacheTTLHours is the discovery cache lifetime the CLI uses, in hours (fractions
	// allowed).
	CacheTTLHours       float64
	MemoryRetentionDays int
	TelemetryEnabled    bool
	CLI                 string
	// Sources says, per environment variable, whether it came from "env" or "default".
	Sources map[string]string
	// Warnings name the variables whose value was invalid and ignored.
	Warnings []string
}

// PayloadLimit is the request and response limit in bytes.
func (s Settings) PayloadLimit() int64 { return int64(s.PayloadLimitMB) << 20 }

// LoadSettings reads every tunable through lookup (os.LookupEnv in production). An
// invalid value gives a warning and the default, never a failure to start.
func LoadSettings(lookup func(string) (string, bool)) Settings {
	s := Settings{Sources: map[string]string{}}
	intVar := func(name string, def, lo, hi int) int {
		raw, ok := lookup(name)
		if !ok || strings.TrimSpace(raw) == "" {
			s.Sources[name] = "default"
			return def
		}
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%q is not a whole number; using %d",
				name, raw, def))
			s.Sources[name] = "default"
			return def
		}
		s.Sources[name] = "env"
		if n < lo {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%d is below the minimum %d; "+
				"using %d", name, n, lo, lo))
			return lo
		}
		if n > hi {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%d is above the maximum %d; "+
				"using %d", name, n, hi, hi))
			return hi
		}
		return n
	}
	secondsVar := func(name string, def float64) time.Duration {
		raw, ok := lookup(name)
		if !ok || strings.TrimSpace(raw) == "" {
			s.Sources[name] = "default"
			return time.Duration(def * float64(time.Second))
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || f <= 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%q is not a positive number of "+
				"seconds; using %g", name, raw, def))
			s.Sources[name] = "default"
			return time.Duration(def * float64(time.Second))
		}
		s.Sources[name] = "env"
		return time.Duration(f * float64(time.Second))
	}

	s.PayloadLimitMB = intVar("OSIRIS_MCP_PAYLOAD_LIMIT_MB", 16, 1, 100)
	s.ToolTimeout = secondsVar("OSIRIS_MCP_TOOL_TIMEOUT", 30)
	s.ResourceTimeout = secondsVar("OSIRIS_MCP_RESOURCE_TIMEOUT", 10)
	s.HandshakeTimeout = secondsVar("OSIRIS_MCP_HANDSHAKE_TIMEOUT", 2)
	s.CacheTTLHours = s.cacheTTLHours(lookup)
	s.MemoryRetentionDays = intVar("OSIRIS_MCP_MEMORY_RETENTION_DAYS", 365, 0, 730)

	raw, set := lookup("OSIRIS_MCP_TELEMETRY_ENABLED")
	s.TelemetryEnabled = telemetry.EnabledFromEnv(raw, set)
	s.Sources["OSIRIS_MCP_TELEMETRY_ENABLED"] = map[bool]string{true: "env", false: "default"}[set]

	s.CLI, set = lookup("OSIRIS_CLI")
	s.Sources["OSIRIS_CLI"] = map[bool]string{true: "env", false: "default"}[set && s.CLI != ""]
	return s
}

// Limits of OSIRIS_MCP_CACHE_TTL_HOURS: above maxCacheTTLHours (a century) a value is
// taken for a typo.
const (
	defaultCacheTTLHours = 24
	maxCacheTTLHours     = 24 * 365 * 100
)

// cacheTTLHours reads OSIRIS_MCP_CACHE_TTL_HOURS with the rule of the discovery cache,
// which is what uses it: hours, fractions allowed (0.01 is 36 seconds); a value that is
// not a number, negative, infinite or over a century warns and gives 24. The shim must
// not link the discovery package, so the rule is repeated here.
func (s *Settings) cacheTTLHours(lookup func(string) (string, bool)) float64 {
	const name = "OSIRIS_MCP_CACHE_TTL_HOURS"
	raw, _ := lookup(name)
	trimmed := strings.TrimSpace(raw)
	if trimmed == "" {
		s.Sources[name] = "default"
		return defaultCacheTTLHours
	}
	hours, err := strconv.ParseFloat(trimmed, 64)
	if err != nil || hours < 0 || math.IsNaN(hours) || math.IsInf(hours, 0) ||
		hours > maxCacheTTLHours {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%s=%q is not a number of hours from 0 "+
			"to %d; using %d", name, raw, maxCacheTTLHours, defaultCacheTTLHours))
		s.Sources[name] = "default"
		return defaultCacheTTLHours
	}
	s.Sources[name] = "env"
	return hours
}

// Document is the settings as `osiris mcp config` prints them. "cli" is the binary the
// shim would run (OSIRIS_CLI, else osiris beside the running program, else PATH), with
// "cli_found" false and "" when there is none.
func (s Settings) Document() map[string]any {
	executable, _ := os.Executable()
	cli, err := bridge.FindCLI(s.CLI, executable)
	return map[string]any{
		"payload_limit_mb":      s.PayloadLimitMB,
		"tool_timeout":          s.ToolTimeout.Seconds(),
		"resource_timeout":      s.ResourceTimeout.Seconds(),
		"handshake_timeout":     s.HandshakeTimeout.Seconds(),
		"cache_ttl_hours":       s.CacheTTLHours,
		"memory_retention_days": s.MemoryRetentionDays,
		"telemetry_enabled":     s.TelemetryEnabled,
		"cli":                   cli,
		"cli_found":             err == nil,
	}
}

// Version is the product version the shim reports, set at build time with -ldflags
// (the same value as the CLI's).
var Version = "v0.1.0-dev"
