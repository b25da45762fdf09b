// Package mysql is the driver of mysql.extractor and mysql.writer: it streams rows out of
// MySQL or MariaDB and loads rows into them with LOAD DATA LOCAL INFILE (or multi-row
// INSERT where the server does not allow it).
package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
	"github.com/osirisgo/osiris/internal/secrets"
)

// connTimeout bounds dialing, and each read and write on the wire, so that a server that
// stops answering fails the step instead of hanging it.
const connTimeout = 30 * time.Second

// connConfig is a step's connection, read from its configuration. The password is a
// Secret so that no format verb or log call can print it.
type connConfig struct {
	host        string
	port        int
	database    string
	user        string
	password    secrets.Secret
	poolSize    int
	poolRecycle time.Duration
	echo        bool
}

// readConn reads the connection keys of a step (inline or under resolved_connection).
func readConn(step string, cfg map[string]any) (connConfig, error) {
	merged := sqlcommon.Merged(cfg)
	c := connConfig{
		host:     sqlcommon.String(merged, "host"),
		database: sqlcommon.String(merged, "database", "db"),
		user:     sqlcommon.String(merged, "user", "username"),
		password: sqlcommon.Secret(merged, "password"),
	}
	if c.host == "" {
		c.host = "localhost"
	}
	var err error
	if c.port, err = sqlcommon.Int(step, merged, "port", 3306); err != nil {
		return c, err
	}
	if c.port < 1 || c.port > 65535 {
		return c, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: 'port' must be between 1 and 65535", step)
	}
	if c.poolSize, err = sqlcommon.Int(step, merged, "pool_size", 5); err != nil {
		return c, err
	}
	recycle, err := sqlcommon.Int(step, merged, "pool_recycle", 3600)
	if err != nil {
		return c, err
	}
	c.poolRecycle = time.Duration(recycle) * time.Second
	if c.echo, err = sqlcommon.Bool(step, merged, "echo", false); err != nil {
		return c, err
	}
	if c.database == "" {
		return c, sqlcommon.Required(step, "database")
	}
	if c.user == "" {
		return c, sqlcommon.Required(step, "user")
	}
	return c, nil
}

// literals are the values that must never appear in what this driver prints.
func (c connConfig) literals() []string {
	return []string{c.password.Reveal(), c.user, c.host, net.JoinHostPort(c.host,
		strconv.Itoa(c.port))}
}

// driverConfig builds the MySQL driver's configuration as a struct: no DSN string holding
// the password ever exists.
func (c connConfig) driverConfig(logger *slog.Logger) *gomysql.Config {
	dc := gomysql.NewConfig()
	dc.User = c.user
	dc.Passwd = c.password.Reveal()
	dc.Net = "tcp"
	dc.Addr = net.JoinHostPort(c.host, strconv.Itoa(c.port))
	dc.DBName = c.database
	dc.ParseTime = true
	dc.Loc = time.UTC
	dc.Timeout = connTimeout
	dc.ReadTimeout = connTimeout
	dc.WriteTimeout = connTimeout
	dc.AllowNativePasswords = true
	dc.ConnectionAttributes = "program_name:osiris"
	dc.Params = map[string]string{"time_zone": "'+00:00'"}
	dc.Logger = scrubbingLogger{logger: logger, literals: c.literals()}
	_ = dc.Apply(gomysql.Charset("utf8mb4", "utf8mb4_unicode_ci"))
	return dc
}

// scrubbingLogger receives the MySQL library's own diagnostics (dial failures carry the
// address) and logs them at debug level with users, hosts and addresses removed.
type scrubbingLogger struct {
	logger   *slog.Logger
	literals []string
}

// Print implements the MySQL library's Logger.
func (l scrubbingLogger) Print(v ...any) {
	if l.logger == nil {
		return
	}
	l.logger.Debug("mysql library: " + sqlcommon.Scrub(fmt.Sprint(v...), l.literals...))
}

// open connects and probes the server with SELECT 1. On failure nothing stays open and
// the error is a classified, print-safe *drivers.Error.
func (c connConfig) open(ctx context.Context, step string, logger *slog.Logger) (*sql.DB,
	error) {
	connector, err := gomysql.NewConnector(c.driverConfig(logger))
	if err != nil {
		return nil, drivers.Errorf(step, drivers.KindConfig, nil,
			"Step %s: invalid MySQL connection settings", step)
	}
	return sqlcommon.OpenPool(ctx, connector, c.poolSize, c.poolRecycle,
		func(err error) error { return c.connectError(step, err) })
}

// connectError re-words a failed connect: which step, which category, never the server's
// text (MySQL error 1045 names user@host).
func (c connConfig) connectError(step string, err error) error {
	return server.ConnectError(step, err, nil)
}

// queryError re-words a failed statement, keeping the server's text minus users, hosts
// and addresses, which usually says what is wrong with the SQL.
func (c connConfig) queryError(step, what string, err error) error {
	return server.QueryError(step, what, err, c.literals()...)
}
