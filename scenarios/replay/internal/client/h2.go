package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/surgekit/surge/scenarios/rpc"
)

// h2 is the load's HTTP/2 client: streams multiplexed over at most
// maxConns connections, over TLS (ALPN h2) for an https:// target or over
// plain TCP with prior knowledge for an h2c:// one. The framing, HPACK and
// flow control are golang.org/x/net/http2's ClientConn; the pool is ours,
// so that the connection bound is exact: a request takes a stream on the
// first connection with one free under the server's
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
	tr       *http2.Transport

	cutCtx context.Context // cancelled by cut
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   []*http2.ClientConn
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

func newH2(u *url.URL, addr string, maxConns int, tlsConfig *tls.Config) *h2 {
	h := &h2{wire: newWire(u), addr: addr, scheme: "http", maxConns: maxConns, freed: make(chan struct{}, 4096)}
	h.tr = &http2.Transport{AllowHTTP: true, DisableCompression: true, MaxHeaderListSize: MaxHeaders, ReadIdleTimeout: 30 * time.Second}
	if u.Scheme == "https" || u.Scheme == "grpcs" {
		h.scheme = "https"
		h.tls = TLSConfig(tlsConfig, u, ProtocolH2)
	}
	h.cutCtx, h.cancel = context.WithCancel(context.Background())
	return h
}

