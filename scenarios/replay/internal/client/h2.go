package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2 is the load's HTTP/2 client: streams multiplexed over at most
// maxConns connections, over TLS (ALPN h2) for an https:// target or over
// plain TCP with prior knowledge for an h2c:// one. The framing and HPACK
// are golang.org/x/net/http2's Framer and hpack; the connections are ours
// (h2conn), built as the HTTP/1.1 client is: a request's frames are
// written and its answer awaited on the user's own goroutine, and one
// reader goroutine per connection hands each stream its answer. x/net's
// ClientConn spent a goroutine, a pipe and a context per stream, and with
// them most of the generator's CPU over HTTP/2 (ci/bench/RESULTS.md).
//
// The connection bound is exact: a request takes a stream on the first
// connection with one free under the server's
// SETTINGS_MAX_CONCURRENT_STREAMS, dials another connection while fewer
// than maxConns are open, and otherwise waits for a stream to end. That
// wait, like a stall for flow-control window, is inside the latency
// measured from the intended send (the engine's clock), as a wait for an
// HTTP/1.1 connection is.
//
// What goes wrong on a stream is named for what it means to the user:
// REFUSED_STREAM is the server declining the work (refused_stream,
// retried where the scenario retries a shed); a stream the server's
// GOAWAY left unprocessed is sent once more on another connection (counted
// as a resend, like a request an HTTP/1.1 server closed before reading),
// and fails as goaway when that too is refused; any other RST_STREAM is
// stream_reset. A connection that breaks is a reset, as over HTTP/1.1.
type h2 struct {
	wire
	addr     string
	scheme   string      // "https" or "http" (h2c)
	tls      *tls.Config // nil: h2c
	maxConns int

	cutCtx context.Context // cancelled by cut
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   []*h2conn
	dialing int
	// freed gets a token as a stream ends, for a request waiting for one.
	freed chan struct{}
}

// Error kinds of HTTP/2 streams (scenarios.ErrorKinds).
const (
	kindRefusedStream = "refused_stream"
	kindGoAway        = "goaway"
	kindStreamReset   = "stream_reset"
)

// errUnprocessed is a stream the server did not take: its GOAWAY named an
// earlier last stream, or the connection was going away or broken before
// the stream went out. Such a request may go out again on another
// connection without the user knowing; when that fails the same way it is
// the goaway kind.
var errUnprocessed = errors.New("http2: stream not processed: the server's GOAWAY refused it")

func newH2(u *url.URL, addr string, maxConns int, tlsConfig *tls.Config) *h2 {
	h := &h2{wire: newWire(u), addr: addr, scheme: "http", maxConns: maxConns, freed: make(chan struct{}, 4096)}
	if u.Scheme == "https" || u.Scheme == "grpcs" {
		h.scheme = "https"
		h.tls = TLSConfig(tlsConfig, u, ProtocolH2)
	}
	h.cutCtx, h.cancel = context.WithCancel(context.Background())
	return h
}

// waits are the ends of a request's waits: its deadline, the run's users
// done (ctx), the run cut.
type waits struct {
	expired <-chan time.Time
	done    <-chan struct{}
	cut     <-chan struct{}
}

// wait blocks until ch is ready (nil) or a wait ends (why).
func (w waits) wait(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-w.expired:
		return os.ErrDeadlineExceeded
	case <-w.done:
		return ErrCut
	case <-w.cut:
		return ErrCut
	}
}

