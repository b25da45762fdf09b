package sqlcommon

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osirisgo/osiris/internal/drivers"
)

func TestScrubRemovesUsersHostsAndAddresses(t *testing.T) {
	cases := []string{
		"Error 1045 (28000): Access denied for user 'osiris'@'10.1.2.3' (using password: YES)",
		`pq: password authentication failed for user "osiris" (28P01)`,
		"dial tcp 192.168.7.9:5432: connect: connection refused",
		"dial tcp [2a05:d014::1]:5432: connect: network is unreachable",
		"dial tcp db.abc.supabase.co:5432: lookup db.abc.supabase.co: no such host",
		"connect to osiris@db.example.org failed",
	}
	for _, text := range cases {
		got := Scrub(text, "hunter2-secret")
		for _, leak := range []string{"osiris", "10.1.2.3", "192.168.7.9", "2a05", ":5432",
			"db.abc.supabase.co", "db.example.org"} {
			if strings.Contains(got, leak) {
				t.Errorf("Scrub(%q) = %q still holds %q", text, got, leak)
			}
		}
	}
	if got := Scrub("table t: hunter2-secret", "hunter2-secret"); strings.Contains(got, "hunter2") {
		t.Errorf("literal kept: %q", got)
	}
	if got := Scrub("Table 'shop.orders' doesn't exist"); got != "Table 'shop.orders' doesn't exist" {
		t.Errorf("plain server text changed: %q", got)
	}
}

func TestPrefetchServesInOrderAndReleasesOnce(t *testing.T) {
	var released atomic.Int32
	n := 0
	read := func(ctx context.Context) ([][]any, error) {
		if n == 5 {
			return nil, io.EOF
		}
		n++
		return [][]any{{n}}, nil
	}
	p := StartPrefetch(context.Background(), []drivers.Column{{Name: "n"}}, 2, read,
		func() error { released.Add(1); return nil })
	rows, err := drivers.ReadAll(context.Background(), p)
	if err != nil || len(rows) != 5 || rows[4][0] != 5 {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	_ = p.Close()
	if released.Load() != 1 {
		t.Errorf("released %d times", released.Load())
	}
}

func TestPrefetchCancelIsNotEndOfData(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	read := func(ctx context.Context) ([][]any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p := StartPrefetch(ctx, nil, 1, read, nil)
	cancel()
	if _, err := p.Next(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
