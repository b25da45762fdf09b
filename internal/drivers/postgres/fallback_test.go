package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osirisgo/osiris/internal/drivers"
)

// fakePostgres is a loopback listener that speaks just enough of the protocol to refuse
// TLS and then fail authentication (SQLSTATE 28P01), counting the sockets it holds.
type fakePostgres struct {
	ln       net.Listener
	open     atomic.Int64
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func startFake(t *testing.T) *fakePostgres {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePostgres{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.accepted.Add(1)
			f.open.Add(1)
			f.wg.Add(1)
			go f.serve(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakePostgres) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakePostgres) serve(c net.Conn) {
	defer f.wg.Done()
	defer f.open.Add(-1)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		var length int32
		if err := binary.Read(c, binary.BigEndian, &length); err != nil || length < 8 {
			return
		}
		body := make([]byte, length-4)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		if binary.BigEndian.Uint32(body[:4]) == 80877103 { // SSLRequest
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		var msg bytes.Buffer
		for _, field := range []string{"SFATAL", "VFATAL", "C28P01",
			`Mpassword authentication failed for user "postgres.fakeref"`} {
			msg.WriteString(field)
			msg.WriteByte(0)
		}
		msg.WriteByte(0)
		out := []byte{'E', 0, 0, 0, 0}
		binary.BigEndian.PutUint32(out[1:], uint32(msg.Len()+4))
		_, _ = c.Write(append(out, msg.Bytes()...))
		// Wait for the client to hang up, so an open count shows a client that did not.
		_, _ = io.Copy(io.Discard, c)
		return
	}
}

// waitClosed waits until the fake holds no socket, failing after a generous while.
func (f *fakePostgres) waitClosed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.open.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("fake server still holds %d sockets", f.open.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func supabaseConn(t *testing.T, port int, sslmode string, ips ...string) connConfig {
	t.Helper()
	conn, err := readConn("sb", familySupabase, map[string]any{"resolved_connection": map[string]any{
		"pg_host": "db.fakeref.supabase.co", "pg_port": port, "pg_user": "postgres.fakeref",
		"pg_password": testPassword, "sslmode": sslmode}})
	if err != nil {
		t.Fatal(err)
	}
	conn.resolver = func(ctx context.Context, host string) ([]net.IP, error) {
		var out []net.IP
		for _, ip := range ips {
			out = append(out, net.ParseIP(ip))
		}
		return out, nil
	}
	return conn
}

func TestIPv4FallbackStopsAtAuthFailure(t *testing.T) {
	fake := startFake(t)
	env := newEnv(t)
	// 127.0.0.2 refuses (nothing listens there), 127.0.0.1 fails authentication, and
	// 127.0.0.3 must then never be tried. The duplicate is tried once.
	conn := supabaseConn(t, fake.port(), "disable", "127.0.0.2", "127.0.0.2", "127.0.0.1",
		"127.0.0.3")
	_, err := conn.open(context.Background(), "sb", env.Logger(), 1)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Category != drivers.CategoryAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	logs := env.Transcript()
	if !strings.Contains(logs, "IPv4 attempt 1/3 failed (network)") ||
		!strings.Contains(logs, "IPv4 attempt 2/3 failed (auth)") ||
		strings.Contains(logs, "attempt 3/3") {
		t.Errorf("attempt log:\n%s", logs)
	}
	if n := fake.accepted.Load(); n != 1 {
		t.Errorf("fake accepted %d connections, want 1", n)
	}
	fake.waitClosed(t)
	assertNoSecret(t, "fallback output", logs+err.Error())
	if strings.Contains(logs+err.Error(), strconv.Itoa(fake.port())) {
		t.Errorf("output names the port:\n%s%s", logs, err)
	}
}

func TestIPv4FallbackTriesEveryAddressOnTLSFailure(t *testing.T) {
	fake := startFake(t)
	env := newEnv(t)
	// sslmode=require against a server that refuses TLS: each address fails the TLS step.
	conn := supabaseConn(t, fake.port(), "require", "127.0.0.1", "127.0.0.2")
	_, err := conn.open(context.Background(), "sb", env.Logger(), 1)
	var de *drivers.Error
	if !errors.As(err, &de) || de.Category != drivers.CategoryNetwork {
		t.Fatalf("err = %v, want network", err)
	}
	if !strings.Contains(err.Error(), "after 2 IPv4 attempts") ||
		!strings.Contains(err.Error(), "pooler") {
		t.Errorf("error = %q", err)
	}
	if !strings.Contains(env.Transcript(),
		"postgres connection failed after 2 IPv4 attempts (network)") {
		t.Errorf("logs:\n%s", env.Transcript())
	}
	fake.waitClosed(t)
	assertNoSecret(t, "fallback output", env.Transcript()+err.Error())
}
