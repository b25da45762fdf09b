package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
)

// dialAsIs reports hosts that the IPv4 fallback leaves alone: IP literals, socket paths
// and the placeholder names of examples and tests.
func dialAsIs(host string) bool {
	h := strings.ToLower(host)
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	switch h {
	case "", "localhost", "host", "hostname", "placeholder", "example", "example.com":
		return true
	}
	return strings.HasPrefix(h, "/") || strings.HasPrefix(h, "@") ||
		strings.HasPrefix(h, "placeholder")
}

// ipv4Connector opens each connection by trying the host's IPv4 addresses in turn:
// Supabase's direct hosts often resolve to IPv6 that many networks cannot reach. The TLS
// server name stays the host name. It moves to the next address only when dialing or
// TLS failed, and stops at once on an authentication or permission failure. A failed
// attempt's socket is closed by lib/pq before the next attempt. Logs name the attempt
// number and category only, never an address.
type ipv4Connector struct {
	cfg     pq.Config
	logger  *slog.Logger
	resolve func(ctx context.Context, host string) ([]net.IP, error)
}

// fallbackError is the failure after every address was tried; it remembers how many.
type fallbackError struct {
	attempts int
	last     error
}

func (e *fallbackError) Error() string {
	return fmt.Sprintf("postgres connection failed after %d IPv4 attempts (%s)", e.attempts,
		classify(e.last))
}

func (e *fallbackError) Unwrap() error { return e.last }

func attemptsOf(err error) (int, bool) {
	var fe *fallbackError
	if errors.As(err, &fe) {
		return fe.attempts, true
	}
	return 0, false
}

// Connect implements driver.Connector.
func (c *ipv4Connector) Connect(ctx context.Context) (driver.Conn, error) {
	addrs := c.addresses(ctx)
	if len(addrs) == 0 {
		// No A record: dial the name as given.
		base, err := pq.NewConnectorConfig(c.cfg)
		if err != nil {
			return nil, err
		}
		return base.Connect(ctx)
	}

	var last error
	for i, addr := range addrs {
		cfg := c.cfg.Clone()
		cfg.Hostaddr = addr
		attempt, err := pq.NewConnectorConfig(cfg)
		if err != nil {
			return nil, err
		}
		conn, err := attempt.Connect(ctx)
		if err == nil {
			return conn, nil
		}
		last = err
		category := classify(err)
		if c.logger != nil {
			c.logger.Warn(fmt.Sprintf("IPv4 attempt %d/%d failed (%s)", i+1, len(addrs), category))
		}
		if category != drivers.CategoryNetwork && category != drivers.CategoryTimeout {
			return nil, err
		}
		if ctx.Err() != nil {
			break
		}
	}
	fe := &fallbackError{attempts: len(addrs), last: last}
	if c.logger != nil {
		c.logger.Warn(fe.Error())
	}
	return nil, fe
}

// addresses resolves the host's IPv4 addresses, de-duplicated, in the resolver's order.
func (c *ipv4Connector) addresses(ctx context.Context) []netip.Addr {
	resolve := c.resolve
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]net.IP, error) {
			return net.DefaultResolver.LookupIP(ctx, "ip4", host)
		}
	}
	ips, err := resolve(ctx, c.cfg.Host)
	if err != nil {
		return nil
	}
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, ip := range ips {
		addr, ok := netip.AddrFromSlice(ip.To4())
		if !ok || seen[addr] {
			continue
		}
		seen[addr] = true
		out = append(out, addr)
	}
	return out
}

// Driver implements driver.Connector.
func (c *ipv4Connector) Driver() driver.Driver { return &pq.Driver{} }
