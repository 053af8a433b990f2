package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestChaosProxyRefusesSmugglingAndCrashesAreNotNoGo runs `surge chaos
// proxy` as its own process in front of a service that counts what
// reaches it. A request with both Content-Length and Transfer-Encoding,
// with a request smuggled behind its body, is refused, the connection
// closes, and the smuggled request never reaches the service. Then the
// process is made to crash (SIGQUIT, the runtime's own fatal path, as a
// panic or running out of memory take): it dies by SIGABRT, never with
// exit 2, which a CI job reads as NO-GO.
func TestChaosProxyRefusesSmugglingAndCrashesAreNotNoGo(t *testing.T) {
	var reached atomic.Int64
	var smuggled atomic.Bool
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.URL.Path == "/smuggled" {
			smuggled.Store(true)
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer svc.Close()
	faults := filepath.Join(t.TempDir(), "faults.yaml")
	os.WriteFile(faults, []byte("faults:\n  - {name: slow, after: 1h, for: 1s, kind: latency, latency: 1ms}\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := command(ctx, "", "surge", nil, "chaos", "proxy", "--listen", "127.0.0.1:0", "--to", svc.URL, "--faults", faults, "--duration", "50s")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the proxy said nothing: %v", err)
	}
	_, rest, _ := strings.Cut(line, "listening on http://")
	addr, _, _ := strings.Cut(rest, " ")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("a request with Content-Length and Transfer-Encoding through the proxy: %d, want 400", resp.StatusCode)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Error("a second answer on the connection: the smuggled request was served")
	}
	conn.Close()
	if smuggled.Load() || reached.Load() != 0 {
		t.Errorf("the service was reached %d times (smuggled: %v), want never", reached.Load(), smuggled.Load())
	}

	cmd.Process.Signal(syscall.SIGQUIT)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("after SIGQUIT: %v, want the process to crash", err)
	}
	ws := exit.Sys().(syscall.WaitStatus)
	if ws.ExitStatus() == exitNoGo || !ws.Signaled() || ws.Signal() != syscall.SIGABRT {
		t.Errorf("a crash ended with exit status %d (signal %v), want SIGABRT and never %d (NO-GO)", ws.ExitStatus(), ws.Signal(), exitNoGo)
	}
}

// TestHostileInputExitsOne: a scenario holding 5,000,000 profile entries
// in 10 MB, and a negative duration flag, are bad input: exit 1 with a
// short message, never a crash or NO-GO.
func TestHostileInputExitsOne(t *testing.T) {
	smoke, err := os.ReadFile("../../scenarios/smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.yaml")
	os.WriteFile(huge, []byte(strings.Replace(string(smoke), "profile: [33.3%, 33.4%, 33.3%]", "profile: ["+strings.Repeat("1,", 5_000_000)+"1]", 1)), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(string(smoke), "profile: [33.3%, 33.4%, 33.3%]", "profile: ["+strings.Repeat("1,", 5_000)+"1]", 1)), 0o644)
	for _, c := range []struct {
		args       []string
		want       string
		most       int // lines of output at most
		fromStderr bool
	}{
		{[]string{"validate", huge}, "the most a document here may hold", 3, false},
		{[]string{"sim", huge}, "the most a document here may hold", 3, true},
		{[]string{"validate", bad}, "... and 4901 more problems", 102, false},
		{[]string{"sim", bad}, "... and 4901 more problems", 102, true},
		{[]string{"run", "../../scenarios/smoke.yaml", "--drain", "-1s"}, "--drain -1s: a duration must not be negative", 1, true},
	} {
		code, out, errs := runSurge(c.args...)
		text := out
		if c.fromStderr {
			text = errs
		}
		if code != exitError || !strings.Contains(text, c.want) || strings.Count(text, "\n") > c.most {
			first, _, _ := strings.Cut(text, "\n")
			t.Errorf("surge %s: exit %d, %d lines, first %q; want exit 1 with %q in at most %d lines", c.args[0], code, strings.Count(text, "\n"), first, c.want, c.most)
		}
	}
}