// Exchange sends c's request on a stream and reads its answer (see h1's).
func (h *h2) Exchange(ctx context.Context, deadline time.Time, c *Call) (Response, error) {
	req, err := h.parse(c)
	if err != nil {
		return Response{}, err
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	w := waits{expired: timer.C, done: ctx.Done(), cut: h.cutCtx.Done()}
	for try := 0; ; try++ {
		cc, err := h.stream(w, deadline, c)
		if err != nil {
			return Response{}, h.cutOr(err)
		}
		c.Sent = time.Now()
		resp, err := cc.roundTrip(&req, c, w)
		h.release(cc)
		if err == nil || try > 0 || !errors.Is(err, errUnprocessed) || time.Now().After(deadline) {
			return resp, h.cutOr(err)
		}
		c.Resent++
	}
}

// cutOr is ErrCut for a failure the run's cut caused, else err.
func (h *h2) cutOr(err error) error {
	if err != nil && h.cutCtx.Err() != nil {
		return ErrCut
	}
	return err
}

// release gives back cc's stream: a request waiting for one may take it.
func (h *h2) release(cc *h2conn) {
	if cc.release() {
		h.drop(cc)
	}
	h.wake(1)
}

// wake gives n tokens to requests waiting for a stream. A token is a hint,
// not a stream: its taker tries to reserve and waits again if it cannot.
// When the tokens fill their buffer that many waiters are awake already.
func (h *h2) wake(n int) {
	for range n {
		select {
		case h.freed <- struct{}{}:
		default:
			return
		}
	}
}

// stream reserves a stream: on an open connection with one free, else on a
// new connection while there are fewer than maxConns, else when one ends.
// The time it waits for one to end is added to c.Waited.
func (h *h2) stream(w waits, deadline time.Time, c *Call) (*h2conn, error) {
	for {
		cc, dial := h.reserve()
		if cc != nil {
			return cc, nil
		}
		if dial {
			cc, err := h.dial(deadline)
			h.mu.Lock()
			h.dialing--
			if err == nil {
				h.conns = append(h.conns, cc)
			}
			h.mu.Unlock()
			if err != nil {
				h.wake(1) // the dial's place is free: a waiting request may dial
				return nil, err
			}
			h.wake(cc.streamLimit() - 1) // its other streams are free for those waiting
			if cc.reserve() {
				return cc, nil
			}
			continue
		}
		start := time.Now()
		err := w.wait(h.freed)
		c.Waited += time.Since(start)
		if err != nil {
			return nil, err
		}
	}
}

// reserve takes a stream on an open connection, or says to dial one (and
// counts the dial against the bound).
func (h *h2) reserve() (*h2conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	live := h.conns[:0]
	for _, cc := range h.conns {
		if cc.spent() {
			cc.close()
			continue
		}
		live = append(live, cc)
	}
	clear(h.conns[len(live):])
	h.conns = live
	for _, cc := range h.conns {
		if cc.reserve() {
			return cc, false
		}
	}
	if len(h.conns)+h.dialing < h.maxConns {
		h.dialing++
		return nil, true
	}
	return nil, false
}

// drop closes cc and takes it out of the pool.
func (h *h2) drop(cc *h2conn) {
	cc.close()
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := indexOf(h.conns, cc); i >= 0 {
		h.conns = append(h.conns[:i], h.conns[i+1:]...)
	}
}

func indexOf(conns []*h2conn, cc *h2conn) int {
	for i, c := range conns {
		if c == cc {
			return i
		}
	}
	return -1
}

func (h *h2) dial(deadline time.Time) (*h2conn, error) {
	ctx, cancel := context.WithDeadline(h.cutCtx, deadline)
	defer cancel()
	d := net.Dialer{KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	if h.tls != nil {
		tc := tls.Client(nc, h.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			if IsTimeout(err) || ctx.Err() != nil {
				return nil, err
			}
			return nil, TLSError{err}
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			return nil, TLSError{fmt.Errorf("%s negotiated %q, not h2", h.addr, p)}
		}
		nc = tc
	}
	return openH2(nc, deadline)
}

// h2req is a request as a stream carries it: its header fields (the
// pseudo-headers first) and its body.
type h2req struct {
	fields []hpack.HeaderField
	body   []byte
}

// parse reads c's request, rendered in its HTTP/1.1 form by wire.request
// (one rendering, one set of checks), back into the fields of a stream.
// The header names go lower-case, as HTTP/2 has them, and the
// connection's own headers (Connection and the like) are left out.
func (h *h2) parse(c *Call) (h2req, error) {
	end := bytes.Index(c.Req, []byte("\r\n\r\n"))
	if end < 0 {
		return h2req{}, ProtocolError{"a request without its end of headers"}
	}
	head := string(c.Req[:end])
	line, rest, _ := strings.Cut(head, "\r\n")
	method, target, _ := strings.Cut(line, " ")
	target, _, _ = strings.Cut(target, " ")
	r := h2req{body: c.Req[end+4:], fields: make([]hpack.HeaderField, 4, 4+strings.Count(rest, "\n")+1)}
	r.fields[0] = hpack.HeaderField{Name: ":method", Value: method}
	r.fields[1] = hpack.HeaderField{Name: ":scheme", Value: h.scheme}
	r.fields[2] = hpack.HeaderField{Name: ":authority", Value: h.host}
	r.fields[3] = hpack.HeaderField{Name: ":path", Value: target}
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		name, value, _ := strings.Cut(line, ": ")
		name = strings.ToLower(name)
		switch name {
		case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		case "te":
			if value != "trailers" { // the only TE HTTP/2 has
				continue
			}
		}
		r.fields = append(r.fields, hpack.HeaderField{Name: name, Value: value})
	}
	return r, nil
}

// H2Kind names a failed stream's error kind, "" when it is not one of
// HTTP/2's own (a timeout, a reset connection: transportKind's).
func H2Kind(err error) string {
	var se http2.StreamError
	if errors.As(err, &se) {
		if se.Code == http2.ErrCodeRefusedStream {
			return kindRefusedStream
		}
		return kindStreamReset
	}
	var ga http2.GoAwayError
	if errors.As(err, &ga) || errors.Is(err, errUnprocessed) {
		return kindGoAway
	}
	return ""
}

// Cut interrupts every stream in flight and makes later ones fail.
func (h *h2) Cut() {
	h.cancel()
	h.CloseIdle()
}

// CloseIdle closes the connections.
func (h *h2) CloseIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cc := range h.conns {
		cc.close()
	}
	h.conns = nil
}

