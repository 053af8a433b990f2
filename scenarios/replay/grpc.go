package replay

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/net/http2"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
	"github.com/surgekit/surge/scenarios/rpc"
)

// bindCalls binds the scenario's gRPC calls to their methods, before any
// load: from cfg.Methods, else from the target's reflection service. A
// call needs HTTP/2: a target that negotiated HTTP/1.1 is an error here.
func bindCalls(ctx context.Context, cfg Config, l client.Load) (map[string]*rpc.Method, error) {
	names := rpc.Names(cfg.Scenario)
	if len(names) == 0 {
		return nil, nil
	}
	if l.Protocol() != ProtocolH2 {
		return nil, fmt.Errorf("replay: the scenario's gRPC calls need HTTP/2, and %s speaks %s", cfg.Target, l.Protocol())
	}
	m := cfg.Methods
	if m == nil {
		u, addr, err := client.ParseTarget(cfg.Target)
		if err != nil {
			return nil, err
		}
		var conf *tls.Config
		if u.Scheme == "https" || u.Scheme == "grpcs" {
			conf = client.TLSConfig(cfg.TLS, u) // (grpc-go offers h2 by ALPN itself)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if m, err = rpc.Reflect(rctx, addr, conf, names); err != nil {
			return nil, fmt.Errorf("replay: the methods of the scenario's gRPC calls (give target.protos to read them from .proto files): %w", err)
		}
	}
	return rpc.Bind(cfg.Scenario, m)
}

// renderCall writes a gRPC call: a POST to /package.Service/Method with its
// message, length-prefixed, its metadata, and its deadline.
func (e *engine) renderCall(w []byte, t *scenarios.Request, u *user, hdr []string) ([]byte, []string, error) {
	m := e.calls[t.GRPC]
	if m == nil {
		return w, hdr, fmt.Errorf("no method bound for %s", t.GRPC)
	}
	msg := []byte("{}")
	if t.Message != nil {
		var err error
		if msg, err = json.Marshal(u.vars.body(t.Message)); err != nil {
			return w, hdr, err
		}
	}
	body, err := m.Encode(msg)
	if err != nil {
		return w, hdr, err
	}
	hdr = append(hdr, "Content-Type", "application/grpc", "Te", "trailers", "User-Agent", "surge")
	if t.Deadline > 0 {
		hdr = append(hdr, "Grpc-Timeout", strconv.FormatInt(max(1, t.Deadline.Milliseconds()), 10)+"m")
	}
	for k, x := range t.Metadata {
		hdr = append(hdr, k, u.vars.expand(x, func(s string) string { return s }))
	}
	w, err = e.load.Request(w, "POST", "/"+t.GRPC, hdr, body)
	return w, hdr, err
}

// callAnswer classifies a call's answer by its grpc-status (in the
// trailers, or the headers of a trailers-only answer; a bare HTTP status
// when there is none) and, when a check or an extraction reads it, turns
// its message into JSON (otherwise it is only checked to be a message of
// the method's) (a server stream's messages into a JSON array: extract reads
// 0.field, 1.field ...), with the time its first message came. An answer that is not a message of the method's is internal, as
// gRPC's clients say.
func (e *engine) callAnswer(t *scenarios.Request, resp client.Response) answer {
	status := resp.Status
	headerValues(resp.Head, "Grpc-Status", func(v string) bool {
		if c, err := strconv.Atoi(v); err == nil && c >= 0 && c < len(scenarios.GRPCCodes) {
			status = scenarios.GRPCStatus + c
		}
		return false
	})
	a := answer{kind: t.Classify(status, nil), status: resp.Status, head: resp.Head, body: resp.Body}
	m := e.calls[t.GRPC]
	if a.kind == "" && (len(resp.Body) > 0 || m.ServerStreams()) {
		js, n, err := resp.Body, 0, error(nil)
		if len(t.Check) > 0 || len(t.Extract) > 0 || e.cfg.Raw != nil {
			js, n, err = m.Decode(resp.Body)
		} else { // nothing reads the JSON: the answer is only checked to be the method's (protojson was a tenth of a call's CPU)
			n, err = m.Valid(resp.Body)
		}
		if err != nil {
			a.kind, a.err = "internal", err
			return a
		}
		a.body = js
		if m.ServerStreams() {
			a.firstAt, a.messages = resp.FirstAt, n
		}
	} else if a.kind != "" {
		a.body = resp.Body[:0] // (binary; the trailers' grpc-message says what failed)
	}
	return a
}

// callKind names a call that failed below gRPC as gRPC's clients do: past
// its deadline, whatever broke, it is a timeout (a server that ends the
// stream when its deadline fires resets it); a stream the server reset
// with REFUSED_STREAM is unavailable, with CANCEL cancelled, with
// ENHANCE_YOUR_CALM resource_exhausted, with another code internal.
// Failures before a stream (refused, tls, reset connections) keep their
// kinds.
func callKind(kind string, err error, pastDeadline bool) string {
	if pastDeadline {
		return "timeout"
	}
	var se http2.StreamError
	if !errors.As(err, &se) {
		return kind
	}
	switch se.Code {
	case http2.ErrCodeRefusedStream:
		return "unavailable"
	case http2.ErrCodeCancel:
		return "cancelled"
	case http2.ErrCodeEnhanceYourCalm:
		return "resource_exhausted"
	}
	return "internal"
}
