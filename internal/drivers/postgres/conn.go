// Package postgres is the one driver behind postgres.extractor, postgres.writer,
// supabase.extractor and supabase.writer. It streams rows out of PostgreSQL and loads
// rows with COPY FROM STDIN. The supabase components add Supabase's connection
// conventions: sslmode require by default, the pooler's user naming, and a fallback that
// dials each IPv4 address of the host in turn.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/secrets"
)

// Families served by this driver.
const (
	familyPostgres = "postgres"
	familySupabase = "supabase"
)

// connectTimeout bounds one connection attempt (dial, TLS and authentication).
const connectTimeout = 10 * time.Second

// connConfig is a step's connection. The password and a user-given DSN are Secrets so
// that no format verb or log call prints them.
type connConfig struct {
	family   string
	dsn      secrets.Secret
	host     string
	port     int
	database string
	user     string
	password secrets.Secret
	sslmode  string
	appName  string
	fallback bool // dial each IPv4 address in turn (Supabase)
	resolver func(ctx context.Context, host string) ([]net.IP, error)
}

// readConn reads the connection keys of a step: a DSN (dsn, sql_dsn, pg_dsn) or the
// separate fields, with Supabase's pg_* spellings accepted too.
func readConn(step, family string, cfg map[string]any) (connConfig, error) {
	merged := sqlcommon.Merged(cfg)
	c := connConfig{
		family:   family,
		dsn:      sqlcommon.Secret(merged, "dsn", "sql_dsn", "pg_dsn"),
		host:     sqlcommon.String(merged, "pg_host", "host"),
		database: sqlcommon.String(merged, "pg_database", "database", "dbname"),
		user:     sqlcommon.String(merged, "pg_user", "user", "username"),
		password: sqlcommon.Secret(merged, "pg_password", "password"),
		sslmode:  sqlcommon.String(merged, "sslmode"),
		appName:  sqlcommon.String(merged, "application_name"),
		fallback: family == familySupabase,
	}
	port := sqlcommon.String(merged, "pg_port", "port")
	c.port = 5432
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return c, drivers.Errorf(step, drivers.KindConfig, nil,
				"Step %s: 'port' must be between 1 and 65535", step)
		}
		c.port = p
	}
	if family == familySupabase && c.dsn == "" && c.host == "" {
		if ref := projectRef(merged); ref != "" {
			c.host = "db." + ref + ".supabase.co"
		}
	}
	if c.dsn == "" && c.host == "" {
		// Limitation: Supabase's REST channel (PostgREST) is not implemented; a connection
		// with only url + key is refused here.
		if family == familySupabase {
			return c, drivers.Errorf(step, drivers.KindConfig, nil,
				"Step %s: Supabase needs a database connection: 'dsn' (or pg_dsn) or "+
					"'host' with 'password'; the REST channel is not supported", step)
		}
		c.host = "localhost"
	}
	if c.database == "" {
		c.database = "postgres"
	}
	if c.user == "" && c.dsn == "" {
		c.user = "postgres"
	}
	if c.sslmode == "" {
		c.sslmode = "prefer"
		if family == familySupabase {
			c.sslmode = "require"
		}
	}
	if c.appName == "" {
		c.appName = "osiris"
	}
	return c, nil
}

// projectRef finds a Supabase project ref in project_id or in the project URL
// (https://<ref>.supabase.co).
func projectRef(cfg map[string]any) string {
	if ref := sqlcommon.String(cfg, "project_id", "project_ref"); ref != "" {
		return ref
	}
	raw := sqlcommon.String(cfg, "url")
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := u.Hostname()
	if ref, ok := strings.CutSuffix(host, ".supabase.co"); ok && !strings.Contains(ref, ".") {
		return ref
	}
	return ""
}

// literals are values that must never appear in what this driver prints.
func (c connConfig) literals() []string {
	return []string{c.password.Reveal(), c.dsn.Reveal(), c.user, c.host,
		net.JoinHostPort(c.host, strconv.Itoa(c.port))}
}

// pqConfig builds lib/pq's configuration from a DSN made with url.UserPassword (so a
// password holding @ or / needs no escaping by the user), or from the user's own DSN with
// the password added. Errors never quote the DSN.
func (c connConfig) pqConfig(step string) (pq.Config, error) {
	dsn, err := c.buildDSN()
	if err != nil {
		return pq.Config{}, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: the Postgres DSN is not a valid postgres:// URL or key=value string", step)
	}
	// Limitation: lib/pq also reads PG* environment variables and ~/.pgpass for fields
	// the connection leaves empty; it offers no way to turn that off.
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return pq.Config{}, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: the Postgres connection settings are invalid", step)
	}
	if cfg.ApplicationName == "" {
		cfg.ApplicationName = c.appName
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	if cfg.Password == "" && c.password != "" {
		cfg.Password = c.password.Reveal()
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	if _, ok := cfg.Runtime["timezone"]; !ok {
		cfg.Runtime["timezone"] = "UTC"
	}
	return cfg, nil
}

func (c connConfig) buildDSN() (string, error) {
	if dsn := c.dsn.Reveal(); dsn != "" {
		if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
			return dsn, nil
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		if _, has := u.User.Password(); !has && c.password != "" && u.User != nil {
			u.User = url.UserPassword(u.User.Username(), c.password.Reveal())
		}
		q := u.Query()
		if q.Get("sslmode") == "" {
			q.Set("sslmode", c.sslmode)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	u := url.URL{
		Scheme: "postgres",
		User:   url.UserPassword(c.user, c.password.Reveal()),
		Host:   net.JoinHostPort(c.host, strconv.Itoa(c.port)),
		Path:   "/" + c.database,
	}
	q := url.Values{}
	q.Set("sslmode", c.sslmode)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// open connects and probes the server. On failure nothing stays open and the error is a
// classified, print-safe *drivers.Error.
func (c connConfig) open(ctx context.Context, step string, logger *slog.Logger,
	maxConns int) (*sql.DB, error) {
	cfg, err := c.pqConfig(step)
	if err != nil {
		return nil, err
	}
	var connector driver.Connector
	base, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: the Postgres connection settings are invalid", step)
	}
	connector = base
	if c.fallback && !dialAsIs(cfg.Host) {
		connector = &ipv4Connector{cfg: cfg, logger: logger, resolve: c.resolver}
	}
	return sqlcommon.OpenPool(ctx, connector, maxConns, 0,
		func(err error) error { return c.connectError(step, err) })
}

// connectError re-words a failed connect: step and category, never server text. It says
// how many IPv4 addresses the fallback tried, and that a Supabase direct host is often
// reachable over IPv6 only.
func (c connConfig) connectError(step string, err error) error {
	return server.ConnectError(step, err, func(category string) string {
		more := ""
		if attempts, ok := attemptsOf(err); ok {
			more += " (after " + strconv.Itoa(attempts) + " IPv4 attempts)"
		}
		if category == drivers.CategoryNetwork && strings.HasPrefix(c.host, "db.") &&
			strings.HasSuffix(c.host, ".supabase.co") {
			more += "; db.<ref>.supabase.co is often IPv6-only: use the pooler DSN " +
				"(user postgres.<ref>) from the Supabase dashboard"
		}
		return more
	})
}

// queryError re-words a failed statement, keeping the server's message minus users,
// hosts and addresses: it usually says what is wrong.
func (c connConfig) queryError(step, what string, err error) error {
	return server.QueryError(step, what, err, c.literals()...)
}
