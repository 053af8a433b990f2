package client

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestH1EarlyAnswerToAnUpload: a server that answers 413 at once without
// reading a 4 MB body, and closes, is heard: every attempt gets the 413,
// in milliseconds, not a reset half a second later (Go's server waits
// 500 ms before it resets the connection).
func TestH1EarlyAnswerToAnUpload(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"error": "too large"}`)
	}))
	defer srv.Close()
	h, err := newH1(srv.URL, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdle()
	big := strings.Repeat("b", 4<<20)
	for i := range 10 {
		var sent time.Time
		body := []byte(big)
		began := time.Now()
		req, err := h.Request(nil, "POST", "/upload", []string{"Content-Type: text/plain"}, body)
		if err != nil {
			t.Fatal(err)
		}
		c := &Call{Req: req}
		resp, err := h.Exchange(context.Background(), time.Now().Add(5*time.Second), c)
		sent = c.Sent
		if err != nil || resp.Status != 413 {
			t.Fatalf("attempt %d: status %d, %v after %v; want 413", i, resp.Status, err, time.Since(began))
		}
		if d := time.Since(sent); d > 300*time.Millisecond {
			t.Errorf("attempt %d: the 413 took %v", i, d)
		}
	}
}

// FuzzReadAnswer: whatever a server sends, reading it ends without a panic
// and keeps at most MaxAnswer bytes.
func FuzzReadAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Sum: 5\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nold",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		resp, _ := readAnswer(bufio.NewReaderSize(bytes.NewReader(data), 16), head, nil, nil)
		if len(resp.Body) > MaxAnswer {
			t.Errorf("%d bytes kept", len(resp.Body))
		}
	})
}

func TestMayResend(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	reset := &net.OpError{Op: "read", Err: syscall.ECONNRESET}
	for _, c := range []struct {
		name                         string
		reused, answered, idempotent bool
		wrote                        int
		err                          error
		want                         bool
	}{
		{"idle-closed, GET", true, false, true, 100, io.EOF, true},
		{"idle-closed, POST", true, false, false, 100, io.EOF, false},
		{"nothing written, POST", true, false, false, 0, reset, true},
		{"reset mid-request, GET", true, false, true, 100, reset, false},
		{"a new connection", false, false, true, 100, io.EOF, false},
		{"part of an answer", true, true, true, 100, io.ErrUnexpectedEOF, false},
		{"a timeout", true, false, true, 0, timeout, false},
	} {
		if got := mayResend(c.reused, c.answered, c.idempotent, c.wrote, c.err); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
