package replay

import (
	"bufio"
	"bytes"
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
// Content-Length body; answers with a Content-Length, chunked or
// close-delimited body, informational (1xx) answers skipped, bodyless
// answers to HEAD and 204/304; keep-alive unless the server says close. A
// connection the server closes while it sits idle is caught as net/http
// catches it: an idempotent request on it that fails before any of its
// answer is sent once more on a new connection; a request that is not
// idempotent (POST, PATCH) is never sent twice, and before one goes out on
// a connection idle for more than probeIdle, a peek at the socket finds
// whether the server has closed it (net/http has a reader goroutine per
// connection watching for that). https targets get TLS over the same path,
// HTTP/1.1 by ALPN.
type h1 struct {
	addr     string // host:port to dial
	host     string // the Host header
	prefix   string // the target URL's path, before each request's
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
	// request that is not idempotent goes out on it. Under load connections
	// are reused within it, and servers close idle ones after seconds.
	probeIdle    = time.Millisecond
	h1Buffer     = 4 << 10
	h1MaxHeaders = 1 << 20 // bytes of an answer's status line and headers
)

// errCut is a request interrupted because the run cut its users.
var errCut = errors.New("replay: run cut")

// errProtocol is an answer that is not HTTP/1.x.
type errProtocol struct{ what string }

func (e errProtocol) Error() string { return "replay: malformed HTTP answer: " + e.what }

// malformed is an errProtocol quoting at most n bytes of what was read.
// (Out of line: it keeps the readers' stack frames small, and with them
// every user's goroutine stack.)
//
//go:noinline
func malformed(what string, b []byte, n int) error {
	return errProtocol{what + " " + strconv.Quote(string(b[:min(len(b), n)]))}
}

// newH1 is a client of target (http:// or https://) with at most maxConns
// connections.
func newH1(target string, maxConns int, tlsConfig *tls.Config) (*h1, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("replay: target %q is not an http:// or https:// URL", target)
	}
	h := &h1{host: u.Host, prefix: u.EscapedPath(), slots: make(chan struct{}, maxConns), keepIdle: 90 * time.Second}
	if len(h.prefix) > 0 && h.prefix[len(h.prefix)-1] == '/' {
		h.prefix = h.prefix[:len(h.prefix)-1]
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	h.addr = net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		h.tls = &tls.Config{}
		if tlsConfig != nil {
			h.tls = tlsConfig.Clone()
		}
		if h.tls.ServerName == "" {
			h.tls.ServerName = u.Hostname()
		}
		h.tls.NextProtos = []string{"http/1.1"}
	}
	return h, nil
}

// exchange is one request (as request renders it) written on a
// connection, and the answer's status and body (at most maxAnswer bytes,
// into buf) read back. deadline bounds the wait for a connection and the
// exchange; *sent is set when the request has its connection. ctx is the
// run's users: waits end when it is done, and cut interrupts the exchanges
// in flight.
func (h *h1) exchange(ctx context.Context, deadline time.Time, req []byte, isHead, idempotent bool, buf []byte, sent *time.Time) (status int, answer []byte, err error) {
	if err := h.acquire(ctx, deadline); err != nil {
		return 0, nil, err
	}
	defer func() { <-h.slots }()
	for try := 0; ; try++ {
		var c *h1conn
		var reused bool
		if try == 0 { // a retry dials: other idle connections may be as stale
			c, reused = h.popIdle()
			if reused && !idempotent && time.Since(c.since) > probeIdle {
				c.SetReadDeadline(time.Time{}) // the last request's, if past, would keep the peek from looking
				if peerClosed(c.tcp) {
					h.drop(c)
					c, reused = nil, false
				}
			}
		}
		if c == nil {
			if c, err = h.dial(ctx, deadline); err != nil {
				return 0, nil, err
			}
		}
		*sent = time.Now()
		if err := c.SetDeadline(deadline); err != nil {
			h.drop(c)
			return 0, nil, err
		}
		if h.isCut.Load() { // cut sets the flag before it interrupts the connections
			h.drop(c)
			return 0, nil, errCut
		}
		var keep, wrote, answered bool
		if _, err = c.Write(req); err == nil {
			wrote = true
			status, answer, keep, answered, err = readAnswer(c.r, isHead, buf)
		}
		if err == nil {
			if keep && !h.isCut.Load() {
				h.putIdle(c)
			} else {
				h.drop(c)
			}
			return status, answer, nil
		}
		h.drop(c)
		// A reused connection the server closed while it sat idle fails
		// before any of the answer: the server never took the request. But
		// one that crashed after doing the work fails alike, so a request
		// that is not idempotent is sent again only if it never went out.
		if !reused || answered || wrote && !idempotent || try > 0 || isTimeout(err) || h.isCut.Load() || time.Now().After(deadline) {
			if h.isCut.Load() {
				err = errCut
			}
			return 0, nil, err
		}
	}
}

// acquire takes a connection slot, waiting until deadline.
func (h *h1) acquire(ctx context.Context, deadline time.Time) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	case <-ctx.Done():
		return errCut
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
			return nil, errCut
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
			return nil, err
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
		return nil, errCut
	}
	c.at = len(h.all)
	h.all = append(h.all, c)
	return c, nil
}

