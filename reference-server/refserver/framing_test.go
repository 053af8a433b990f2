package refserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// smuggled is a request hidden behind a body whose framing conflicts: a
// front proxy that reads the other framing forwards it as part of the body.
const smuggled = "POST /v1/identity/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n{\"user_id\": \"smuggled\", \"platform\": \"kakao\"}"

// TestConflictingFramingIsRefusedAndClosed sends each framing RFC 9112
// says a server must not trust, with a request smuggled behind it, over
// one connection to the reference server on its own edge: the first is
// refused (400 bad_framing, or net/http's own refusal), the connection
// closes, and the smuggled request is never served.
func TestConflictingFramingIsRefusedAndClosed(t *testing.T) {
	srv, err := Start(Config{Profile: loadProfile(t, "testdata/fast.yaml"), DBPath: t.TempDir() + "/pass.db"}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const post = "POST /v1/identity/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	body := `{"user_id": "first", "platform": "kakao"}`
	for _, c := range []struct{ name, raw string }{
		{"Content-Length and Transfer-Encoding", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"Transfer-Encoding and Content-Length", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{"Content-Length twice, one value", post + fmt.Sprintf("Content-Length: %d\r\nContent-Length: %[1]d\r\n\r\n%s", len(body), body)},
		{"a folded header line", post + fmt.Sprintf("X-Note: a\r\n folded\r\nContent-Length: %d\r\n\r\n%s", len(body), body)},
		{"a folded Transfer-Encoding", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"},
		{"Transfer-Encoding in HTTP/1.0", strings.Replace(post, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"a coding before chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"an HTTP/1.9 request with both", strings.Replace(post, "HTTP/1.1", "HTTP/1.9", 1) + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			answers, closed := exchange(t, srv.URL, c.raw+smuggled)
			if len(answers) != 1 || answers[0].StatusCode < 400 {
				t.Fatalf("answers %v, want one refusal", statuses(answers))
			}
			if answers[0].StatusCode == 400 && answers[0].code != "bad_framing" && answers[0].code != "bad_request" {
				t.Errorf("refused with %q, want bad_framing", answers[0].code)
			}
			if !closed {
				t.Error("the connection stayed open after a request with conflicting framing")
			}
		})
	}
	if n := testutil.ToFloat64(srv.met.requests.WithLabelValues("identity.request", "201")); n != 0 {
		t.Errorf("%v identity requests served, want none (neither the refused nor the smuggled ones)", n)
	}

	t.Run("valid framing pipelined", func(t *testing.T) {
		chunked := post + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x;ext=1\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n", len(body), body)
		sized := post + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
		answers, closed := exchange(t, srv.URL, sized+chunked+"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := statuses(answers); fmt.Sprint(got) != "[201 201 200]" {
			t.Errorf("answers %v, want [201 201 200]", got)
		}
		if closed {
			t.Error("the connection closed after valid requests")
		}
	})
}

type answer struct {
	*http.Response
	code string
}

// exchange writes raw on a new connection to url and reads every answer
// until the server closes (closed) or 2 s pass.
func exchange(t *testing.T, url, raw string) (answers []answer, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(conn, raw)
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			return answers, !(errors.As(err, &ne) && ne.Timeout())
		}
		b, _ := io.ReadAll(resp.Body)
		answers = append(answers, answer{resp, errCodeOf(b)})
	}
}

func statuses(as []answer) []int {
	var out []int
	for _, a := range as {
		out = append(out, a.StatusCode)
	}
	return out
}

func errCodeOf(body []byte) string {
	_, rest, ok := strings.Cut(string(body), `"code": "`)
	if !ok {
		_, rest, _ = strings.Cut(string(body), `"code":"`)
	}
	code, _, _ := strings.Cut(rest, `"`)
	return code
}

// TestFramingFollowsValidStreams: random valid request streams (bodies by
// Content-Length and by chunks with extensions and trailers, empty lines
// between requests, bare line feeds), cut at random read boundaries, are
// followed to the end with no fault and every request counted; the same
// streams with one faulty head anywhere are caught.
func TestFramingFollowsValidStreams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	faults := []string{"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", "Content-Length: 0\r\nContent-Length: 0\r\n", "X-A: b\r\n\tc\r\n"}
	for trial := range 300 {
		n := 1 + rng.IntN(8)
		var stream strings.Builder
		bad := -1
		if trial%2 == 1 {
			bad = rng.IntN(n)
		}
		for i := range n {
			extra := ""
			if i == bad {
				extra = faults[rng.IntN(len(faults))]
			}
			stream.WriteString(randomRequest(rng, extra))
		}
		var f framing
		s := stream.String()
		for len(s) > 0 {
			k := min(len(s), 1+rng.IntN(40))
			f.feed([]byte(s[:k]))
			s = s[k:]
		}
		switch {
		case bad < 0 && (f.bad != "" || f.state != inHead || len(f.line) != 0):
			t.Fatalf("trial %d: a valid stream of %d requests: fault %q, state %d, %q left\n%s", trial, n, f.bad, f.state, f.line, stream.String())
		case bad >= 0 && f.bad == "":
			t.Fatalf("trial %d: request %d of %d is faulty, not caught\n%s", trial, bad, n, stream.String())
		}
	}
}

