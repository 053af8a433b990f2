package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/surgekit/surge/scenarios"
)

// h1 is the load's HTTP/1.1 client. A request is written and its answer
// read on the user's own goroutine, over a keep-alive connection taken from
// a bounded pool: no reader or writer goroutine per connection, no
// per-request channels, contexts or header maps. net/http's Transport spent
// about half of the generator's CPU on those, and two goroutines with their
// buffers per connection held most of its memory past the ceiling
// (ci/bench/RESULTS.md).
//
// It speaks what a load generator needs of HTTP/1.1: requests with a
// Content-Length body, answers as readAnswer (answer.go) reads them. A
// connection the server closes while it sits idle is caught before use
// (a peek at the socket finds whether the server has closed it; net/http
// has a reader goroutine per connection watching for that), and a request
// caught by such a close as it goes out is sent again (exchange says
// when, and counts it). https targets get TLS over the same path, HTTP/1.1
// by ALPN; a failed handshake is a TLSError.
type h1 struct {
	wire
	addr     string // host:port to dial
	tls      *tls.Config
	keepIdle time.Duration // idle connections older than this are not reused

	slots chan struct{} // a token per connection in use or being dialed

	mu    sync.Mutex
	idle  []*h1conn // LIFO: the warmest first
	all   []*h1conn // open connections, for cut
	isCut atomic.Bool
}

// h1conn is one connection and its buffers.
type h1conn struct {
	net.Conn
	tcp   syscall.RawConn // the TCP socket, under TLS if any: for peerClosed
	r     *bufio.Reader
	at    int       // index in h1.all
	since time.Time // idle since
}

const (
	// probeIdle: a connection idle longer than this is peeked at before a
	// request goes out on it. Under load connections are reused within it,
	// and servers close idle ones after seconds.
	probeIdle  = time.Millisecond
	h1Buffer   = 4 << 10
	MaxHeaders = 1 << 20 // bytes of an answer's status line and headers, at most
)

// ErrCut is a request interrupted because the run cut its users.
var ErrCut = errors.New("replay: run cut")

// TLSError is a failed TLS handshake: an untrusted or invalid
// certificate, a name that does not match, no protocol in common.
type TLSError struct{ err error }

func (e TLSError) Error() string { return "tls: " + e.err.Error() }
func (e TLSError) Unwrap() error { return e.err }

// ProtocolError is an answer that is not HTTP/1.x.
type ProtocolError struct{ what string }

func (e ProtocolError) Error() string { return "replay: malformed HTTP answer: " + e.what }

// malformed is a ProtocolError quoting at most n bytes of what was read.
// (Out of line: it keeps the readers' stack frames small, and with them
// every user's goroutine stack.)
//
//go:noinline
func malformed(what string, b []byte, n int) error {
	return ProtocolError{what + " " + strconv.Quote(string(b[:min(len(b), n)]))}
}

// newH1 is a client of target (http:// or https://) with at most maxConns
// connections.
func newH1(target string, maxConns int, tlsConfig *tls.Config) (*h1, error) {
	u, addr, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	h := &h1{wire: newWire(u), addr: addr, slots: make(chan struct{}, maxConns), keepIdle: 90 * time.Second}
	if u.Scheme == "https" {
		h.tls = TLSConfig(tlsConfig, u, "http/1.1")
	}
	return h, nil
}

// TLSConfig is the TLS configuration of connections to u: a copy of
// conf (nil: the system's roots), the server's name the URL's host unless
// conf names it, offering protos by ALPN (none: ALPN off).
func TLSConfig(conf *tls.Config, u *url.URL, protos ...string) *tls.Config {
	c := &tls.Config{}
	if conf != nil {
		c = conf.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = u.Hostname()
	}
	c.NextProtos = protos
	return c
}

// ParseTarget reads a target's base URL (http://, https:// or h2c://,
// with a host); addr is its host:port, the port the scheme's unless given.
func ParseTarget(target string) (u *url.URL, addr string, err error) {
	u, err = url.Parse(target)
	if err != nil || u.Host == "" || !scenarios.TargetSchemes[u.Scheme] {
		return nil, "", fmt.Errorf("replay: target %q is not an http://, https://, h2c://, grpc://, grpcs://, ws:// or wss:// URL", target)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "h2c": "80", "grpc": "80", "grpcs": "443", "ws": "80", "wss": "443"}[u.Scheme]
	}
	return u, net.JoinHostPort(u.Hostname(), port), nil
}

// Call is one request on its way: the rendered request, whether it may be
// sent twice, the user's buffers its answer is read into, and what the
// exchange found out: when it got its connection (the actual send) and how
// often it was sent again on a new one.
type Call struct {
	Req        []byte // the request, as Request wrote it
	IsHead     bool   // a HEAD: its answer has no body
	Idempotent bool   // it may be sent again on a new connection
	Body, Head []byte // buffers for the answer's body and head (reused)
	Sent       time.Time
	Resent     int
	Framed     bool // a gRPC call: note when the answer's first message is in (Response.FirstAt)
	// Waited is how long the call waited for a connection (HTTP/1.1) or
	// a stream (HTTP/2) because every one the bound allows was busy: the
	// client's own queue, not the service's, though it is in the latency.
	Waited time.Duration
}

