package sqlcommon

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

// fakeServer classifies by the error's text so that each branch can be reached without a
// database library.
var fakeServer = Server{
	Name: "Fake",
	Classify: func(err error) string {
		if strings.Contains(err.Error(), "auth") {
			return drivers.CategoryAuth
		}
		return "query"
	},
	Phrase:     func(category string) string { return "phrase of " + category },
	ServerText: func(err error) string { return err.Error() },
}

func TestServerQueryErrorHidesSecretsAndConnectionText(t *testing.T) {
	err := fakeServer.QueryError("load", "insert",
		errors.New("bad value for user 'osiris'@'10.0.0.7' hunter2-secret"), "hunter2-secret")
	if err.Kind != drivers.KindQuery || err.Category != "query" {
		t.Errorf("kind %q category %q", err.Kind, err.Category)
	}
	for _, leak := range []string{"hunter2", "osiris", "10.0.0.7"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("%q holds %q", err.Error(), leak)
		}
	}
	if !strings.HasPrefix(err.Msg, "Fake insert failed for step load: bad value") {
		t.Errorf("message %q", err.Msg)
	}

	auth := fakeServer.QueryError("load", "insert", errors.New("auth for 'osiris'@'h'"))
	if auth.Kind != drivers.KindConnection || auth.Msg !=
		"Fake insert failed for step load: phrase of auth" {
		t.Errorf("auth failure: kind %q, message %q", auth.Kind, auth.Msg)
	}
	conn := fakeServer.ConnectError("src", errors.New("auth"),
		func(category string) string { return " (" + category + " advice)" })
	if conn.Msg != "Fake connection failed for step src: phrase of auth (auth advice)" ||
		conn.Category != drivers.CategoryAuth {
		t.Errorf("connect error %q, category %q", conn.Msg, conn.Category)
	}
}

func TestServerInputError(t *testing.T) {
	worded := drivers.Errorf("up", drivers.KindData, nil, "already worded")
	if got := fakeServer.InputError("load", fmt.Errorf("wrapped: %w", worded)); !errors.As(got,
		new(*drivers.Error)) || !strings.Contains(got.Error(), "already worded") {
		t.Errorf("a worded error was re-worded: %v", got)
	}
	if got := fakeServer.InputError("load", context.Canceled).Error(); !strings.Contains(got,
		"Fake write cancelled for step load") {
		t.Errorf("cancel: %q", got)
	}
	if got := fakeServer.InputError("load", errors.New("disk")).Error(); !strings.Contains(got,
		"reading the input failed") {
		t.Errorf("input failure: %q", got)
	}
}

func TestNetworkCategory(t *testing.T) {
	timeout := &net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}
	for _, tc := range []struct {
		err  error
		want string
		ok   bool
	}{
		{timeout, drivers.CategoryTimeout, true},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, drivers.CategoryNetwork, true},
		{fmt.Errorf("ping: %w", driver.ErrBadConn), drivers.CategoryNetwork, true},
		{errors.New("syntax error"), "", false},
	} {
		got, ok := NetworkCategory(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NetworkCategory(%v) = %q, %v; want %q, %v", tc.err, got, ok, tc.want, tc.ok)
		}
	}
}
