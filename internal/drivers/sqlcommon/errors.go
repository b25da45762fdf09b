package sqlcommon

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// Server is what the shared code needs to know about a database server to word its
// failures: the name errors begin with, and the driver's own reading of an error. The
// reading stays with each driver because it rests on the driver library's error types.
type Server struct {
	// Name begins every message, as users call the server ("MySQL", "Postgres").
	Name string
	// Classify names the category of a failure (drivers.CategoryAuth, ...).
	Classify func(error) string
	// Phrase is the fixed wording of a category, shown instead of server text.
	Phrase func(category string) string
	// ServerText is what the server said about a failed statement, or a fixed phrase
	// when the error did not come from the server.
	ServerText func(error) string
}

// ConnectError re-words a failed connect: which step and which category, never the
// server's text (an authentication failure may name user@host). addendum, when not nil,
// may add advice for the category; its text is appended as is.
func (s Server) ConnectError(step string, err error,
	addendum func(category string) string) *drivers.Error {
	category := s.Classify(err)
	msg := s.Name + " connection failed for step " + step + ": " + s.Phrase(category)
	if addendum != nil {
		msg += addendum(category)
	}
	e := drivers.Errorf(step, drivers.KindConnection, err, "%s", msg)
	e.Category = category
	return e
}

// QueryError re-words a failed statement (what: "query", "insert", "commit"...). A
// failure of the connection under it gets the category's fixed phrase; any other keeps
// the server's text minus users, hosts, addresses and the literals (the step's password,
// user and host), because that text usually says what is wrong with the SQL.
func (s Server) QueryError(step, what string, err error, literals ...string) *drivers.Error {
	category := s.Classify(err)
	switch category {
	case drivers.CategoryAuth, drivers.CategoryNetwork, drivers.CategoryTimeout:
		e := drivers.Errorf(step, drivers.KindConnection, err, "%s %s failed for step %s: %s",
			s.Name, what, step, s.Phrase(category))
		e.Category = category
		return e
	}
	e := drivers.Errorf(step, drivers.KindQuery, err, "%s %s failed for step %s: %s",
		s.Name, what, step, Scrub(s.ServerText(err), literals...))
	e.Category = category
	return e
}

// InputError words a failure of a writer's upstream stream, which is not the server's:
// an error already worded by a driver passes as is, a cancellation says so, anything else
// says the input failed.
func (s Server) InputError(step string, err error) error {
	var de *drivers.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return drivers.Errorf(step, drivers.KindIO, err, "%s write cancelled for step %s",
			s.Name, step)
	}
	return drivers.Errorf(step, drivers.KindIO, err,
		"%s write failed for step %s: reading the input failed", s.Name, step)
}

// Phrase is the fixed wording of the categories every SQL driver shares, and of an
// unknown one. A driver words permission and config failures (and any category of its
// own) in its server's terms first, then falls back to this.
func Phrase(category string) string {
	switch category {
	case drivers.CategoryOK:
		return "Connection successful"
	case drivers.CategoryAuth:
		return "Authentication failed"
	case drivers.CategoryNetwork:
		return "Cannot connect to server"
	case drivers.CategoryTimeout:
		return "Connection timeout"
	}
	return "Connection test failed"
}

// NetworkCategory classifies a failure on the way to the server (dial, DNS, timeout, a
// connection the driver gave up on) as timeout or network. ok is false for any other
// error, which the driver then reads by its own types.
func NetworkCategory(err error) (category string, ok bool) {
	var netErr net.Error
	if errors.As(err, &netErr) {
		if netErr.Timeout() {
			return drivers.CategoryTimeout, true
		}
		return drivers.CategoryNetwork, true
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, driver.ErrBadConn) {
		return drivers.CategoryNetwork, true
	}
	return "", false
}

// OpenPool opens a pool of at most maxConns connections (kept idle too) over connector,
// each reused for at most lifetime (0: no limit), and probes the server. On failure
// nothing stays open and the error is what connectError makes of the probe's.
func OpenPool(ctx context.Context, connector driver.Connector, maxConns int,
	lifetime time.Duration, connectError func(error) error) (*sql.DB, error) {
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(max(maxConns, 1))
	db.SetMaxIdleConns(max(maxConns, 1))
	db.SetConnMaxLifetime(lifetime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, connectError(err)
	}
	return db, nil
}