// Load is the client the engine sends its requests with: HTTP/1.1 (h1)
// or HTTP/2 (h2).
type Load interface {
	// Request appends to w the request on the wire (HTTP/1.1's bytes; for
	// HTTP/2, the same form, which Exchange parses into its stream).
	Request(w []byte, method, path string, headers []string, body []byte) ([]byte, error)
	// Exchange sends c's request and reads its answer, waiting for a
	// connection (or a stream) until deadline.
	Exchange(ctx context.Context, deadline time.Time, c *Call) (Response, error)
	// Cut ends every exchange in flight (the run is over).
	Cut()
	// CloseIdle closes the connections not in use.
	CloseIdle()
	// Protocol is ProtocolHTTP1 or ProtocolH2.
	Protocol() string
}

func (h *h2) Protocol() string { return ProtocolH2 }
func (h *h1) Protocol() string { return ProtocolHTTP1 }

// Protocols a target may be pinned to (Config.Protocol): the ALPN names.
const (
	ProtocolHTTP1 = "http/1.1"
	ProtocolH2    = "h2"
)

// New is the client of target: HTTP/2 with prior knowledge for h2c://;
// for https:// the protocol pinned, else the one the server's ALPN picks
// (h2 preferred, http/1.1 otherwise), asked on one connection now.
func New(ctx context.Context, target, protocol string, maxConns int, tlsConfig *tls.Config) (Load, error) {
	target = HTTPOfWS(target) // a ws:// or wss:// target's requests go over HTTP(S); its ws: steps open WebSockets
	u, addr, err := ParseTarget(target)
	if err != nil {
		return nil, err
	}
	switch {
	case protocol != "" && protocol != ProtocolHTTP1 && protocol != ProtocolH2:
		return nil, fmt.Errorf("replay: protocol %q: want %s or %s", protocol, ProtocolH2, ProtocolHTTP1)
	case u.Scheme == "h2c" || u.Scheme == "grpc":
		if protocol == ProtocolHTTP1 {
			return nil, fmt.Errorf("replay: target %s is h2c (HTTP/2 without TLS) but its protocol is pinned to %s", target, protocol)
		}
		return newH2(u, addr, maxConns, nil), nil
	case u.Scheme == "http":
		if protocol == ProtocolH2 {
			return nil, fmt.Errorf("replay: target %s: HTTP/2 without TLS is an h2c:// URL", target)
		}
		return newH1(target, maxConns, tlsConfig)
	}
	if u.Scheme == "grpcs" {
		protocol = ProtocolH2
	}
	if protocol == "" {
		protocol = negotiate(ctx, u, addr, tlsConfig)
	}
	if protocol == ProtocolH2 {
		return newH2(u, addr, maxConns, tlsConfig), nil
	}
	return newH1(target, maxConns, tlsConfig)
}

// SpeaksH2 says whether the load speaks HTTP/2 to target: an h2c:// one,
// or an https:// one pinned to h2 or whose ALPN picks it.
func SpeaksH2(ctx context.Context, target, protocol string, tlsConfig *tls.Config) bool {
	u, addr, err := ParseTarget(target)
	switch {
	case err != nil || u.Scheme == "http" || protocol == ProtocolHTTP1:
		return false
	case u.Scheme == "h2c" || u.Scheme == "grpc" || u.Scheme == "grpcs" || protocol == ProtocolH2:
		return true
	}
	return negotiate(ctx, u, addr, tlsConfig) == ProtocolH2
}

// negotiate asks an https:// target which protocol it speaks, by ALPN on
// one connection: h2 if it offers it, else http/1.1 (as is a server that
// says nothing, or whose handshake fails: the run's requests then fail as
// tls, and its events say why).
func negotiate(ctx context.Context, u *url.URL, addr string, tlsConfig *tls.Config) string {
	conf := TLSConfig(tlsConfig, u, ProtocolH2, ProtocolHTTP1)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: conf}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return ProtocolHTTP1
	}
	defer c.Close()
	if c.(*tls.Conn).ConnectionState().NegotiatedProtocol == ProtocolH2 {
		return ProtocolH2
	}
	return ProtocolHTTP1
}

// HTTPOfWS is a ws:// or wss:// URL as http:// or https://; others as they are.
func HTTPOfWS(target string) string {
	if rest, ok := strings.CutPrefix(target, "ws://"); ok {
		return "http://" + rest
	}
	if rest, ok := strings.CutPrefix(target, "wss://"); ok {
		return "https://" + rest
	}
	return target
}
