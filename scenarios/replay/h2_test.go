package replay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/replay/internal/client"
)

// h2Server starts handler as an HTTP/2-only server: over TLS with ALPN h2
// alone (an HTTP/1.1 client's handshake fails), or h2c, prior knowledge
// only. Its URL is the target (https:// or h2c://).
func h2Server(t *testing.T, tlsToo bool, maxStreams int, handler http.Handler) (conns *atomic.Int64, target string, roots *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	conns = connCounter(srv)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // probes hang up before a handshake
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	if tlsToo {
		srv.EnableHTTP2 = true
		srv.Config.Protocols.SetHTTP2(true)
		srv.StartTLS()
		roots = x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		target = srv.URL
	} else {
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		target = "h2c://" + strings.TrimPrefix(srv.URL, "http://")
	}
	t.Cleanup(srv.Close)
	return conns, target, roots
}

// A scenario runs unchanged against an h2-only https target (ALPN picks h2)
// and an h2c one: every request over HTTP/2, bodies and extractions as over
// HTTP/1.1, on one connection.
func TestH2TargetsJourney(t *testing.T) {
	for _, tlsToo := range []bool{true, false} {
		var h2Seen, wrong atomic.Int64
		conns, target, roots := h2Server(t, tlsToo, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 {
				h2Seen.Add(1)
			}
			switch {
			case r.Method == "POST" && r.URL.Path == "/api/things" && r.URL.RawQuery == "v=1":
				var in struct{ User string }
				if json.NewDecoder(r.Body).Decode(&in) != nil || in.User == "" || r.Header.Get("Content-Type") != "application/json" || r.Host == "" {
					wrong.Add(1)
				}
				w.Header().Set("Set-Cookie", "sid=s-"+in.User)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"id": %q}`, in.User+"-x")
			case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/things/u"):
				if c, err := r.Cookie("sid"); err != nil || !strings.HasPrefix(c.Value, "s-u") {
					wrong.Add(1)
				}
				io.WriteString(w, `{}`)
			default:
				wrong.Add(1)
				w.WriteHeader(http.StatusNotFound)
			}
		}))
		s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 60, profile: [50%, 50%], process: uniform}
requests:
  make: {method: POST, path: "/things?v=1", json: {user: "${user}"}, expect: [201], extract: {id: id}}
  look: {method: GET, path: "/things/${id}"}
journeys: {j: [{request: make}, {request: look}]}
behaviour: {cookies: true}`)
		run := play(t, s, target+"/api", func(c *Config) { c.TLS = &tls.Config{RootCAs: roots}; c.MaxConns = 8 })
		if run.Endpoints["make"].Total.Succeeded != 60 || run.Endpoints["look"].Total.Succeeded != 60 || wrong.Load() != 0 || h2Seen.Load() != 120 {
			t.Errorf("tls %v: make %+v look %+v; the server saw %d wrong requests and %d over HTTP/2, want 0 and 120",
				tlsToo, run.Endpoints["make"].Total.Errors, run.Endpoints["look"].Total.Errors, wrong.Load(), h2Seen.Load())
		}
		if n := conns.Load(); n > 3 { // the reachability probe, ALPN's question, and the load's one connection
			t.Errorf("tls %v: 120 requests at 30/s used %d connections: streams were not multiplexed", tlsToo, n)
		}
	}
}

// Streams are bounded by the server's SETTINGS_MAX_CONCURRENT_STREAMS on
// each of at most maxConns connections; the rest wait, and their wait is in
// their latency.
func TestH2StreamsBoundedByConnsAndServerSettings(t *testing.T) {
	var now, most atomic.Int64
	conns, target, _ := h2Server(t, false, 3, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(40 * time.Millisecond)
		now.Add(-1)
	}))
	h, err := client.New(context.Background(), target, ProtocolH2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdle()
	var wg sync.WaitGroup
	answers := make([]answer, 36)
	start := time.Now()
	for i := range answers {
		wg.Go(func() {
			var sent time.Time
			var s scratch
			answers[i] = sendVia(context.Background(), h, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, 5*time.Second, &sent, &s)
		})
	}
	wg.Wait()
	took := time.Since(start)
	for i, a := range answers {
		if a.kind != "" {
			t.Fatalf("request %d: %s (%v)", i, a.kind, a.err)
		}
	}
	// 36 requests of 40 ms, 6 at a time (2 connections x 3 streams): 6 rounds.
	if most.Load() != 6 || conns.Load() != 2 {
		t.Errorf("at most %d streams at once over %d connections, want 6 over 2", most.Load(), conns.Load())
	}
	if took < 6*40*time.Millisecond {
		t.Errorf("36 requests took %v: more than 6 ran at once", took)
	}
}

