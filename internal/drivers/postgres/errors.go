package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/lib/pq"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// server words this driver's failures the way every SQL driver does.
var server = sqlcommon.Server{Name: "Postgres", Classify: classify, Phrase: phrase,
	ServerText: serverText}

// classify names the category of a Postgres failure from its SQLSTATE or error type,
// never from its text.
func classify(err error) string {
	if err == nil {
		return drivers.CategoryOK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return drivers.CategoryTimeout
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		code := string(pqErr.Code)
		switch {
		case code == "28P01" || code == "28000":
			return drivers.CategoryAuth
		case code == "42501":
			return drivers.CategoryPermission
		case code == "3D000":
			return drivers.CategoryConfig
		case strings.HasPrefix(code, "08"), code == "53300", code == "57P01", code == "57P02",
			code == "57P03":
			return drivers.CategoryNetwork
		case code == "57014":
			return "cancelled"
		}
		return "query"
	}
	if errors.Is(err, pq.ErrSSLNotSupported) {
		return drivers.CategoryNetwork
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuthority) ||
		errors.As(err, &hostnameErr) || errors.As(err, &recordErr) {
		return drivers.CategoryNetwork
	}
	if category, ok := sqlcommon.NetworkCategory(err); ok {
		return category
	}
	if errors.Is(err, net.ErrClosed) {
		return drivers.CategoryNetwork
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return drivers.CategoryUnknown
}

// phrase is the fixed wording of a category, shown instead of server text.
func phrase(category string) string {
	switch category {
	case drivers.CategoryPermission:
		return "Permission denied"
	case drivers.CategoryConfig:
		return "Database does not exist"
	case "cancelled":
		return "cancelled"
	}
	return sqlcommon.Phrase(category)
}

// serverText is the server's message with its SQLSTATE and, for COPY, where it happened
// (the line and column), or a fixed phrase for errors that did not come from the server.
func serverText(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		text := fmt.Sprintf("%s (SQLSTATE %s)", pqErr.Message, pqErr.Code)
		if pqErr.Where != "" {
			text += "; " + pqErr.Where
		}
		return text
	}
	return phrase(classify(err))
}
