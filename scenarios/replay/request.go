package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
)

// vars are a user's variables as JSON values.
type vars map[string]json.RawMessage

var varRE = scenarios.VarRE

// text is a variable as it reads inside a string: a JSON string unquoted,
// anything else as its JSON text.
func (v vars) text(name string) string {
	raw := v[name]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (v vars) expand(s string, escape func(string) string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		return escape(v.text(m[2 : len(m)-1]))
	})
}

// body renders a JSON template: a string that is exactly "${x}" takes x's
// JSON value whole; other strings have variables replaced inside them.
func (v vars) body(t any) any {
	switch x := t.(type) {
	case string:
		if m := varRE.FindStringSubmatch(x); m != nil && m[0] == x {
			if raw, ok := v[m[1]]; ok {
				return raw
			}
			return nil
		}
		return v.expand(x, func(s string) string { return s })
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = v.body(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = v.body(e)
		}
		return out
	}
	return t
}

// render writes the HTTP request of a template for a user into w.
func (e *engine) render(w []byte, t *scenarios.Request, u *user, hdr []string) ([]byte, []string, error) {
	if t.IsGRPC() {
		return e.renderCall(w, t, u, hdr)
	}
	v := u.vars
	body, ctype, err := e.bodyOf(t, v)
	if err != nil {
		return w, hdr, err
	}
	if ctype != "" && !t.SetsHeader("Content-Type") {
		hdr = append(hdr, "Content-Type", ctype)
	}
	if !t.SetsHeader("User-Agent") {
		hdr = append(hdr, "User-Agent", "surge")
	}
	for k, x := range t.Headers {
		hdr = append(hdr, k, v.expand(x, func(s string) string { return s }))
	}
	if len(u.jar) > 0 && !t.SetsHeader("Cookie") {
		hdr = append(hdr, "Cookie", cookieHeader(u.jar))
	}
	w, err = e.load.Request(w, t.Method, v.expand(t.Path, url.PathEscape), hdr, body)
	return w, hdr, err
}

// answer is what one attempt got.
type answer struct {
	kind   string // "" on success, else the error kind
	status int
	body   []byte
	head   []byte // the answer's status line and headers (for a failure sample)
	err    error  // the transport's error, when there was no answer
	resent int    // times sent again on a new connection (exchange)
	// waited is how long the attempt waited for one of the client's
	// bounded connections (or streams): the generator's queue.
	waited time.Duration
	// answered is when the answer came, if not when the attempt ended (a
	// held connection's awaited message, before the user's hold).
	answered time.Time
	// firstAt is when a server stream's first message came, and messages
	// how many came (a streaming call; zero otherwise).
	firstAt  time.Time
	messages int
}

// classify turns an HTTP answer into an error kind (scenarios.Request.Classify),
// reading the error code from a JSON error body.
func classify(t *scenarios.Request, status int, body []byte) string {
	return t.Classify(status, func() string {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		json.Unmarshal(body, &e)
		return e.Error.Code
	})
}

// transportKind names a failed exchange; "" if the run cut it.
func transportKind(err error, runCtx context.Context) string {
	var te client.TLSError
	switch {
	case errors.Is(err, client.ErrCut) || runCtx.Err() != nil:
		return ""
	case client.IsTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &te):
		return "tls"
	}
	if k := client.H2Kind(err); k != "" {
		return k
	}
	return "reset"
}

// scratch is a user's reusable buffers for its requests and answers.
type scratch struct {
	req, ans, head []byte
	hdr            []string
	call           client.Call
}

// keepAnswer is the largest answer buffer a user keeps between requests
// (larger answers are read into a buffer of their own).
const keepAnswer = 64 << 10

// send does one attempt with the step's timeout, which covers the wait for
// a connection and the exchange. *sent is set to when the request got its
// connection (the actual send; until then it queued in the client for one
// of the bounded connections).
func (e *engine) send(runCtx context.Context, t *scenarios.Request, u *user, timeout time.Duration, sent *time.Time) answer {
	h, s := e.load, &u.scratch
	req, hdr, err := e.render(s.req[:0], t, u, s.hdr[:0])
	s.req, s.hdr = req[:0], hdr[:0]
	if err != nil { // the user's variables make no valid request: the client's own error
		if t.IsGRPC() {
			return answer{kind: "invalid_argument", err: err} // (as a gRPC client says of a message it cannot encode)
		}
		return answer{kind: "4xx"}
	}
	c := &s.call
	*c = client.Call{Req: req, IsHead: t.Method == "HEAD", Idempotent: idempotent(t.Method), Body: s.ans[:0], Head: s.head[:0], Framed: t.IsGRPC()}
	if t.Deadline > 0 && t.Deadline < timeout { // a call waits for its deadline, no longer
		timeout = t.Deadline
	}
	deadline := time.Now().Add(timeout)
	resp, err := h.Exchange(runCtx, deadline, c)
	if !c.Sent.IsZero() {
		*sent = c.Sent
	}
	if cap(resp.Body) > cap(s.ans) && cap(resp.Body) <= keepAnswer {
		s.ans = resp.Body[:0]
	}
	if cap(resp.Head) > cap(s.head) {
		s.head = resp.Head[:0]
	}
	if err != nil {
		kind := transportKind(err, runCtx)
		if t.IsGRPC() && kind != "" {
			kind = callKind(kind, err, !time.Now().Before(deadline))
		}
		return answer{kind: kind, err: err, resent: c.Resent, waited: c.Waited}
	}
	if t.IsGRPC() {
		a := e.callAnswer(t, resp)
		a.resent, a.waited = c.Resent, c.Waited
		return a
	}
	return answer{kind: classify(t, resp.Status, resp.Body), status: resp.Status, body: resp.Body, head: resp.Head, resent: c.Resent, waited: c.Waited}
}

// idempotent says a request with this method may be sent twice with the
// effect of once (RFC 9110 9.2.2): such a request may be sent again when
// its connection turns out to have been closed.
func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// extract sets the template's variables from an answer; false if the
// answer lacks one (the service answered, but not what the journey needs:
// the attempt fails as extract_failed).
func extract(t *scenarios.Request, ans *answer, v vars) bool {
	var doc any
	parsed := false
	for name, x := range t.Extract {
		switch {
		case x.Header != "":
			found := false
			headerValues(ans.head, x.Header, func(val string) bool { v.set(name, val); found = true; return false })
			if !found {
				return false
			}
		case x.Cookie != "":
			jar := setCookies(nil, ans.head)
			i := slices.IndexFunc(jar, func(c cookie) bool { return c.name == x.Cookie })
			if i < 0 {
				return false
			}
			v.set(name, jar[i].value)
		case x.Regex != "":
			m := x.Match().FindSubmatch(ans.body)
			if m == nil {
				return false
			}
			v.set(name, string(m[min(1, len(m)-1)]))
		case x.JSON == ".":
			v[name] = json.RawMessage(bytes.Clone(ans.body))
		default:
			if !parsed {
				parsed = true
				if json.Unmarshal(ans.body, &doc) != nil {
					return false
				}
			}
			val, ok := lookup(doc, x.JSON)
			if !ok {
				return false
			}
			raw, _ := json.Marshal(val)
			v[name] = raw
		}
	}
	return true
}

// lookup follows a dotted path (map keys, array indexes) in a JSON document.
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
