// Package graphqltest runs the real GraphQL server of the integration tests (graphql-js
// with graphql-http, in test/js/graphql-server) for tests in any package.
package graphqltest

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ServerDir is test/js/graphql-server, found from this file so that tests in any
// directory reach it.
func ServerDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "test", "js",
		"graphql-server")
}

// AirportsCSV is the server's data: the airports file it serves.
func AirportsCSV() string { return filepath.Join(ServerDir(), "airports.csv") }

// Airports reads the served rows: the CSV header, and every record keyed by IATA code.
func Airports(t testing.TB) ([]string, map[string][]string) {
	t.Helper()
	f, err := os.Open(AirportsCSV())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byIATA := map[string][]string{}
	for _, rec := range records[1:] {
		byIATA[rec[0]] = rec
	}
	return records[0], byIATA
}

// needNode skips without node or the installed npm packages, except under CI, where a
// missing server is a failure.
func needNode(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(ServerDir(), "node_modules", "graphql-http"))
	}
	if err != nil {
		msg := fmt.Sprintf("GraphQL test server unavailable (%v); run scripts/test-deps.sh", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node
}

// Start runs the server on a free loopback port, waits until it says it is ready, and
// stops it when the test ends. extraEnv (NAME=value) configures it, for example
// REQUIRE_TOKEN=<token>. It returns the endpoint URL.
func Start(t testing.TB, extraEnv ...string) string {
	t.Helper()
	node := needNode(t)
	var lastErr error
	for range 3 { // a port found free can be taken before node binds it
		url, err := tryStart(t, node, extraEnv)
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("start GraphQL test server: %v", lastErr)
	return ""
}

func tryStart(t testing.TB, node string, extraEnv []string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	cmd := exec.Command(node, "server.js")
	cmd.Dir = ServerDir()
	cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port)},
		extraEnv...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}

	ready := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if url, ok := strings.CutPrefix(scanner.Text(), "ready "); ok {
				ready <- url
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan struct{})
	go func() {
		<-scanned // Wait closes stdout, so read it to the end first
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	select {
	case url := <-ready:
		t.Cleanup(stop)
		return url, nil
	case <-exited:
		return "", fmt.Errorf("node exited before it was ready (port %d)", port)
	case <-time.After(30 * time.Second):
		stop()
		return "", fmt.Errorf("node not ready after 30 s")
	}
}
