package replay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/surgekit/surge/scenarios"
)

// waitingRoom is a WebSocket waiting room: a user says who it is, hears
// its position, and after wait hears its turn with a ticket; "early" users
// are dropped before their turn; past capacity users get 503 at the door.
func waitingRoom(wait time.Duration, capacity int64) (http.Handler, *atomic.Int64) {
	var open, most atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open.Load() >= capacity {
			http.Error(w, `{"error": {"code": "room_full"}}`, http.StatusServiceUnavailable)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		n := open.Add(1)
		defer open.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		defer c.CloseNow()
		ctx := r.Context()
		var hello struct{ User string }
		_, b, err := c.Read(ctx)
		if err != nil || json.Unmarshal(b, &hello) != nil || hello.User == "" {
			c.Close(websocket.StatusPolicyViolation, "say who you are")
			return
		}
		c.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"status": "waiting", "position": %d}`, n)))
		if strings.HasPrefix(hello.User, "early") {
			c.Close(websocket.StatusGoingAway, "the room closed")
			return
		}
		time.Sleep(wait)
		c.Write(ctx, websocket.MessageText, []byte(`{"status": "your_turn", "ticket": "t-`+hello.User+`"}`))
		c.Read(ctx) // until the user goes
	}), &most
}

// Users wait in a WebSocket waiting room for their turn: the step's
// latency is the wait, the ticket from the awaited message goes into the
// next request, and the connections held at once are counted.
func TestWebSocketWaitingRoom(t *testing.T) {
	room, most := waitingRoom(300*time.Millisecond, 1000)
	var tickets atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("/room", room)
	mux.HandleFunc("/enter", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Query().Get("ticket"), "t-u") {
			tickets.Add(1)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 100, profile: [50%, 50%], process: uniform}
requests:
  room:
    ws: /room
    send: [{user: "${user}"}]
    until: {json: status, equals: your_turn}
    within: 5s
    hold: 200ms
    extract: {ticket: ticket}
  enter: {method: GET, path: "/enter?ticket=${ticket}"}
journeys: {j: [{request: room}, {request: enter}]}`)
	run := play(t, s, srv.URL)
	r, e := run.Endpoints["room"].Total, run.Endpoints["enter"].Total
	if r.Succeeded != 100 || e.Succeeded != 100 || tickets.Load() != 100 {
		t.Fatalf("room %d ok %v, enter %d ok; %d tickets reached the door", r.Succeeded, r.Errors, e.Succeeded, tickets.Load())
	}
	if p50 := r.Latency.Percentile(50); p50 < 300*time.Millisecond || p50 > 450*time.Millisecond {
		t.Errorf("the wait's p50 %v, want the room's 300 ms (not the 500 ms with the hold)", p50)
	}
	// 50 users a second, each holding 0.5 s: about 25 at once
	if run.Generator.MaxHeld < 15 || run.Generator.MaxHeld > 40 || run.Generator.MaxHeld < most.Load()-5 {
		t.Errorf("at most %d connections held, the room saw %d; want about 25", run.Generator.MaxHeld, most.Load())
	}
}

// A room that closes before the turn is closed; one that is full at the
// door is a shed; a turn that comes after within: is a timeout.
func TestHeldConnectionFailures(t *testing.T) {
	for _, c := range []struct {
		name, user, within string
		wait               time.Duration
		capacity           int64
		want               string
	}{
		{"closed early", "early-${user}", "5s", 0, 1000, "closed"},
		{"full", "${user}", "5s", 0, 0, "shed"},
		{"too slow", "${user}", "100ms", time.Second, 1000, "timeout"},
	} {
		room, _ := waitingRoom(c.wait, c.capacity)
		srv := httptest.NewServer(room)
		s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 10, profile: [100%], process: uniform}
requests:
  room: {ws: /, send: [{user: "`+c.user+`"}], until: {json: status, equals: your_turn}, within: `+c.within+`}
journeys: {j: [{request: room}]}
behaviour: {give_up: {abandon: 100%}}`)
		run := play(t, s, srv.URL)
		srv.Close()
		if r := run.Endpoints["room"].Total; r.Errors[c.want] != 10 {
			t.Errorf("%s: errors %v, want 10 %s", c.name, r.Errors, c.want)
		}
	}
}

// Server-sent events: the user listens until the event that says its
// turn, and its data is the answer.
func TestServerSentEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "not an event stream", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := range 3 {
			fmt.Fprintf(w, ": keep-alive\nevent: position\ndata: {\"status\": \"waiting\",\ndata:  \"position\": %d}\n\n", 3-i)
			f.Flush()
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(w, "data: {\"status\": \"your_turn\", \"user\": %q}\n\n", r.URL.Query().Get("u"))
		f.Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	s := scenario(t, `arrivals: {start: "12:00", bucket: 1s, total: 20, profile: [100%], process: uniform}
requests:
  feed: {sse: "/feed?u=${user}", until: {json: status, equals: your_turn}, within: 3s, extract: {me: user}}
journeys: {j: [{request: feed}]}`)
	run := play(t, s, srv.URL)
	f := run.Endpoints["feed"].Total
	if f.Succeeded != 20 || f.Latency.Percentile(50) < 150*time.Millisecond {
		t.Errorf("feed: %d ok %v, p50 %v; want 20 after the three position events", f.Succeeded, f.Errors, f.Latency.Percentile(50))
	}
}

// A held connection says what it waits for and how long, or it is refused
// before any load.
func TestHeldConnectionsValidate(t *testing.T) {
	for _, c := range []struct{ req, want string }{
		{`{ws: /room, until: {json: status, equals: go}}`, "requests.room.within: a held connection waits for its until: message within a time"},
		{`{ws: /room}`, "requests.room: a held connection waits for a message (until: and within:) or holds for a time (hold:)"},
		{`{sse: /feed, send: [{a: 1}], hold: 1s}`, "requests.room.send: an event stream only listens"},
		{`{ws: room, hold: 1s}`, `requests.room.ws: want a path (/live) or a ws:// or wss:// URL, have "room"`},
		{`{method: GET, path: /, hold: 1s}`, "requests.room.hold: hold is a held connection's"},
	} {
		_, err := scenarios.Parse("t.yaml", []byte(`name: t
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 10, profile: [100%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: all, share: 100%, journey: j}]
requests: {room: `+c.req+`}
journeys: {j: [{request: room}]}`))
		if err == nil || !strings.Contains(err.Error(), "t.yaml:6: "+c.want) {
			t.Errorf("%s: %v, want %q", c.req, err, c.want)
		}
	}
}
