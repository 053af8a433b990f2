package refserver

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/spec"
)

// The waiting room holds apps on a WebSocket and admits them through its
// stage: one at a time (300 ms each), one more queued, the third shed at
// once with the code and retry-after it would have had over HTTP. A
// hello that does not say who it is closes the room's door.
func TestWaitingRoomHoldsAndAdmits(t *testing.T) {
	p := loadProfile(t, "testdata/fast.yaml")
	svc, _ := spec.ParseDist("300ms")
	p.Stages["waiting-room"] = profile.Stage{Workers: 1, Queue: 1, WhenFull: "shed", Service: svc, RetryAfter: 2 * time.Second}
	p.Routes["waiting-room"] = []profile.Step{{Stage: "waiting-room"}}
	ts := startServer(t, p)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/v1/waiting-room"
	type heard struct {
		msgs []map[string]any
		took time.Duration
	}
	visit := func(hello string) heard {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		began := time.Now()
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Error(err)
			return heard{}
		}
		defer c.CloseNow()
		c.Write(ctx, websocket.MessageText, []byte(hello))
		var h heard
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				h.took = time.Since(began)
				return h
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			h.msgs = append(h.msgs, m)
			if m["status"] == "your_turn" {
				h.took = time.Since(began)
				c.Close(websocket.StatusNormalClosure, "")
				return h
			}
		}
	}
	var wg sync.WaitGroup
	got := make([]heard, 3)
	for i := range got {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond) // in order: admitted, queued, shed
			got[i] = visit(`{"user_id": "u` + string(rune('1'+i)) + `", "platform": "kakao"}`)
		})
	}
	wg.Wait()
	last := func(h heard) map[string]any {
		if len(h.msgs) == 0 {
			return nil
		}
		return h.msgs[len(h.msgs)-1]
	}
	if m := last(got[0]); m["status"] != "your_turn" || got[0].took < 250*time.Millisecond || got[0].msgs[0]["status"] != "waiting" {
		t.Errorf("the first app heard %v after %v, want waiting, then its turn after the 300 ms admission", got[0].msgs, got[0].took)
	}
	if m := last(got[1]); m["status"] != "your_turn" || got[1].took < 500*time.Millisecond {
		t.Errorf("the queued app heard %v after %v, want its turn after the first's (about 600 ms)", got[1].msgs, got[1].took)
	}
	if m := last(got[2]); m["status"] != "closed" || m["retry_after_s"] != 2.0 || m["code"] == "" {
		t.Errorf("the third app heard %v, want closed with a code and retry after 2 s", got[2].msgs)
	}
	if h := visit(`{"platform": "kakao"}`); len(h.msgs) != 0 {
		t.Errorf("a hello without a user heard %v, want the door closed", h.msgs)
	}
}