// rawH2 is an h2c server written with x/net's framer, for what net/http's
// server never does on its own: answer streams with RST_STREAM or GOAWAY.
// answer is called per request with the connection's count of requests so
// far (1 for the first) and says what to do: "ok", "refuse", "goaway".
func rawH2(t *testing.T, answer func(n int) string) (target string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go serveRawH2(c, answer)
		}
	}()
	return "h2c://" + ln.Addr().String(), conns
}

func serveRawH2(c net.Conn, answer func(n int) string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	dec := hpack.NewDecoder(4096, nil)
	fr.ReadMetaHeaders = dec
	fr.WriteSettings()
	n := 0
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			fr.WritePing(true, f.Data)
		case *http2.MetaHeadersFrame:
			n++
			switch answer(n) {
			case "refuse":
				fr.WriteRSTStream(f.StreamID, http2.ErrCodeRefusedStream)
			case "goaway":
				fr.WriteGoAway(max(f.StreamID, 2)-2, http2.ErrCodeNo, nil) // this stream and later ones: unprocessed
				return
			case "ping": // answered only once the client acknowledges a PING and new SETTINGS
				fr.WritePing(false, [8]byte{byte(n)})
				fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
				if !awaitAcks(fr, byte(n)) {
					return
				}
				dec.SetAllowedMaxDynamicTableSize(0)
				fallthrough
			default:
				var hb strings.Builder
				enc := hpack.NewEncoder(&hb)
				enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: []byte(hb.String()), EndHeaders: true})
				fr.WriteData(f.StreamID, true, []byte("ok"))
			}
		}
	}
}

// awaitAcks reads frames until the client has acknowledged the PING
// with data[0] == b and a SETTINGS.
func awaitAcks(fr *http2.Framer, b byte) bool {
	var ping, settings bool
	for !ping || !settings {
		f, err := fr.ReadFrame()
		if err != nil {
			return false
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			ping = ping || f.IsAck() && f.Data[0] == b
		case *http2.SettingsFrame:
			settings = settings || f.IsAck()
		}
	}
	return true
}

func h2Send(t *testing.T, target string) answer {
	t.Helper()
	h, err := client.New(context.Background(), target, ProtocolH2, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.CloseIdle)
	var sent time.Time
	var s scratch
	return sendVia(context.Background(), h, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, 3*time.Second, &sent, &s)
}