// inlineWrite is the largest request written before its answer is read.
// A larger one (an upload) is written on a goroutine of its own while the
// answer is read, as net/http does: a server that answers early (413
// without reading the body) and closes is heard at once, not after the
// write fails half a second later with a reset.
const inlineWrite = 64 << 10

// exchange writes c's request on a connection and reads its answer.
// deadline bounds the wait for a connection and the exchange. ctx is the
// run's users: waits end when it is done, and cut interrupts the
// exchanges in flight.
//
// A connection taken from the idle pool after more than probeIdle is
// peeked at first: one the server closed while it sat idle is dropped, not
// used. If the server closes one anyway just as the request goes out (a
// clean close, before any of the answer), the request is sent once more on
// a new connection, when it is idempotent or none of it was written
// (mayResend), and counted in c.Resent. A reset in the middle of a request
// is never hidden this way: the server may have done the work, and the
// user saw the failure.
func (h *h1) Exchange(ctx context.Context, deadline time.Time, c *Call) (Response, error) {
	if err := h.acquire(ctx, deadline, c); err != nil {
		return Response{}, err
	}
	defer func() { <-h.slots }()
	for try := 0; ; try++ {
		conn, reused, err := h.conn(ctx, deadline, try)
		if err != nil {
			return Response{}, err
		}
		c.Sent = time.Now()
		if err := conn.SetDeadline(deadline); err != nil {
			h.drop(conn)
			return Response{}, err
		}
		if h.isCut.Load() { // cut sets the flag before it interrupts the connections
			h.drop(conn)
			return Response{}, ErrCut
		}
		resp, wrote, err := h.roundTrip(conn, c)
		if err == nil {
			if resp.Keep && !h.isCut.Load() {
				h.putIdle(conn)
			} else {
				h.drop(conn)
			}
			return resp, nil
		}
		h.drop(conn)
		if h.isCut.Load() {
			return Response{}, ErrCut
		}
		if !mayResend(reused, resp.Answered, c.Idempotent, wrote, err) || try > 0 || time.Now().After(deadline) {
			return resp, err
		}
		c.Resent++
	}
}

// conn is a connection for a try: the warmest idle one (peeked at when it
// sat idle long enough that the server may have closed it), else a new one.
func (h *h1) conn(ctx context.Context, deadline time.Time, try int) (*h1conn, bool, error) {
	if try == 0 { // a retry dials: other idle connections may be as stale
		c, reused := h.popIdle()
		if reused && time.Since(c.since) > probeIdle {
			c.SetReadDeadline(time.Time{}) // the last request's, if past, would keep the peek from looking
			if peerClosed(c.tcp) {
				h.drop(c)
				reused = false
			}
		}
		if reused {
			return c, true, nil
		}
	}
	c, err := h.dial(ctx, deadline)
	return c, false, err
}

// mayResend says whether a request that failed on a connection may go out
// again on a new one without the user knowing: only if the connection was
// a reused one that the server closed before answering, and either none of
// the request went out, or it is idempotent and the server closed cleanly
// (io.EOF: a server closing an idle connection, not a reset mid-request).
func mayResend(reused, answered, idempotent bool, wrote int, err error) bool {
	switch {
	case !reused || answered || IsTimeout(err):
		return false
	case wrote == 0:
		return true
	}
	return idempotent && errors.Is(err, io.EOF)
}

// roundTrip writes the request and reads its answer on one connection; it
// returns how many bytes of the request went out. When the write fails,
// an answer the server sent before it closed (an early error) is still
// read and returned.
func (h *h1) roundTrip(conn *h1conn, c *Call) (Response, int, error) {
	if len(c.Req) > inlineWrite {
		return h.uploadTrip(conn, c)
	}
	n, werr := conn.Write(c.Req)
	resp, err := readAnswer(conn.r, c.IsHead, c.Body, c.Head)
	if werr != nil {
		resp.Keep = false
		if err != nil || !resp.Answered {
			return resp, n, werr
		}
	}
	return resp, n, err
}

// uploadTrip writes a large request on its own goroutine while the answer
// is read; an answer that comes before the whole request went out stops
// the write (the connection is then not reused).
func (h *h1) uploadTrip(conn *h1conn, c *Call) (Response, int, error) {
	type wrote struct {
		n   int
		err error
	}
	done := make(chan wrote, 1)
	go func() {
		n, err := conn.Write(c.Req)
		done <- wrote{n, err}
	}()
	resp, err := readAnswer(conn.r, c.IsHead, c.Body, c.Head)
	var w wrote
	select {
	case w = <-done:
	default: // answered early: the rest of the request is not wanted
		conn.SetWriteDeadline(time.Unix(1, 0))
		w = <-done
		resp.Keep = false
	}
	if w.err != nil {
		resp.Keep = false
		if err != nil || !resp.Answered {
			return resp, w.n, w.err
		}
	}
	return resp, w.n, err
}

