package refserver

import (
	"bufio"
	"encoding/json"
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
		{"a malformed request line", "NONSENSE\r\n\r\n", 400, "bad_request"},
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