// exchange sends c's request on a stream and reads its answer (see h1's).
func (h *h2) Exchange(ctx context.Context, deadline time.Time, c *Call) (Response, error) {
	req, at, err := h.parse(c)
	if err != nil {
		return Response{}, err
	}
	rctx, cancel := context.WithDeadline(h.cutCtx, deadline)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel) // the run's users are done: waits end
	defer stop()
	req = req.WithContext(rctx)
	for try := 0; ; try++ {
		cc, err := h.stream(rctx, deadline)
		if err != nil {
			return Response{}, h.cutOr(err)
		}
		c.Sent = time.Now()
		if at < len(c.Req) {
			// x/net's stream may read the body after RoundTrip returns (a
			// server that answers before it reads it all): it gets a copy
			// of its own, not the user's buffer the next request reuses.
			req.Body = io.NopCloser(bytes.NewReader(bytes.Clone(c.Req[at:])))
		}
		resp, err := h.roundTrip(cc, req, c)
		if err == nil || try > 0 || !unprocessed(err) || time.Now().After(deadline) {
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

// roundTrip sends req on cc's reserved stream and reads the answer into
// c's buffers.
func (h *h2) roundTrip(cc *http2.ClientConn, req *http.Request, c *Call) (Response, error) {
	defer h.free()
	res, err := cc.RoundTrip(req)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	resp := Response{Status: res.StatusCode, Answered: true, Keep: true, Head: h2Head(c.Head[:0], res)}
	if c.IsHead {
		resp.Body = c.Body[:0]
		return resp, nil
	}
	var first *time.Time
	if c.Framed {
		first = &resp.FirstAt
	}
	resp.Body, err = readAll(res.Body, c.Body[:0], first)
	for name, values := range res.Trailer { // (a call's grpc-status)
		for _, v := range values {
			resp.Head = keepHead(resp.Head, []byte(name+": "+v))
		}
	}
	return resp, err
}

// free says a stream ended: a request waiting for one may take it.
func (h *h2) free() { h.wake(1) }

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
func (h *h2) stream(ctx context.Context, deadline time.Time) (*http2.ClientConn, error) {
	for {
		cc, dial := h.reserve()
		if cc != nil {
			return cc, nil
		}
		if dial {
			cc, err := h.dial(ctx, deadline)
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
			h.wake(int(cc.State().MaxConcurrentStreams) - 1) // its other streams are free for those waiting
			if cc.ReserveNewRequest() {
				return cc, nil
			}
			continue
		}
		select {
		case <-h.freed:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, os.ErrDeadlineExceeded
			}
			return nil, ErrCut
		}
	}
}

// reserve takes a stream on an open connection, or says to dial one (and
// counts the dial against the bound).
func (h *h2) reserve() (*http2.ClientConn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	live := h.conns[:0]
	for _, cc := range h.conns {
		if st := cc.State(); st.Closed || st.Closing && st.StreamsActive+st.StreamsReserved == 0 {
			cc.Close()
			continue
		}
		live = append(live, cc)
	}
	clear(h.conns[len(live):])
	h.conns = live
	for _, cc := range h.conns {
		if cc.ReserveNewRequest() {
			return cc, false
		}
	}
	if len(h.conns)+h.dialing < h.maxConns {
		h.dialing++
		return nil, true
	}
	return nil, false
}

func (h *h2) dial(ctx context.Context, deadline time.Time) (*http2.ClientConn, error) {
	d := net.Dialer{Deadline: deadline, KeepAlive: 30 * time.Second}
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
	cc, err := h.tr.NewClientConn(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	// A server's SETTINGS is its first frame, so by a PING's answer the
	// connection's stream limit is the server's own, not the default that
	// holds until then: streams are not reserved past it.
	if err := cc.Ping(ctx); err != nil {
		cc.Close()
		return nil, err
	}
	return cc, nil
}

// parse reads c's request, rendered in its HTTP/1.1 form by wire.request
// (one rendering, one set of checks), back into the fields of a stream;
// the body is c.Req[at:].
func (h *h2) parse(c *Call) (req *http.Request, at int, err error) {
	end := bytes.Index(c.Req, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0, ProtocolError{"a request without its end of headers"}
	}
	head, at := c.Req[:end], end+4
	lines := strings.Split(string(head), "\r\n")
	method, rest, _ := strings.Cut(lines[0], " ")
	target, _, _ := strings.Cut(rest, " ")
	req = &http.Request{Method: method, Proto: "HTTP/2.0", ProtoMajor: 2, Header: make(http.Header, len(lines)), Host: h.host,
		URL: &url.URL{Scheme: h.scheme, Host: h.host, Opaque: target}}
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ": ")
		switch {
		case strings.EqualFold(name, "Host"):
		case strings.EqualFold(name, "Content-Length"):
			if req.ContentLength, err = strconv.ParseInt(value, 10, 64); err != nil {
				return nil, 0, err
			}
		default:
			req.Header[http.CanonicalHeaderKey(name)] = append(req.Header[http.CanonicalHeaderKey(name)], value)
		}
	}
	if req.ContentLength > 0 {
		body := bytes.Clone(c.Req[at:])
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, at, nil
}

// unprocessed says the server did not take a stream: refused by its GOAWAY,
// or the connection closed before the stream went out. Such a request may go
// out again on another connection without the user knowing.
func unprocessed(err error) bool {
	var se http2.StreamError
	if errors.As(err, &se) {
		return false
	}
	var ga http2.GoAwayError
	if errors.As(err, &ga) {
		return false // the connection closed under streams it may have taken
	}
	s := err.Error()
	return strings.Contains(s, "graceful shutdown GOAWAY") || strings.Contains(s, "client conn not usable")
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
	if errors.As(err, &ga) || strings.Contains(err.Error(), "GOAWAY") {
		return kindGoAway
	}
	return ""
}

// h2Head is an answer's status line and headers in the form readAnswer
// keeps them (one line each, ended by "\n").
func h2Head(w []byte, res *http.Response) []byte {
	w = keepHead(w, []byte("HTTP/2.0 "+strconv.Itoa(res.StatusCode)+" "+http.StatusText(res.StatusCode)))
	for name, values := range res.Header {
		for _, v := range values {
			w = keepHead(w, []byte(name+": "+v))
		}
	}
	return w
}

// readAll reads a body to its end, keeping its first MaxAnswer bytes;
// with firstAt, it notes when the first length-prefixed message was all in.
func readAll(r io.Reader, out []byte, firstAt *time.Time) ([]byte, error) {
	for len(out) < MaxAnswer {
		if len(out) == cap(out) {
			out = grow(out, len(out)+1)[:len(out)]
		}
		n, err := r.Read(out[len(out):min(cap(out), MaxAnswer)])
		out = out[:len(out)+n]
		if firstAt != nil && firstAt.IsZero() {
			if _, ok := rpc.FrameSize(out); ok {
				*firstAt = time.Now()
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	_, err := io.Copy(io.Discard, r)
	return out, err
}

// cut interrupts every stream in flight and makes later ones fail.
func (h *h2) Cut() { h.cancel() }

// closeIdle closes the connections.
func (h *h2) CloseIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cc := range h.conns {
		cc.Close()
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
