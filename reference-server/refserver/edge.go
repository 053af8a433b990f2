package refserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The edge of the API: every answer is the JSON error shape with the right
// status, even those net/http writes itself before any handler runs (a
// malformed request, headers over the limit), and no request is served
// by surprise (a path that is not clean is not redirected to one that is;
// a known path with the wrong method is 405, not 404).

// Limits of the HTTP server the reference server runs on.
const (
	// MaxHeaderBytes bounds a request's head; past it, 431.
	MaxHeaderBytes = 64 << 10
	// ReadTimeout covers a request's head and body: a client trickling a
	// body holds its connection (and a goroutine) for at most this.
	ReadTimeout       = 30 * time.Second
	ReadHeaderTimeout = 10 * time.Second
	// WriteTimeout is past the longest answer the profiles' request
	// timeouts allow.
	WriteTimeout = 2 * time.Minute
	IdleTimeout  = 2 * time.Minute
)

// HTTPServer is an http.Server for a handler with the reference server's
// limits.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// Listen listens on addr with the edge's listener: connections capped (see
// Capped) and net/http's own error answers rewritten as JSON.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Capped(JSONErrors(ln), MaxConns()), nil
}

// MaxConns is how many connections the server takes at once: the process's
// open-file limit less a margin for its database, logs and listeners, so
// that a flood of idle or trickling connections never leaves it without a
// descriptor to answer with (past the cap, new connections wait in the
// kernel's backlog).
func MaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1000
	}
	return int(min(max(int64(rl.Cur)-128, 16), 100_000))
}

// Capped accepts at most n connections open at once.
func Capped(ln net.Listener, n int) net.Listener {
	return &cappedListener{Listener: ln, slots: make(chan struct{}, n)}
}

type cappedListener struct {
	net.Listener
	slots chan struct{}
}

func (l *cappedListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &cappedConn{Conn: c, release: func() { <-l.slots }}, nil
}

type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// JSONErrors rewrites the plain-text answers net/http's server writes
// itself on a connection (400 for a malformed request, 431, 501) into the
// API's JSON error shape, same status. net/http writes each such answer in
// one Write straight to the connection, with these headers and no handler
// involved; a handler's answer never has them.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

type jsonErrorConn struct{ net.Conn }

// netHTTPError is how net/http's server ends the head of its own answers.
const netHTTPError = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *jsonErrorConn) Write(b []byte) (int, error) {
	i := bytes.Index(b, []byte(netHTTPError))
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) || i < 0 {
		return c.Conn.Write(b)
	}
	line := string(b[len("HTTP/1.1 "):i]) // "400 Bad Request: missing required Host header"
	code, text, _ := strings.Cut(line, " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		return c.Conn.Write(b)
	}
	msg := strings.TrimSpace(string(b[i+len(netHTTPError):]))
	if msg == "" {
		msg = text
	}
	body := fmt.Sprintf(`{"error": {"code": %q, "message": %q}}`+"\n", errorCode(status), msg)
	out := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
	if _, err := c.Conn.Write([]byte(out)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// errorCode names a status net/http answers with.
func errorCode(status int) string {
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		return "headers_too_large"
	case http.StatusNotImplemented:
		return "not_implemented"
	case http.StatusRequestTimeout:
		return "request_timeout"
	}
	return "bad_request"
}

// edge serves mux strictly: an unclean path is 404 (not a redirect to the
// clean one), a known path with another method is 405 with Allow.
func edge(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || p[0] != '/' || path.Clean(p) != p && !(strings.HasSuffix(p, "/") && path.Clean(p)+"/" == p) || strings.Contains(p, "//") {
			writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: r.Method + " " + p + ": not a clean path (no redirects here)"})
			return
		}
		if _, pattern := mux.Handler(r); pattern == "/" {
			if allow := allowed(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
					Message: r.Method + " " + p + ": this endpoint takes " + strings.Join(allow, ", ")})
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// allowed lists the methods a path is served with.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}
