package replay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
)

// h1Do sends one request through send, as a user does, and returns what
// the user sees.
func h1Do(t *testing.T, h client.Load, method, path string, timeout time.Duration) answer {
	t.Helper()
	var sent time.Time
	var s scratch
	ans := sendVia(context.Background(), h, &scenarios.Request{Method: method, Path: path}, vars{}, timeout, &sent, &s)
	if ans.kind == "" && sent.IsZero() {
		t.Errorf("%s %s: answered with no send time", method, path)
	}
	return ans
}

func newTestH1(t *testing.T, target string, maxConns int) client.Load {
	t.Helper()
	h, err := client.New(context.Background(), target, ProtocolHTTP1, maxConns, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.CloseIdle)
	return h
}

// connCounter counts the connections a test server accepts.
func connCounter(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestH1BodiesOverOneKeptConnection(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<10) // 16 KiB: over the read buffer
	mux := http.NewServeMux()
	mux.HandleFunc("/len", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, World!") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for _, part := range []string{"one,", "two,", big} {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/none", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error": {"code": "nope"}}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	h := newTestH1(t, srv.URL, 4)
	for i := range 20 {
		for _, c := range []struct {
			method, path string
			status       int
			body         string
		}{
			{"GET", "/len", 200, "Hello, World!"},
			{"HEAD", "/len", 200, ""},
			{"GET", "/big", 200, big},
			{"POST", "/chunked", 200, "one,two," + big},
			{"DELETE", "/none", 204, ""},
			{"GET", "/missing", 404, `{"error": {"code": "nope"}}`},
		} {
			ans := h1Do(t, h, c.method, c.path, 5*time.Second)
			if ans.status != c.status || string(ans.body) != c.body {
				t.Fatalf("round %d: %s %s: status %d kind %q body %.40q, want %d %.40q", i, c.method, c.path, ans.status, ans.kind, ans.body, c.status, c.body)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("120 sequential requests used %d connections, want 1 kept alive", n)
	}
}

// rawServer answers every request on a connection with answer, and closes
// the connection after `per` requests (0: never). It returns the base URL
// and a count of connections.
func rawServer(t *testing.T, answer string, per int) (string, *atomic.Int64) {
	url, conns, _ := scriptedServer(t, func(n int) (string, bool) { return answer, n != per })
	return url, conns
}

// scriptedServer reads requests on each connection and writes what script
// says for the connection's nth (from 1): an answer (none if ""), and
// whether to go on reading. It returns the base URL and counts of the
// connections and of the requests read.
func scriptedServer(t *testing.T, script func(n int) (answer string, more bool)) (string, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns, reqs atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for n := 1; ; n++ {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					reqs.Add(1)
					answer, more := script(n)
					if answer != "" {
						if _, err := io.WriteString(c, answer); err != nil {
							return
						}
					}
					if !more {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String(), &conns, &reqs
}

func TestH1RawAnswers(t *testing.T) {
	long := strings.Repeat("x", 10<<10)
	for _, c := range []struct {
		name, answer string
		per          int
		status       int
		body, kind   string
		conns        int64 // for 5 requests
	}{
		{"HTTP/1.0, read to close", "HTTP/1.0 200 OK\r\n\r\nold", 1, 200, "old", "", 5},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nka", 0, 200, "ka", "", 1},
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 1, 200, "ok", "", 5},
		{"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew", 0, 201, "new", "", 1},
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n", 0, 200, "abcde", "", 1},
		{"a header longer than the buffer", "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\nContent-Length: 1\r\n\r\nz", 0, 200, "z", "", 1},
		{"LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nlf", 0, 200, "lf", "", 1},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 0, 200, "ok", "", 1},
		{"503 shed", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 0, 503, "", "shed", 1},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 0, 0, "", "reset", 5},
		{"a body cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1, 0, "", "reset", 5},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, 0, "", "reset", 5},
		{"a bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0, "", "reset", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, conns := rawServer(t, c.answer, c.per)
			h := newTestH1(t, url, 2)
			for i := range 5 {
				ans := h1Do(t, h, "GET", "/", 2*time.Second)
				if ans.status != c.status || string(ans.body) != c.body || ans.kind != c.kind {
					t.Fatalf("request %d: status %d body %q kind %q, want %d %q %q", i, ans.status, ans.body, ans.kind, c.status, c.body, c.kind)
				}
			}
			if n := conns.Load(); n != c.conns {
				t.Errorf("5 requests used %d connections, want %d", n, c.conns)
			}
		})
	}
}

// A server that closes a kept-alive connection while it sits idle (as any
// server does after its idle timeout) must not fail the next request on it.
func TestH1StaleConnectionIsSentAgain(t *testing.T) {
	url, conns := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1) // keep-alive framing, then it hangs up
	h := newTestH1(t, url, 1)
	for i := range 20 {
		if ans := h1Do(t, h, "POST", "/", 2*time.Second); ans.kind != "" || string(ans.body) != "ok" {
			t.Fatalf("request %d on a connection the server had closed: kind %q body %q", i, ans.kind, ans.body)
		}
		time.Sleep(2 * time.Millisecond) // let the server's FIN arrive
	}
	if n := conns.Load(); n != 20 {
		t.Errorf("%d connections, want 20 (one per request)", n)
	}
	// idle past the last request's own deadline: the peek still looks
	if ans := h1Do(t, h, "POST", "/", 50*time.Millisecond); ans.kind != "" {
		t.Fatalf("a POST with a 50 ms timeout: kind %q", ans.kind)
	}
	time.Sleep(100 * time.Millisecond)
	if ans := h1Do(t, h, "POST", "/", 2*time.Second); ans.kind != "" {
		t.Errorf("a POST on a connection closed while idle past its last deadline: kind %q", ans.kind)
	}
}

// A server that reads a request and hangs up without answering may have
// done the work: a POST is not sent again (net/http's rule), a GET is.
func TestH1NotIdempotentIsNotSentTwice(t *testing.T) {
	for _, tc := range []struct {
		method   string
		wantKind string
		wantSeen int64 // requests the server read
	}{
		{"POST", "reset", 2},
		{"PATCH", "reset", 2},
		{"GET", "", 3},
		{"PUT", "", 3},
	} {
		t.Run(tc.method, func(t *testing.T) {
			// the first request on each connection answered, the second read and not
			url, _, seen := scriptedServer(t, func(n int) (string, bool) {
				if n == 2 {
					return "", false
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true
			})
			h := newTestH1(t, url, 1)
			if ans := h1Do(t, h, tc.method, "/", 2*time.Second); ans.kind != "" {
				t.Fatalf("first %s: kind %q", tc.method, ans.kind)
			}
			// at once: the connection is kept, and the server reads this
			// request before it hangs up
			ans := h1Do(t, h, tc.method, "/", 2*time.Second)
			if ans.kind != tc.wantKind {
				t.Errorf("second %s, its connection hung up after the request was read: kind %q, want %q", tc.method, ans.kind, tc.wantKind)
			}
			if n := seen.Load(); n != tc.wantSeen {
				t.Errorf("the server read %d requests, want %d", n, tc.wantSeen)
			}
			if want := int(tc.wantSeen - 2); ans.resent != want {
				t.Errorf("resent %d, want %d: a request sent again is counted", ans.resent, want)
			}
		})
	}
}

func TestH1ConnectionCap(t *testing.T) {
	var inFlight, most atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
	}))
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	h := newTestH1(t, srv.URL, 3)
	var wg sync.WaitGroup
	var waited atomic.Int64
	for range 30 {
		wg.Go(func() {
			var sent time.Time
			var s scratch
			began := time.Now()
			ans := sendVia(context.Background(), h, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, 10*time.Second, &sent, &s)
			if ans.kind != "" {
				t.Errorf("kind %q", ans.kind)
			}
			if sent.Sub(began) >= 20*time.Millisecond {
				waited.Add(1)
			}
		})
	}
	wg.Wait()
	if most.Load() > 3 || conns.Load() > 3 {
		t.Errorf("%d requests at once over %d connections, want at most 3", most.Load(), conns.Load())
	}
	if waited.Load() < 20 { // 30 requests, 3 at a time for 20 ms each: 27 wait at least one round
		t.Errorf("%d of 30 requests waited for a connection, want at least 20: the wait must show in the send time", waited.Load())
	}
}

