package refserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEveryAnswerIsTheJSONErrorShape: over a raw connection, the answers
// net/http would give itself (a malformed request, headers past the limit,
// no Host) and those a lenient mux would (a redirect for //, a 404 for a
// wrong method) are the API's JSON error, with the right status.
func TestEveryAnswerIsTheJSONErrorShape(t *testing.T) {
	srv, err := New(Config{Profile: loadProfile(t, "testdata/fast.yaml"), DBPath: t.TempDir() + "/pass.db"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := HTTPServer(srv.Handler())
	go hs.Serve(ln)
	defer hs.Close()
	for _, c := range []struct {
		name, raw string
		status    int
		code      string
	}{
		{"a path with //", "POST //v1/qr HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404, "not_found"},
		{"a path with ..", "POST /v1/../v1/qr HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}", 404, "not_found"},
		{"the wrong method", "GET /v1/qr HTTP/1.1\r\nHost: x\r\n\r\n", 405, "method_not_allowed"},
		// (At least 14 bytes, as any request line is: with h2c on the port,
		// net/http waits for that many to tell an HTTP/2 preface apart.)
		{"a malformed request line", "NONSENSE, FULLY\r\n\r\n", 400, "bad_request"},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request"},
		{"headers past the limit", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 2*MaxHeaderBytes) + "\r\n\r\n", 431, "headers_too_large"},
		{"an unsupported transfer encoding", "POST /v1/qr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, c.raw)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Error struct{ Code, Message string }
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &body) != nil || body.Error.Code != c.code {
				t.Errorf("%d %s %q, want %d with the JSON error %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw, c.status, c.code)
			}
			if c.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
}

// TestTricklingBodiesTimeOutAndHealthzAnswers: three times the connection
// cap of clients, each trickling a body a byte at a time, neither hold
// their connections past the read timeout nor keep /healthz from
// answering. (The server's own limits with a 1 s read timeout and a cap of
// 20, so the test takes seconds, not the 30 s of the shipped timeout.)
func TestTricklingBodiesTimeOutAndHealthzAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("holds trickling connections for seconds")
	}
	const limit, tricklers = 20, 60
	addr := edgeServer(t, limit, time.Second)

	closed := make(chan time.Duration, tricklers)
	for range tricklers {
		go func() {
			start := time.Now()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				closed <- -1
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /v1/identity/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
			go io.Copy(io.Discard, c)
			for deadline := start.Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if _, err := c.Write([]byte(" ")); err != nil { // the server hung up
					closed <- time.Since(start)
					return
				}
			}
			closed <- -1 // still held after 20 s
		}()
	}
	time.Sleep(300 * time.Millisecond) // the tricklers hold every slot
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz while %d connections trickle bodies: %v", tricklers, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
	for range tricklers {
		if d := <-closed; d < 0 {
			t.Fatal("a trickling connection was still held after 20 s: the read timeout does not cover the body")
		}
	}
}

// edgeServer serves a reference server of the fast profile on loopback
// through the edge's listener, capped at limit connections, with a read
// timeout of readTimeout (the shipped 30 s would make a test wait); it
// returns the address.
func edgeServer(t *testing.T, limit int, readTimeout time.Duration) string {
	t.Helper()
	srv, err := New(Config{Profile: loadProfile(t, "testdata/fast.yaml"), DBPath: t.TempDir() + "/pass.db"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := HTTPServer(srv.Handler())
	hs.ReadTimeout = readTimeout
	go hs.Serve(Edge(raw, limit))
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return raw.Addr().String()
}
