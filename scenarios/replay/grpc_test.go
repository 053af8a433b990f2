package replay

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/rpc"
	"github.com/surgekit/surge/scenarios/rpc/rpctest"
)

// A journey of gRPC calls against a real grpc-go server: methods from its
// reflection service or from the .proto file, messages from templates
// (an enum by name, a number, a variable), metadata, an extraction from
// one answer into the next call.
func TestGRPCJourney(t *testing.T) {
	srv, err := rpctest.Start(t.Cleanup, "secret")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "venue.proto"), []byte(rpctest.Proto), 0o644)
	src := `arrivals: {start: "12:00", bucket: 1s, total: 40, profile: [50%, 50%], process: uniform}
target: {url: "grpc://` + srv.Addr + `"}
requests:
  checkin:
    grpc: pass.v1.Venue/CheckIn
    message: {token: "${user}", venue_id: cafe-1, party: 2, kind: DINE_IN, tags: [lunch]}
    metadata: {authorization: Bearer secret}
    extract: {visit: visit_id}
    check: [{json: party, equals: 2}]
  again:
    grpc: pass.v1.Venue/CheckIn
    message: {token: "${visit}"}
    metadata: {authorization: Bearer secret}
    extract: {visit2: visit_id}
journeys: {j: [{request: checkin}, {request: again}]}`
	for _, fromProto := range []bool{false, true} {
		calls := srv.Calls.Load()
		s := scenario(t, src)
		run := play(t, s, "grpc://"+srv.Addr, func(c *Config) {
			if fromProto {
				m, err := rpc.Compile(context.Background(), dir, []string{"venue.proto"})
				if err != nil {
					t.Fatal(err)
				}
				c.Methods = m
			}
		})
		a, b := run.Endpoints["checkin"].Total, run.Endpoints["again"].Total
		if a.Succeeded != 40 || b.Succeeded != 40 || srv.Calls.Load()-calls != 80 || run.Meta.Protocol != "h2" {
			t.Errorf("from .proto %v: checkin %d ok %v, again %d ok %v; the server saw %d calls; protocol %q",
				fromProto, a.Succeeded, a.Errors, b.Succeeded, b.Errors, srv.Calls.Load()-calls, run.Meta.Protocol)
		}
	}
}

// Every non-OK status is its own kind, named after its code:
// RESOURCE_EXHAUSTED and UNAVAILABLE retried as a shed is,
// DEADLINE_EXCEEDED (the server's, within the call's deadline) a timeout,
// UNAUTHENTICATED for a call without the token.
func TestGRPCStatusesAreKinds(t *testing.T) {
	srv, err := rpctest.Start(t.Cleanup, "secret")
	if err != nil {
		t.Fatal(err)
	}
	s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 50, profile: [100%], process: uniform}
target: {url: "grpc://`+srv.Addr+`"}
requests:
  busy: {grpc: pass.v1.Venue/CheckIn, message: {token: busy}, metadata: {authorization: Bearer secret}}
  down: {grpc: pass.v1.Venue/CheckIn, message: {token: down}, metadata: {authorization: Bearer secret}}
  slow: {grpc: pass.v1.Venue/CheckIn, message: {token: slow}, metadata: {authorization: Bearer secret}, deadline: 50ms}
  anon: {grpc: pass.v1.Venue/CheckIn, message: {token: a}}
  denied: {grpc: pass.v1.Venue/CheckIn, message: {token: a}, expect: [UNAUTHENTICATED]}
cohorts:
  - {name: a, share: 20%, journey: busy}
  - {name: b, share: 20%, journey: down}
  - {name: c, share: 20%, journey: slow}
  - {name: d, share: 20%, journey: anon}
  - {name: e, share: 20%, journey: denied}