// cut interrupts every exchange in flight and makes later ones fail: the
// run's drain is over.
func (h *h1) cut() {
	h.isCut.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.all {
		c.SetDeadline(time.Unix(1, 0))
	}
}

// closeIdle closes the idle connections.
func (h *h1) closeIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.idle {
		h.closeLocked(c)
	}
	h.idle = h.idle[:0]
}

// request renders a request to the target: method, the target's path
// prefix and path (bytes a request target cannot hold are percent-encoded),
// headers as name and value pairs, and body (nil for none). It fails on a
// header that would break the request's framing.
func (h *h1) request(w []byte, method, path string, headers []string, body []byte) ([]byte, error) {
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

// readAnswer reads one answer: status line, headers and body.
func readAnswer(r *bufio.Reader, head bool, buf []byte) (status int, answer []byte, keep, answered bool, err error) {
	var length int64
	var chunked, closes bool
	for {
		line, err := readLine(r, 0)
		if err != nil {
			return 0, nil, false, answered, err
		}
		answered = true
		// HTTP/1.x SSS [reason]
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, nil, false, true, malformed("status line", line, 40)
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, nil, false, true, malformed("status", line[9:12], 3)
		}
		http10 := line[7] == '0'
		length, chunked, closes = -1, false, http10
		total := len(line)
		for {
			line, err := readLine(r, total)
			if err != nil {
				return 0, nil, false, true, err
			}
			total += len(line) + 2
			if len(line) == 0 {
				break
			}
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return 0, nil, false, true, malformed("header line", line, 40)
			}
			name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
			switch {
			case equalFold(name, "content-length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, nil, false, true, malformed("Content-Length", value, 40)
				}
				length = n
			case equalFold(name, "transfer-encoding"):
				if !hasToken(value, "chunked") {
					return 0, nil, false, true, malformed("Transfer-Encoding", value, 40)
				}
				chunked = true
			case equalFold(name, "connection"):
				if hasToken(value, "close") {
					closes = true
				} else if http10 && hasToken(value, "keep-alive") {
					closes = false
				}
			}
		}
		if status >= 200 || status == 101 {
			break
		}
		// 1xx: the final answer follows
	}
	switch {
	case head || status == 204 || status == 304 || status == 101:
		return status, buf[:0], !closes && status != 101, true, nil
	case chunked:
		answer, whole, err := readChunked(r, buf[:0])
		return status, answer, !closes && whole, true, err
	case length >= 0:
		take := min(length, maxAnswer)
		answer = grow(buf[:0], int(take))
		if _, err := io.ReadFull(r, answer); err != nil {
			return 0, nil, false, true, err
		}
		return status, answer, !closes && take == length, true, nil
	default: // until the server closes
		answer, err = readUpTo(r, buf[:0], maxAnswer)
		return status, answer, false, true, err
	}
}

// readChunked reads a chunked body, keeping the first maxAnswer bytes; of
// a longer one the rest is left unread (whole is false: the connection
// cannot carry another request).
func readChunked(r *bufio.Reader, out []byte) (body []byte, whole bool, err error) {
	for {
		line, err := readLine(r, 0)
		if err != nil {
			return out, false, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 62)
		if err != nil {
			return out, false, malformed("chunk size", line, 20)
		}
		if n == 0 {
			for { // trailers, up to the empty line
				line, err := readLine(r, 0)
				if err != nil || len(line) == 0 {
					return out, err == nil, err
				}
			}
		}
		at := len(out)
		take := min(int(n), maxAnswer-at)
		out = grow(out, at+take)
		if _, err := io.ReadFull(r, out[at:]); err != nil {
			return out, false, err
		}
		if take < int(n) {
			return out, false, nil
		}
		if line, err := readLine(r, 0); err != nil || len(line) != 0 {
			if err == nil {
				err = errProtocol{"no CRLF after a chunk"}
			}
			return out, false, err
		}
	}
}

// readUpTo appends what r gives until EOF, at most limit bytes in all.
func readUpTo(r io.Reader, out []byte, limit int) ([]byte, error) {
	for len(out) < limit {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := r.Read(out[len(out):min(cap(out), limit)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// grow is b resliced (or reallocated) to n bytes.
func grow(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	return append(b[:cap(b)], make([]byte, n-cap(b))...)
}

// readLine reads a CRLF- (or LF-) ended line, without its end. seen is the
// head's bytes so far: a head over h1MaxHeaders is refused. A line longer
// than the buffer is read whole into a copy.
func readLine(r *bufio.Reader, seen int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if seen+len(long) > h1MaxHeaders {
				return nil, errProtocol{"head over 1 MiB"}
			}
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if seen+len(line) > h1MaxHeaders {
		return nil, errProtocol{"head over 1 MiB"}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// equalFold reports whether b is s (lower case ASCII) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if equalFold(bytes.TrimSpace(v[:i]), tok) {
			return true
		}
		v = v[min(i+1, len(v)):]
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
