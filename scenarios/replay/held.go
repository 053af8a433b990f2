package replay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
)

// A held connection (scenarios.Request.WS or SSE) is a user's own: a
// WebSocket or an event stream it opens, talks on, waits on and holds, as
// a waiting room's client or a live feed's does. It is not one of the
// load's bounded connections: each user holding one is one more open
// connection at the service, which is the capacity dimension it measures
// (Generator.MaxHeld says how many were open at once).

// heldClient opens held connections: one TCP (or TLS) connection each,
// closed when the user lets go, never pooled.
func heldClient(conf *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true, MaxResponseHeaderBytes: client.MaxHeaders}}
}

// heldURL is where a held connection goes: a ws:// or wss:// URL as given,
// else the path on the target, its scheme the target's (ws or wss for a
// WebSocket, http or https for an event stream).
func (e *engine) heldURL(t *scenarios.Request, v vars) string {
	p := t.SSE
	if t.WS != "" {
		p = t.WS
	}
	p = v.expand(p, url.PathEscape)
	if strings.HasPrefix(p, "ws://") || strings.HasPrefix(p, "wss://") {
		return p
	}
	scheme, rest, _ := strings.Cut(e.cfg.Target, "://")
	secure := scheme == "https" || scheme == "wss" || scheme == "grpcs"
	switch {
	case t.WS != "" && secure:
		scheme = "wss"
	case t.WS != "":
		scheme = "ws"
	case secure:
		scheme = "https"
	default:
		scheme = "http"
	}
	return scheme + "://" + rest + p
}

// hold opens t's connection for u, sends what it sends, waits for its
// until: message (within its time) and holds it open for its hold:, then
// closes it. The answer's body is the awaited message; answered is when it
// came (or when the connection opened, with nothing awaited): the step's
// latency ends there, though the user stays for the hold.
func (e *engine) hold(ctx context.Context, t *scenarios.Request, u *user, timeout time.Duration, sent *time.Time) answer {
	hdr := http.Header{}
	if !t.SetsHeader("User-Agent") {
		hdr.Set("User-Agent", "surge")
	}
	for k, x := range t.Headers {
		hdr.Set(k, u.vars.expand(x, func(s string) string { return s }))
	}
	if len(u.jar) > 0 && !t.SetsHeader("Cookie") {
		hdr.Set("Cookie", cookieHeader(u.jar))
	}
	target := e.heldURL(t, u.vars)
	openCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	*sent = time.Now()
	n := e.held.Add(1)
	defer e.held.Add(-1)
	for m := e.mostHeld.Load(); n > m && !e.mostHeld.CompareAndSwap(m, n); m = e.mostHeld.Load() {
	}
	if t.WS != "" {
		return e.holdWebSocket(ctx, openCtx, t, u, target, hdr)
	}
	return e.holdStream(ctx, openCtx, t, target, hdr)
}

func (e *engine) holdWebSocket(ctx, openCtx context.Context, t *scenarios.Request, u *user, target string, hdr http.Header) answer {
	c, resp, err := websocket.Dial(openCtx, target, &websocket.DialOptions{HTTPClient: e.heldHTTP, HTTPHeader: hdr})
	if err != nil {
		return e.openFailed(ctx, t, resp, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(client.MaxAnswer)
	for _, m := range t.Send {
		b, err := json.Marshal(u.vars.body(m))
		if err == nil {
			err = c.Write(openCtx, websocket.MessageText, b)
		}
		if err != nil {
			return answer{kind: heldKind(ctx, err), err: err}
		}
	}
	a := answer{status: http.StatusSwitchingProtocols, answered: time.Now()}
	if t.Until != nil {
		a = e.await(ctx, t, func(wctx context.Context) ([]byte, error) {
			_, b, err := c.Read(wctx)
			return b, err
		})
		if a.kind != "" {
			return a
		}
	}
	if t.Hold > 0 {
		rctx := c.CloseRead(ctx) // the service's messages while held are read and let go
		stay(rctx, t.Hold)
	}
	c.Close(websocket.StatusNormalClosure, "")
	return a
}

func (e *engine) holdStream(ctx, openCtx context.Context, t *scenarios.Request, target string, hdr http.Header) answer {
	hdr.Set("Accept", "text/event-stream")
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(streamCtx, "GET", target, nil)
	if err != nil {
		return answer{kind: "4xx", err: err}
	}
	req.Header = hdr
	stop := context.AfterFunc(openCtx, func() {
		if !errors.Is(openCtx.Err(), context.Canceled) { // the open's time is up before the answer began
			cancel()
		}
	})
	resp, err := e.heldHTTP.Do(req)
	stop()
	if err != nil && errors.Is(openCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return answer{kind: "timeout", err: err}
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		return e.openFailed(ctx, t, resp, err)
	}
	defer resp.Body.Close()
	events := newEventReader(resp.Body)
	a := answer{status: resp.StatusCode, answered: time.Now()}
	if t.Until != nil {
		a = e.await(ctx, t, func(wctx context.Context) ([]byte, error) {
			done := context.AfterFunc(wctx, cancel) // a wait past its within: ends the stream
			defer done()
			return events.next()
		})
		if a.kind != "" {
			return a
		}
	}
	if t.Hold > 0 {
		go io.Copy(io.Discard, resp.Body)
		stay(ctx, t.Hold)
	}
	return a
}

// await reads messages until one passes t.Until, for at most t.Within.
func (e *engine) await(ctx context.Context, t *scenarios.Request, read func(context.Context) ([]byte, error)) answer {
	wctx, cancel := context.WithTimeout(ctx, t.Within)
	defer cancel()
	for {
		b, err := read(wctx)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return answer{kind: "timeout", err: err}
			}
			return answer{kind: heldKind(ctx, err), err: err}
		}
		if passes(*t.Until, b) {
			return answer{status: 200, body: bytes.Clone(b), answered: time.Now()}
		}
	}
}

// openFailed names a failed open: the service's answer (a 503 is a shed)
// when it answered, else the transport's failure.
func (e *engine) openFailed(ctx context.Context, t *scenarios.Request, resp *http.Response, err error) answer {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return answer{kind: classify(t, resp.StatusCode, body), status: resp.StatusCode, body: body}
	}
	if ctx.Err() != nil {
		return answer{kind: "", err: client.ErrCut}
	}
	return answer{kind: transportKind(err, ctx), err: err}
}

// heldKind names a held connection's failure after it opened: the run's
// cut (""), else closed.
func heldKind(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return ""
	}
	if client.IsTimeout(err) {
		return "timeout"
	}
	return scenarios.KindClosed
}

// stay waits for d, or until ctx is done.
func stay(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// eventReader reads server-sent events: each event's data lines, joined
// by newlines (the HTML standard's event stream format), at most
// client.MaxAnswer bytes an event.
type eventReader struct{ s *bufio.Scanner }

func newEventReader(r io.Reader) *eventReader {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), client.MaxAnswer)
	return &eventReader{s}
}

// next is the next event's data; io.EOF when the stream ends.
func (r *eventReader) next() ([]byte, error) {
	var data []byte
	seen := false
	for r.s.Scan() {
		line := r.s.Bytes()
		if len(line) == 0 {
			if seen {
				return data, nil
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // comments (": ..."), event:, id:, retry:
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if seen {
			data = append(data, '\n')
		}
		if len(data)+len(value) > client.MaxAnswer {
			return nil, errors.New("an event of more than 1 MiB")
		}
		data, seen = append(data, value...), true
	}
	if err := r.s.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}