// REFUSED_STREAM is its own kind, retried where a shed is; a stream a
// GOAWAY left unprocessed goes out once more on a new connection (counted),
// and is goaway when that is refused too; another RST_STREAM is stream_reset.
func TestH2StreamErrorsHaveTheirOwnKinds(t *testing.T) {
	target, _ := rawH2(t, func(int) string { return "refuse" })
	if a := h2Send(t, target); a.kind != "refused_stream" || a.resent != 0 {
		t.Errorf("a refused stream: kind %q resent %d, want refused_stream, 0 (%v)", a.kind, a.resent, a.err)
	}
	if !scenarios.Retries([]string{"shed"}, "refused_stream") || scenarios.Retries([]string{"timeout"}, "refused_stream") {
		t.Error("retry on [shed] should retry refused_stream, on [timeout] not")
	}
	// The server takes a connection's first request and refuses the rest by GOAWAY.
	target, conns := rawH2(t, func(n int) string { return map[bool]string{true: "ok", false: "goaway"}[n == 1] })
	h, _ := client.New(context.Background(), target, ProtocolH2, 1, nil)
	defer h.CloseIdle()
	for i := range 3 {
		var sent time.Time
		var s scratch
		a := sendVia(context.Background(), h, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, 3*time.Second, &sent, &s)
		if wantResent := min(i, 1); a.kind != "" || a.resent != wantResent || string(a.body) != "ok" {
			t.Errorf("request %d: kind %q resent %d body %q, want success after %d resend (%v)", i, a.kind, a.resent, a.body, wantResent, a.err)
		}
	}
	if conns.Load() != 3 {
		t.Errorf("%d connections, want 3 (each GOAWAY drains one)", conns.Load())
	}
	target, _ = rawH2(t, func(int) string { return "goaway" })
	if a := h2Send(t, target); a.kind != "goaway" || a.resent != 1 {
		t.Errorf("a server that refuses everything by GOAWAY: kind %q resent %d, want goaway after 1 resend (%v)", a.kind, a.resent, a.err)
	}
	target, conns = rawH2(t, func(int) string { return "ping" })
	h, _ = client.New(context.Background(), target, ProtocolH2, 1, nil)
	defer h.CloseIdle()
	for i := range 3 { // the server's PING and its new SETTINGS are acknowledged, each time
		var sent time.Time
		var s scratch
		if a := sendVia(context.Background(), h, &scenarios.Request{Method: "GET", Path: "/", Headers: map[string]string{"X-Same": "v"}}, vars{}, 3*time.Second, &sent, &s); a.kind != "" || string(a.body) != "ok" {
			t.Errorf("request %d to a server that waits for its PING's ack: kind %q body %q (%v)", i, a.kind, a.body, a.err)
		}
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections to the pinging server, want 1", conns.Load())
	}
	_, target, _ = h2Server(t, false, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	if a := h2Send(t, target); a.kind != "stream_reset" {
		t.Errorf("a handler that aborts: kind %q, want stream_reset (%v)", a.kind, a.err)
	}
}

// The protocol of an https:// target: ALPN's choice, or the pin; an
// HTTP/1.1-only server pinned to h2 fails as tls, saying why.
func TestH2NegotiationAndPins(t *testing.T) {
	_, h2Target, roots := h2Server(t, true, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h1srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h1srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	h1srv.StartTLS()
	defer h1srv.Close()
	roots.AddCert(h1srv.Certificate())
	conf := &tls.Config{RootCAs: roots}
	for _, c := range []struct {
		target, pin string
		want        string // the client's type, or the error's start
	}{
		{h2Target, "", "*client.h2"},
		{h1srv.URL, "", "*client.h1"},
		{h1srv.URL, "h2", "*client.h2"}, // (its handshake fails on first use)
		{h2Target, "http/1.1", "*client.h1"},
		{"h2c://127.0.0.1:1", "", "*client.h2"},
		{"h2c://127.0.0.1:1", "http/1.1", "replay: target h2c://127.0.0.1:1 is h2c"},
		{"http://127.0.0.1:1", "h2", "replay: target http://127.0.0.1:1: HTTP/2 without TLS is an h2c:// URL"},
		{"http://127.0.0.1:1", "h3", "replay: protocol \"h3\""},
	} {
		l, err := client.New(context.Background(), c.target, c.pin, 2, conf)
		got := fmt.Sprintf("%T", l)
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s pinned %q: %s, want %s", c.target, c.pin, got, c.want)
		}
	}
	l, _ := client.New(context.Background(), h1srv.URL, "h2", 2, conf)
	var sent time.Time
	var s scratch
	if a := sendVia(context.Background(), l, &scenarios.Request{Method: "GET", Path: "/"}, vars{}, 3*time.Second, &sent, &s); a.kind != "tls" || !strings.Contains(a.err.Error(), "no application protocol") {
		t.Errorf("an HTTP/1.1 server pinned to h2: %q %v, want tls saying what it negotiated", a.kind, a.err)
	}
}

// Latency is CO-correct per stream: a 500 ms stall of an h2 server at
// 500 req/s shows in p99 as it does over HTTP/1.1
// (TestStallIsMeasuredFromTheIntendedSendTime), whether the streams share
// two connections or spread over ten.
func TestH2StallIsMeasuredFromTheIntendedSendTime(t *testing.T) {
	if testing.Short() {
		t.Skip("4 s of load")
	}
	for _, conns := range []int{2, 10} {
		_, target, roots := h2Server(t, true, 0, stallHandler(time.Second, 500*time.Millisecond))
		s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 2000, profile: [25%, 25%, 25%, 25%], process: uniform}
requests: {hit: {method: GET, path: /stall}}
journeys: {j: [{request: hit}]}`)
		run := play(t, s, target, func(c *Config) { c.MaxConns = conns; c.TLS = &tls.Config{RootCAs: roots} })
		e := run.Endpoints["hit"].Total
		p99, p50 := e.Latency.Percentile(99), e.Latency.Percentile(50)
		t.Logf("conns %d: corrected p50 %v p99 %v; uncorrected p99 %v", conns, p50, p99, e.Service.Percentile(99))
		if e.Succeeded != 2000 {
			t.Errorf("conns %d: %d of 2000 succeeded: %v", conns, e.Succeeded, e.Errors)
		}
		// The stall is in p99 (an uncorrected view would show the few ms of
		// the unstalled answers), and p99 is at most the stall's 500 ms plus
		// the answering of the burst queued behind it, which the race
		// detector on two busy cores stretches to tens of ms.
		if p99 < 400*time.Millisecond || p99 > 600*time.Millisecond {
			t.Errorf("conns %d: p99 %v, want the 500 ms stall (~460ms)", conns, p99)
		}
		if p50 > 50*time.Millisecond {
			t.Errorf("conns %d: p50 %v, want the unstalled majority's few ms", conns, p50)
		}
	}
}

// What the client's own connection does that the tests above do not ask:
// a request body larger than the server's windows goes out as they grow
// (and the wait is in its latency), an answer far larger than ours is read
// to its end with its first MaxAnswer kept, a header block larger than a
// frame goes out in CONTINUATION frames, and a stream past its deadline
// is cancelled (the server hears it) while its connection carries on.
func TestH2FlowControlLargeHeadersAndCancel(t *testing.T) {
	const upload, download = 3 << 20, 5 << 20
	var cancelled atomic.Int64
	conns, target, _ := h2Server(t, false, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "%d %d", n, len(r.Header.Get("X-Big")))
		case "/down":
			chunk := []byte(strings.Repeat("z", 64<<10))
			for range download / len(chunk) {
				w.Write(chunk)
			}
		case "/slow":
			select {
			case <-r.Context().Done():
				cancelled.Add(1)
			case <-time.After(5 * time.Second):
			}
		}
	}))
	h, err := client.New(context.Background(), target, ProtocolH2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseIdle()
	send := func(r *scenarios.Request, timeout time.Duration) answer {
		var sent time.Time
		var s scratch
		return sendVia(context.Background(), h, r, vars{}, timeout, &sent, &s)
	}
	big := strings.Repeat("y", 40<<10) // over two 16 KiB frames of header block
	a := send(&scenarios.Request{Method: "POST", Path: "/up", Body: strings.Repeat("x", upload), Headers: map[string]string{"X-Big": big}}, 10*time.Second)
	if want := fmt.Sprintf("%d %d", upload, len(big)); a.kind != "" || string(a.body) != want {
		t.Errorf("a 3 MiB upload with a 40 KiB header: kind %q body %q (%v), want the server to have read %q", a.kind, a.body, a.err, want)
	}
	a = send(&scenarios.Request{Method: "GET", Path: "/down"}, 10*time.Second)
	if a.kind != "" || len(a.body) != client.MaxAnswer || strings.Trim(string(a.body), "z") != "" {
		t.Errorf("a 5 MiB answer: kind %q, kept %d bytes (%v), want the first %d", a.kind, len(a.body), a.err, client.MaxAnswer)
	}
	start := time.Now()
	a = send(&scenarios.Request{Method: "GET", Path: "/slow"}, 200*time.Millisecond)
	if a.kind != "timeout" || time.Since(start) > 2*time.Second {
		t.Errorf("a stream past its 200ms deadline: kind %q after %v, want timeout at once", a.kind, time.Since(start))
	}
	for deadline := time.Now().Add(2 * time.Second); cancelled.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if cancelled.Load() != 1 {
		t.Error("the server never heard the timed-out stream's cancel (RST_STREAM)")
	}
	if a = send(&scenarios.Request{Method: "POST", Path: "/up", Body: "ok"}, 5*time.Second); a.kind != "" || string(a.body) != "2 0" {
		t.Errorf("after the cancel: kind %q body %q (%v)", a.kind, a.body, a.err)
	}
	if conns.Load() != 1 {
		t.Errorf("%d connections, want every stream on the one", conns.Load())
	}
}
