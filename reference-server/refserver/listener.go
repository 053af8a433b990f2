package refserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The edge's listener. A flood of idle, slow or trickling clients must
// neither leave the process without a file descriptor nor keep a load
// balancer's health check waiting behind it; and every request must be
// framed one way only.
const (
	// opsReserve is how many connections past the cap may be open at once
	// for a health check or a metrics scrape: one GET /healthz or /metrics
	// each, then closed.
	opsReserve = 16
	// triageSlots bounds the connections past the cap whose request line is
	// being read; triageTimeout is how long one may take to send it. A
	// connection past the cap that is not a health check or a scrape is
	// answered 503 and closed. When every slot is taken, the connection
	// that has waited longest is dropped for the new one: a health check
	// sends its line at once, a slow client holding slots does not.
	triageSlots   = 64
	triageTimeout = time.Second
	// fdMargin is kept free for the database, logs and listeners.
	fdMargin = 128
)

// Listen listens on addr with the edge's listener (Edge) at MaxConns.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Edge(ln, MaxConns()), nil
}

// ListenPair listens on addr with Edge and on tlsAddr with EdgeTLS, the
// process's connections split between them (MaxConns each half).
func ListenPair(addr, tlsAddr string) (plain, secure net.Listener, err error) {
	p, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	t, err := net.Listen("tcp", tlsAddr)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	half := max(MaxConns()/2, 16)
	return Edge(p, half), EdgeTLS(t, half), nil
}

// MaxConns is how many connections the server serves at once: the
// process's open-file limit less a margin for its database, logs and
// listeners and for the connections past the cap that Edge reads a
// request line from or serves a health check on.
func MaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1000
	}
	return int(min(max(int64(rl.Cur)-fdMargin-opsReserve-triageSlots, 16), 100_000))
}

// Edge wraps ln as the reference server's edge, for an http.Server from
// HTTPServer:
//
//   - at most maxConns connections are served at once. Past the cap a
//     connection's request line is read (within triageTimeout, at most
//     triageSlots at once): GET /healthz or GET /metrics is served from a
//     reserve of opsReserve connections, one request each, and anything
//     else is answered 503 (too_many_connections, Retry-After) and closed.
//     A wave of slow clients therefore fills the cap but never the
//     health check's way in;
//   - each connection's HTTP/1.1 framing is followed (framing), and a
//     request whose framing conflicts is refused with 400 and its
//     connection closed, whatever was sent behind it;
//   - the plain-text answers net/http writes itself (400 for a malformed
//     request, 431, 501) are rewritten in the API's JSON error shape.
func Edge(ln net.Listener, maxConns int) net.Listener {
	return newEdge(ln, maxConns, false)
}

// EdgeTLS is Edge for a listener whose connections will be TLS (wrap it
// with tls.NewListener, or give it to http.Server.ServeTLS) and speak
// HTTP/2 only: their bytes are opaque here, so a connection past the cap
// is closed at once (no request line to triage), and there is no HTTP/1.1
// framing to follow (HTTP/2's own is strict, and net/http checks it).
func EdgeTLS(ln net.Listener, maxConns int) net.Listener {
	return newEdge(ln, maxConns, true)
}

func newEdge(ln net.Listener, maxConns int, opaque bool) net.Listener {
	l := &edgeListener{Listener: ln, slots: make(chan struct{}, maxConns), ops: make(chan struct{}, opsReserve),
		triage: make(chan struct{}, triageSlots), ready: make(chan accepted), closed: make(chan struct{}), opaque: opaque}
	l.triaged.list = map[net.Conn]time.Time{}
	go l.loop()
	return l
}

type edgeListener struct {
	net.Listener
	opaque             bool // TLS bytes (EdgeTLS): no triage, no framing
	slots, ops, triage chan struct{}
	ready              chan accepted
	closed             chan struct{}
	closeOnce          sync.Once
	triaged            struct {
		sync.Mutex
		list map[net.Conn]time.Time // in triage, since when
	}
}

type accepted struct {
	c   net.Conn
	err error
}

func (l *edgeListener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.c, a.err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *edgeListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// loop accepts connections as they come: into a slot of the cap, else to
// triage (dropping the longest waiting there if it must).
func (l *edgeListener) loop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !l.deliver(accepted{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case l.slots <- struct{}{}:
			ec := newEdgeConn(c, l.slots, false)
			ec.opaque = l.opaque
			l.deliver(accepted{c: ec})
			continue
		default:
		}
		if l.opaque { // past the cap, and nothing to triage by: refused
			c.Close()
			continue
		}
		select {
		case l.triage <- struct{}{}:
		default:
			l.dropOldestTriaged()
			select {
			case l.triage <- struct{}{}:
			case <-l.closed:
				c.Close()
				return
			}
		}
		l.triaged.Lock()
		l.triaged.list[c] = time.Now()
		l.triaged.Unlock()
		go l.triageConn(c)
	}
}

