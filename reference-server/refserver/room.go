package refserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// GET /v1/waiting-room (WebSocket), in a profile with a waiting-room
// route (fixed): the app says who it is ({"user_id", "platform"}), hears
// {"status": "waiting"} at once, and holds the connection while the route
// queues it (the waiting-room stage: bounded admission, a fair queue);
// {"status": "your_turn"} when it is admitted, or {"status": "closed",
// "code", "retry_after_s"} when the queue sheds it or its wait runs out,
// and the server closes. The app may hold the connection after its turn;
// the server closes it when the app does, or at the request timeout.
//
// Its hello is read like a request's body: at most maxRoomHello bytes,
// its fields checked as the API's are, within roomHello of the upgrade.
const (
	maxRoomHello = 4 << 10
	roomHello    = 10 * time.Second
)

func (s *Server) waitingRoom(w http.ResponseWriter, r *http.Request) (int, error) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return http.StatusBadRequest, nil // Accept has answered
	}
	defer c.CloseNow()
	c.SetReadLimit(maxRoomHello)
	ctx := r.Context()
	var in struct {
		UserID   string `json:"user_id"`
		Platform string `json:"platform"`
	}
	hctx, cancel := context.WithTimeout(ctx, roomHello)
	_, b, err := c.Read(hctx)
	cancel()
	if err == nil {
		err = json.Unmarshal(b, &in)
	}
	if err == nil {
		err = errors.Join(checkID("user_id", in.UserID), s.checkPlatform("platform", in.Platform))
	}
	if err != nil {
		c.Close(websocket.StatusPolicyViolation, "say who you are: {\"user_id\", \"platform\"}")
		return http.StatusSwitchingProtocols, nil
	}
	say := func(v any) {
		b, _ := json.Marshal(v)
		c.Write(ctx, websocket.MessageText, b)
	}
	say(map[string]string{"status": "waiting", "user_id": in.UserID})
	if err := s.run(ctx, s.route("waiting-room", in.Platform), in.Platform, works{}); err != nil {
		ae := toAPIError(err)
		say(map[string]any{"status": "closed", "code": ae.Code, "retry_after_s": ae.RetryAfter.Seconds()})
		c.Close(websocket.StatusTryAgainLater, ae.Code)
		return http.StatusSwitchingProtocols, nil
	}
	say(map[string]string{"status": "your_turn", "user_id": in.UserID})
	<-c.CloseRead(ctx).Done() // the app holds the connection as long as it likes, up to the request timeout
	return http.StatusSwitchingProtocols, nil
}
