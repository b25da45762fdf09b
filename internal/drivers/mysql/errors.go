package mysql

import (
	"context"
	"errors"
	"fmt"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/osirisgo/osiris/internal/drivers"
	"github.com/osirisgo/osiris/internal/drivers/sqlcommon"
)

// server words this driver's failures the way every SQL driver does.
var server = sqlcommon.Server{Name: "MySQL", Classify: classify, Phrase: phrase,
	ServerText: serverText}

// classify names the category of a MySQL failure from its error number or network type,
// never from its text.
func classify(err error) string {
	if err == nil {
		return drivers.CategoryOK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return drivers.CategoryTimeout
	}
	var myErr *gomysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1045, 1698, 1251, 1862, 1820:
			return drivers.CategoryAuth
		case 1044, 1142, 1143, 1227, 1370:
			return drivers.CategoryPermission
		case 1049:
			return drivers.CategoryConfig
		case 1040, 1053, 1129, 1130, 1152, 1158, 1159, 1160, 1161, 2002, 2003, 2005, 2006,
			2013:
			return drivers.CategoryNetwork
		case 1205, 3024, 1969:
			return drivers.CategoryTimeout
		}
		return "query"
	}
	if category, ok := sqlcommon.NetworkCategory(err); ok {
		return category
	}
	if errors.Is(err, gomysql.ErrInvalidConn) {
		return drivers.CategoryNetwork
	}
	return drivers.CategoryUnknown
}

// phrase is the fixed wording of a category, shown instead of server text.
func phrase(category string) string {
	switch category {
	case drivers.CategoryPermission:
		return "Access denied to database"
	case drivers.CategoryConfig:
		return "Unknown database"
	}
	return sqlcommon.Phrase(category)
}

// serverText is what the server said about a failed statement (its number and message),
// or a fixed phrase for errors that did not come from the server.
func serverText(err error) string {
	var myErr *gomysql.MySQLError
	if errors.As(err, &myErr) {
		return fmt.Sprintf("error %d: %s", myErr.Number, myErr.Message)
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return phrase(classify(err))
}