// dropOldestTriaged closes the connection that has waited longest to send
// its request line; its triage ends and gives back its slot.
func (l *edgeListener) dropOldestTriaged() {
	l.triaged.Lock()
	defer l.triaged.Unlock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.triaged.list {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.triaged.list, oldest)
		oldest.Close()
	}
}

// deliver hands a to Accept, unless the listener is closed first.
func (l *edgeListener) deliver(a accepted) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.closed:
		if a.c != nil {
			a.c.Close()
		}
		return false
	}
}

// triageConn reads the request line of a connection past the cap: a
// health check or a scrape is served from the reserve, anything else
// (or nothing within triageTimeout) is refused.
func (l *edgeListener) triageConn(c net.Conn) {
	line := readRequestLine(c, triageTimeout)
	l.triaged.Lock()
	_, dropped := l.triaged.list[c]
	dropped = !dropped
	delete(l.triaged.list, c)
	l.triaged.Unlock()
	<-l.triage
	if dropped {
		return
	}
	if !opsRequestLine(line) {
		refuse(c)
		return
	}
	select {
	case l.ops <- struct{}{}:
		c.SetReadDeadline(time.Time{})
		l.deliver(accepted{c: newEdgeConn(&prefixedConn{Conn: c, prefix: line}, l.ops, true)})
	default:
		refuse(c)
	}
}

// readRequestLine reads up to and with the first line feed (at most 256
// bytes) within d.
func readRequestLine(c net.Conn, d time.Duration) []byte {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 0, 256)
	for len(buf) < cap(buf) && bytes.IndexByte(buf, '\n') < 0 {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	return buf
}

// opsRequestLine says whether line is a complete GET (or HEAD) of
// /healthz or /metrics.
func opsRequestLine(line []byte) bool {
	method, rest, _ := strings.Cut(string(line), " ")
	target, _, _ := strings.Cut(rest, " ")
	path, _, _ := strings.Cut(target, "?")
	return (method == "GET" || method == "HEAD") && isOpsPath(path) && bytes.IndexByte(line, '\n') >= 0
}

func isOpsPath(p string) bool { return p == "/healthz" || p == "/metrics" }

// refuse answers a connection past the cap 503 and closes it.
func refuse(c net.Conn) {
	const body = `{"error": {"code": "too_many_connections", "message": "the server is serving as many connections as it can; try again later"}}` + "\n"
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	c.Close()
}

// prefixedConn is a connection whose first bytes were read already.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// edgeConn is a connection the edge serves: it gives back its slot when
// closed, follows the framing of what the server reads, and rewrites
// net/http's own error answers as JSON.
type edgeConn struct {
	net.Conn
	ops     bool // served from the reserve: one /healthz or /metrics
	opaque  bool // TLS bytes: not followed
	release func()
	once    sync.Once

	mu      sync.Mutex
	framing framing
}

func newEdgeConn(c net.Conn, slots chan struct{}, ops bool) *edgeConn {
	return &edgeConn{Conn: c, ops: ops, release: func() { <-slots }}
}

func (c *edgeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.opaque {
		c.mu.Lock()
		c.framing.feed(b[:n])
		c.mu.Unlock()
	}
	return n, err
}

// fault is the framing fault found on the connection so far, if any.
func (c *edgeConn) fault() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.framing.bad
}

func (c *edgeConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// netHTTPError is how net/http's server ends the head of its own answers.
const netHTTPError = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// Write rewrites the plain-text answers net/http's server writes itself on
// a connection into the API's JSON error shape, same status. net/http
// writes each such answer in one Write straight to the connection, with
// these headers and no handler involved; a handler's answer never has them.
func (c *edgeConn) Write(b []byte) (int, error) {
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

type edgeConnKey struct{}

// connContext makes the edge's connection known to the handlers.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if ec, ok := c.(*edgeConn); ok {
		return context.WithValue(ctx, edgeConnKey{}, ec)
	}
	return ctx
}

// guarded refuses what the edge found: a request on a connection whose
// framing conflicts (400, then the connection closes), and anything but
// /healthz and /metrics on a connection from the reserve (503). A
// connection from the reserve closes after its one answer.
func guarded(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(edgeConnKey{}).(*edgeConn)
		if c == nil {
			h.ServeHTTP(w, r)
			return
		}
		if why := c.fault(); why != "" {
			w.Header().Set("Connection", "close")
			writeError(w, &apiError{Status: http.StatusBadRequest, Code: "bad_framing", Message: why + ": refused, and the connection closes (RFC 9112 §6)"})
			return
		}
		if c.ops {
			w.Header().Set("Connection", "close")
			if !isOpsPath(r.URL.Path) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				writeError(w, &apiError{Status: http.StatusServiceUnavailable, Code: "too_many_connections", RetryAfter: time.Second,
					Message: "past the connection cap only /healthz and /metrics are served"})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