journeys: {busy: [{request: busy}], down: [{request: down}], slow: [{request: slow}], anon: [{request: anon}], denied: [{request: denied}]}
behaviour: {retry: {attempts: 2, backoff: 1ms, on: [shed]}, give_up: {abandon: 100%}}`)
	run := play(t, s, "grpc://"+srv.Addr)
	for name, want := range map[string]string{"busy": "resource_exhausted", "down": "unavailable", "slow": "timeout", "anon": "unauthenticated"} {
		e := run.Endpoints[name].Total
		tries := int64(1)
		if name == "busy" || name == "down" {
			tries = 2 // retried, as a shed
		}
		if e.Offered == 0 || e.Errors[want] != tries*e.Offered || e.Attempted != tries*e.Offered {
			t.Errorf("%s: %d users, %d attempts, errors %v; want %d attempts each, all %s", name, e.Offered, e.Attempted, e.Errors, tries, want)
		}
		if name == "slow" && e.FailedLatency.Percentile(99) > 400e6 {
			t.Errorf("slow: failed p99 %v, want about the 50 ms deadline", e.FailedLatency.Percentile(99))
		}
	}
	if e := run.Endpoints["denied"].Total; e.Offered == 0 || e.Succeeded != e.Offered {
		t.Errorf("denied: expect [UNAUTHENTICATED] should succeed: %+v", e.Errors)
	}
	found := false
	for _, f := range run.Failures {
		found = found || f.Endpoint == "busy" && strings.Contains(f.Headers, "at capacity")
	}
	if !found {
		t.Errorf("the busy call's failure samples %+v do not carry its grpc-message", run.Failures)
	}
}

// A server-streaming call: its latency runs to the last message, the time
// to the first is its own figure, the messages are counted, and extract
// reads any of them by index.
func TestGRPCServerStream(t *testing.T) {
	srv, err := rpctest.Start(t.Cleanup, "")
	if err != nil {
		t.Fatal(err)
	}
	s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 20, profile: [100%], process: uniform}
target: {url: "grpc://`+srv.Addr+`"}
requests:
  watch: {grpc: pass.v1.Venue/Watch, message: {token: "${user}", party: 4}, extract: {last: 3.visit_id}}
  use: {grpc: pass.v1.Venue/CheckIn, message: {token: "${last}"}}
journeys: {j: [{request: watch}, {request: use}]}`)
	run := play(t, s, "grpc://"+srv.Addr)
	w := run.Endpoints["watch"].Total
	if w.Succeeded != 20 || run.Endpoints["use"].Total.Succeeded != 20 || w.Messages != 80 || w.FirstMessage == nil {
		t.Fatalf("watch %d ok %v, %d messages; use %d ok %v", w.Succeeded, w.Errors, w.Messages, run.Endpoints["use"].Total.Succeeded, run.Endpoints["use"].Total.Errors)
	}
	first, last := w.FirstMessage.Percentile(50), w.Latency.Percentile(50)
	if first > 60*time.Millisecond || last < 150*time.Millisecond || last > 300*time.Millisecond {
		t.Errorf("first message p50 %v, last p50 %v: want the first at once and the last after 3 x 50 ms", first, last)
	}
}

// An answer that is not a message of the method's is internal, as gRPC's
// clients say, whether the call reads it (an extraction: the answer turned
// into JSON) or not (only checked to be the method's); a call that neither
// extracts nor checks still counts a stream's messages.
func TestGRPCAnswerNotTheMethodsIsInternal(t *testing.T) {
	_, target, _ := h2Server(t, false, 0, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		if strings.HasSuffix(r.URL.Path, "/Watch") { // three empty messages: valid
			w.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
		} else { // field 1, 255 bytes long, that are not there
			w.Write([]byte{0, 0, 0, 0, 2, 0x0a, 0xff})
		}
		w.Header().Set("Grpc-Status", "0")
	}))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "venue.proto"), []byte(rpctest.Proto), 0o644)
	m, err := rpc.Compile(context.Background(), dir, []string{"venue.proto"})
	if err != nil {
		t.Fatal(err)
	}
	addr := "grpc://" + strings.TrimPrefix(target, "h2c://")
	s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 30, profile: [100%], process: uniform}
target: {url: "`+addr+`"}
requests:
  reads: {grpc: pass.v1.Venue/CheckIn, message: {token: t}, extract: {visit: visit_id}}
  blind: {grpc: pass.v1.Venue/CheckIn, message: {token: t}}
  watch: {grpc: pass.v1.Venue/Watch, message: {token: t}}
cohorts:
  - {name: a, share: 34%, journey: reads}
  - {name: b, share: 33%, journey: blind}
  - {name: c, share: 33%, journey: watch}
journeys: {reads: [{request: reads}], blind: [{request: blind}], watch: [{request: watch}]}`)
	run := play(t, s, addr, func(c *Config) { c.Methods = m })
	for _, name := range []string{"reads", "blind"} {
		if e := run.Endpoints[name].Total; e.Offered == 0 || e.Errors["internal"] != e.Offered {
			t.Errorf("%s: %d calls, errors %v: want every one internal", name, e.Offered, e.Errors)
		}
	}
	if w := run.Endpoints["watch"].Total; w.Offered == 0 || w.Succeeded != w.Offered || w.Messages != 3*w.Offered {
		t.Errorf("watch: %d of %d ok (%v), %d messages: want 3 each", w.Succeeded, w.Offered, w.Errors, w.Messages)
	}
}