// randomRequest is one valid request, with extra header lines.
func randomRequest(rng *rand.Rand, extra string) string {
	eol := "\r\n"
	if rng.IntN(5) == 0 {
		eol = "\n"
	}
	lead := strings.Repeat("\r\n", rng.IntN(2))
	head := lead + "POST /v1/x HTTP/1.1" + eol + "Host: x" + eol + extra
	body := strings.Repeat("{x}\r\n0\r\n", rng.IntN(40)) // bytes that look like framing
	switch rng.IntN(3) {
	case 0:
		return head + eol
	case 1:
		return head + fmt.Sprintf("content-LENGTH: %d", len(body)) + eol + eol + body
	}
	var b strings.Builder
	b.WriteString(head + "Transfer-Encoding: chunked" + eol + eol)
	for rest := body; len(rest) > 0; {
		k := min(len(rest), 1+rng.IntN(30))
		fmt.Fprintf(&b, "%X;n=v\r\n%s\r\n", k, rest[:k])
		rest = rest[k:]
	}
	b.WriteString("0\r\n")
	if rng.IntN(2) == 0 {
		b.WriteString("X-Trailer: 1\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestHealthzAnswersPastTheConnectionCap: 1,500 slow clients against a cap
// of 900 (bodies trickling a byte at a time, and past the cap some that
// trickle their heads) fill every slot; /healthz answers 200 within a
// second throughout, other requests past the cap are refused at once, and
// a connection taken for a health check serves nothing else.
func TestHealthzAnswersPastTheConnectionCap(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 1,500 slow connections for seconds")
	}
	const limit, slowBodies, slowHeads = 900, 1300, 200
	addr := edgeServer(t, limit, 20*time.Second) // the slow clients hold their slots for the whole test

	stop := make(chan struct{})
	var open atomic.Int64
	trickle := func(n int, first string) {
		var conns []net.Conn
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			io.WriteString(c, first)
			conns = append(conns, c)
		}
		open.Add(int64(len(conns)))
		go func() {
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				for _, c := range conns {
					c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
					c.Write([]byte(" "))
				}
			}
		}()
	}
	trickle(slowBodies, "POST /v1/identity/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	trickle(slowHeads, "POST /v1/identity/requests HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	defer close(stop)

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(4 * time.Second)
	checks := 0
	for ; time.Now().Before(deadline); checks++ {
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz while %d connections are slow, check %d: %v", slowBodies+slowHeads, checks, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/healthz: %d after %v", resp.StatusCode, time.Since(start))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d health checks answered with %d slow connections open", checks, open.Load())

	resp, err := client.Post("http://"+addr+"/v1/identity/requests", "application/json", strings.NewReader(`{"user_id":"u","platform":"kakao"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an API request past the cap: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	answers, closed := exchange(t, "http://"+addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"+smuggled)
	if fmt.Sprint(statuses(answers)) != "[200]" || !closed {
		t.Errorf("a health check's connection past the cap with a request behind it: answers %v, closed %v; want [200] and closed", statuses(answers), closed)
	}
}