func TestH1TimeoutAndCut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	var opened, closed atomic.Int64 // the connections open, as the server sees them
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release)
	h := newTestH1(t, srv.URL, 2)
	if ans := h1Do(t, h, "GET", "/", 100*time.Millisecond); ans.kind != "timeout" {
		t.Errorf("a hung answer: kind %q, want timeout", ans.kind)
	}
	for deadline := time.Now().Add(5 * time.Second); opened.Load() != closed.Load() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond) // the server hears the close a moment later
	}
	if open := opened.Load() - closed.Load(); open != 0 {
		t.Errorf("%d connections open after a timeout, want 0 (a late answer must not be read as the next one)", open)
	}
	// With both connections hung, a third request times out waiting for one.
	ctx, cancel := context.WithCancel(context.Background())
	kinds := make(chan string, 3)
	for range 2 {
		go func() {
			var sent time.Time
			var s scratch
			kinds <- sendVia(ctx, h, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, time.Minute, &sent, &s).kind
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if ans := h1Do(t, h, "GET", "/", 100*time.Millisecond); ans.kind != "timeout" {
		t.Errorf("waiting for a connection past the timeout: kind %q, want timeout", ans.kind)
	}
	// The run's cut ends the hung ones at once.
	cancel()
	h.Cut()
	for range 2 {
		select {
		case k := <-kinds:
			if k != "" {
				t.Errorf("a cut request: kind %q, want \"\" (not counted)", k)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("cut left a request hanging")
		}
	}
}

// TestH1LargeAnswersAreReadWhole: of an answer over client.MaxAnswer the client
// keeps the first client.MaxAnswer bytes, reads the rest to its end (its latency
// runs to the last byte) and keeps the connection.
func TestH1LargeAnswersAreReadWhole(t *testing.T) {
	huge := bytes.Repeat([]byte("y"), 3<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/len", func(w http.ResponseWriter, r *http.Request) { w.Write(huge) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(huge); i += 64 << 10 {
			w.Write(huge[i : i+64<<10])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "small") })
	mux.HandleFunc("/trickle", func(w http.ResponseWriter, r *http.Request) { // 2 MiB over about 400 ms
		w.Header().Set("Content-Length", fmt.Sprint(2<<20))
		for i := range 8 {
			w.Write(huge[i<<18 : (i+1)<<18])
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	conns := connCounter(srv)
	srv.Start()
	defer srv.Close()
	h := newTestH1(t, srv.URL, 1)
	for _, path := range []string{"/len", "/chunked", "/trickle"} {
		began := time.Now()
		ans := h1Do(t, h, "GET", path, 5*time.Second)
		took := time.Since(began)
		if ans.kind != "" || len(ans.body) != client.MaxAnswer || !bytes.Equal(ans.body, huge[:client.MaxAnswer]) {
			t.Errorf("%s: kind %q, %d bytes kept, want the first %d", path, ans.kind, len(ans.body), client.MaxAnswer)
		}
		if path == "/trickle" && took < 350*time.Millisecond {
			t.Errorf("the trickled answer took %v to read: the latency stops before its last byte", took)
		}
		if ans := h1Do(t, h, "GET", "/small", 5*time.Second); string(ans.body) != "small" {
			t.Errorf("after %s: %q %q, want a clean answer", path, ans.kind, ans.body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for six answers, want 1: a large answer's connection is kept", n)
	}
}

func TestH1RefusedAndTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if ans := h1Do(t, newTestH1(t, "http://"+addr, 1), "GET", "/", time.Second); ans.kind != "refused" {
		t.Errorf("a closed port: kind %q, want refused", ans.kind)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.Host)
	}))
	conns := connCounter(srv)
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	h, err := client.New(context.Background(), srv.URL, ProtocolHTTP1, 1, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdle()
	for range 3 {
		if ans := h1Do(t, h, "GET", "/", 5*time.Second); ans.kind != "" || string(ans.body) != "HTTP/1.1 "+strings.TrimPrefix(srv.URL, "https://") {
			t.Fatalf("https: kind %q body %q", ans.kind, ans.body)
		}
	}
	if conns.Load() != 1 {
		t.Errorf("3 https requests used %d connections, want 1", conns.Load())
	}
	untrusted := newTestH1(t, srv.URL, 1)
	if ans := h1Do(t, untrusted, "GET", "/", 5*time.Second); ans.kind != "tls" || ans.err == nil || !strings.Contains(ans.err.Error(), "certificate") {
		t.Errorf("an untrusted certificate: kind %q (%v), want tls naming the certificate", ans.kind, ans.err)
	}
	if _, err := client.New(context.Background(), "ftp://x", "", 1, nil); err == nil {
		t.Error("an ftp:// target was taken")
	}
}

// TestH1ResetsAreCountedNotHidden: a server that resets one request in ten
// after reading it (not an idle close) has those requests fail as resets;
// none is sent again behind the user's back, so the requests the server
// read are exactly the attempts the client counts.
func TestH1ResetsAreCountedNotHidden(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var read atomic.Int64
	var wg sync.WaitGroup
	defer func() { ln.Close(); wg.Wait() }()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(r)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if read.Add(1)%10 == 0 {
						c.(*net.TCPConn).SetLinger(0) // close with a reset, mid-request
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
		}
	})
	h := newTestH1(t, "http://"+ln.Addr().String(), 1)
	var resets, resent int
	for range 100 {
		ans := h1Do(t, h, "GET", "/", 2*time.Second)
		if ans.kind == "reset" {
			resets++
		} else if ans.kind != "" {
			t.Fatalf("kind %q", ans.kind)
		}
		resent += ans.resent
	}
	if resets != 10 || resent != 0 || read.Load() != 100 {
		t.Errorf("%d resets, %d resent, the server read %d requests; want 10, 0 and 100", resets, resent, read.Load())
	}
}

// sendVia sends a template through h as a user of a bare engine would.
func sendVia(ctx context.Context, h client.Load, t *scenarios.Request, v vars, timeout time.Duration, sent *time.Time, s *scratch) answer {
	e := &engine{load: h}
	u := &user{e: e, vars: v, scratch: *s}
	ans := e.send(ctx, t, u, timeout, sent)
	*s = u.scratch
	return ans
}

// renderVia renders a template for a user of a bare engine.
func renderVia(h client.Load, w []byte, t *scenarios.Request, v vars, hdr []string) ([]byte, []string, error) {
	e := &engine{load: h}
	return e.render(w, t, &user{e: e, vars: v}, hdr)
}