// acquire takes a connection slot, waiting until deadline; a wait is
// added to c.Waited.
func (h *h1) acquire(ctx context.Context, deadline time.Time, c *Call) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	defer func() { c.Waited += time.Since(start) }()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	case <-ctx.Done():
		return ErrCut
	}
}

func (h *h1) popIdle() (*h1conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for n := len(h.idle); n > 0; n = len(h.idle) {
		c := h.idle[n-1]
		h.idle = h.idle[:n-1]
		if time.Since(c.since) < h.keepIdle {
			return c, true
		}
		h.closeLocked(c)
	}
	return nil, false
}

func (h *h1) putIdle(c *h1conn) {
	c.since = time.Now()
	h.mu.Lock()
	h.idle = append(h.idle, c)
	h.mu.Unlock()
}

func (h *h1) drop(c *h1conn) {
	h.mu.Lock()
	h.closeLocked(c)
	h.mu.Unlock()
}

func (h *h1) closeLocked(c *h1conn) {
	if c.at < 0 {
		return
	}
	last := h.all[len(h.all)-1]
	h.all[c.at], last.at = last, c.at
	h.all = h.all[:len(h.all)-1]
	c.at = -1
	c.Close()
}

func (h *h1) dial(ctx context.Context, deadline time.Time) (*h1conn, error) {
	d := net.Dialer{Deadline: deadline, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ErrCut
		}
		return nil, err
	}
	var tcp syscall.RawConn
	if sc, ok := nc.(syscall.Conn); ok {
		tcp, _ = sc.SyscallConn()
	}
	if h.tls != nil {
		tc := tls.Client(nc, h.tls)
		tc.SetDeadline(deadline)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			if IsTimeout(err) || ctx.Err() != nil {
				return nil, err
			}
			return nil, TLSError{err}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
			tc.Close()
			return nil, fmt.Errorf("replay: %s negotiated %q, not http/1.1", h.addr, p)
		}
		nc = tc
	}
	c := &h1conn{Conn: nc, tcp: tcp, r: bufio.NewReaderSize(nc, h1Buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.isCut.Load() {
		nc.Close()
		return nil, ErrCut
	}
	c.at = len(h.all)
	h.all = append(h.all, c)
	return c, nil
}

// cut interrupts every exchange in flight and makes later ones fail: the
// run's drain is over.
func (h *h1) Cut() {
	h.isCut.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.all {
		c.SetDeadline(time.Unix(1, 0))
	}
}

// closeIdle closes the idle connections.
func (h *h1) CloseIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.idle {
		h.closeLocked(c)
	}
	h.idle = h.idle[:0]
}

// wire renders requests to a target in their HTTP/1.1 form.
type wire struct {
	host   string // the Host header
	prefix string // the target URL's path, before each request's
}

func newWire(u *url.URL) wire {
	return wire{host: u.Host, prefix: strings.TrimSuffix(u.EscapedPath(), "/")}
}

// request renders a request to the target: method, the target's path
// prefix and path (bytes a request target cannot hold are percent-encoded),
// headers as name and value pairs, and body (nil for none). It fails on a
// header that would break the request's framing.
func (h wire) Request(w []byte, method, path string, headers []string, body []byte) ([]byte, error) {
	if !validTarget(path) {
		path = escapeTarget(path)
	}
	w = append(w, method...)
	w = append(w, ' ')
	w = append(w, h.prefix...)
	w = append(w, path...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, h.host...)
	w = append(w, "\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		if !validHeader(headers[i], headers[i+1]) {
			return w, fmt.Errorf("header %q: %q is not a valid header", headers[i], headers[i+1])
		}
		w = append(w, headers[i]...)
		w = append(w, ": "...)
		w = append(w, headers[i+1]...)
		w = append(w, "\r\n"...)
	}
	if body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
		w = append(w, "Content-Length: "...)
		w = strconv.AppendInt(w, int64(len(body)), 10)
		w = append(w, "\r\n"...)
	}
	w = append(w, "\r\n"...)
	return append(w, body...), nil
}

// validTarget: a path of visible ASCII (the template's variables come
// escaped; the template's own text may not be).
func validTarget(p string) bool {
	for i := range len(p) {
		if !targetByte(p[i]) {
			return false
		}
	}
	return true
}

func targetByte(c byte) bool { return ' ' < c && c < 0x7f && c != '#' }

// escapeTarget percent-encodes what a request target cannot hold as is.
func escapeTarget(p string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(p) {
		if c := p[i]; targetByte(c) {
			b.WriteByte(c)
		} else {
			b.Write([]byte{'%', hex[c>>4], hex[c&15]})
		}
	}
	return b.String()
}

// validHeader: the name a token, the value free of control characters but
// tab (RFC 9110 5.1, 5.5).
func validHeader(name, value string) bool {
	for i := range len(value) {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return scenarios.ValidHeaderName(name)
}

func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
