package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
	"github.com/surgekit/surge/scenarios/chaos"
	"github.com/surgekit/surge/scenarios/fault"
)

// FaultSwitch turns a scenario's faults on and off on the target.
type FaultSwitch interface {
	On(ctx context.Context, f scenarios.Fault, lasts time.Duration) (id string, err error)
	Off(ctx context.Context, id string) error
}

// AdminFaults drives the reference server's fault admin API.
type AdminFaults struct {
	Target string
	Token  string // bearer token, when the server requires one
	Client *http.Client
}

// On posts the fault; the server ends it by itself 30 s after lasts, so a
// fault never outlives a generator that died.
func (a AdminFaults) On(ctx context.Context, f scenarios.Fault, lasts time.Duration) (string, error) {
	body, _ := json.Marshal(fault.Spec{Params: f.Params, Stage: f.Stage, For: (lasts + 30*time.Second).String()})
	var out struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, "POST", "/admin/faults", body, http.StatusCreated, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// Off deletes the fault.
func (a AdminFaults) Off(ctx context.Context, id string) error {
	return a.do(ctx, "DELETE", "/admin/faults/"+id, nil, http.StatusNoContent, nil)
}

func (a AdminFaults) do(ctx context.Context, method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.Target+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// toggle is one fault switching on or off at a played time.
type toggle struct {
	at    time.Duration
	on    bool
	index int
}

// runFaults switches the scenario's faults on the played timeline until
// every one has ended or stop is closed; it switches off whatever it
// switched on before returning.
func (e *engine) runFaults(plan *arrival.Plan, stop <-chan struct{}, wg *sync.WaitGroup) {
	faults := e.cfg.Scenario.Faults
	if len(faults) == 0 {
		wg.Done()
		return
	}
	sw := e.cfg.Faults
	switch {
	case sw != nil: // the caller's own switch (a proxy in front of this shard): every shard switches its own
	case e.cfg.Shard != 0:
		sw = ownedElsewhere{} // the shards share the target: shard 0 switches its faults
	default:
		sw = AdminFaults{Target: e.ctlBase, Client: e.ctl, Token: e.cfg.AdminToken}
	}
	sw = clientSide{e: e, next: sw}
	var plan2 []toggle
	lasts := make([]time.Duration, len(faults))
	for i, f := range faults {
		on, off := plan.PlayedAt(f.At), plan.PlayedAt(f.At+scenarios.Clock(f.For))
		lasts[i] = off - on
		plan2 = append(plan2, toggle{on, true, i}, toggle{off, false, i})
	}
	sort.SliceStable(plan2, func(i, j int) bool { return plan2[i].at < plan2[j].at })
	go func() {
		defer wg.Done()
		ids := map[int]string{}
		defer func() { // whatever happens, nothing stays switched on
			for i, id := range ids {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if err := sw.Off(ctx, id); err != nil {
					e.event("fault-error", fmt.Sprintf("%s: switching off: %v", faults[i].Name, err))
				} else {
					e.faultEvent("fault-off", faults[i].Name+" (run ended)")
				}
				cancel()
			}
		}()
		for _, tg := range plan2 {
			select {
			case <-stop:
				return
			case <-time.After(time.Until(e.start.Add(tg.at))):
			}
			e.toggle(sw, faults[tg.index], tg, lasts[tg.index], ids)
		}
	}()
}

// toggle switches one fault on (for lasts, played) or off, recording it as
// an event; ids holds the switch's id of each fault that is on.
func (e *engine) toggle(sw FaultSwitch, f scenarios.Fault, tg toggle, lasts time.Duration, ids map[int]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if tg.on {
		id, err := sw.On(ctx, f, lasts)
		if err != nil {
			e.event("fault-error", fmt.Sprintf("%s: switching on: %v", f.Name, err))
			return
		}
		ids[tg.index] = id
		e.faultEvent("fault-on", fmt.Sprintf("%s: %s on %s for %v (played %v)", f.Name, f.Kind, f.Stage, f.For, lasts))
		return
	}
	if id, ok := ids[tg.index]; ok {
		if err := sw.Off(ctx, id); err != nil {
			e.event("fault-error", fmt.Sprintf("%s: switching off: %v", f.Name, err))
		} else {
			e.faultEvent("fault-off", f.Name)
		}
		delete(ids, tg.index)
	}
}

// faultEvent records a fault switching, in shard 0 only: every shard
// switches on the same timeline, and a merged run shows each switch once.
func (e *engine) faultEvent(kind, detail string) {
	if e.cfg.Shard == 0 {
		e.event(kind, detail)
	}
}

// ownedElsewhere is the target's fault switch in a shard other than 0:
// shard 0 switches the faults of the target the shards share.
type ownedElsewhere struct{}

func (ownedElsewhere) On(context.Context, scenarios.Fault, time.Duration) (string, error) {
	return "shard 0", nil
}

func (ownedElsewhere) Off(context.Context, string) error { return nil }

// clientSide switches client-side faults in the engine itself and passes
// the service's faults on.
type clientSide struct {
	e    *engine
	next FaultSwitch
}

func (c clientSide) On(ctx context.Context, f scenarios.Fault, lasts time.Duration) (string, error) {
	if !f.ClientSide() {
		return c.next.On(ctx, f, lasts)
	}
	c.e.clientMu.Lock()
	defer c.e.clientMu.Unlock()
	af := &clientFault{f: f, over: make(chan struct{})}
	c.e.clientOn[f.Name] = af
	c.e.clientsOn.Store(int32(len(c.e.clientOn)))
	return "client:" + f.Name, nil
}

func (c clientSide) Off(ctx context.Context, id string) error {
	name, ok := strings.CutPrefix(id, "client:")
	if !ok {
		return c.next.Off(ctx, id)
	}
	c.e.clientMu.Lock()
	defer c.e.clientMu.Unlock()
	if af := c.e.clientOn[name]; af != nil {
		close(af.over)
		delete(c.e.clientOn, name)
		c.e.clientsOn.Store(int32(len(c.e.clientOn)))
	}
	return nil
}

// clientFault is a client-side fault while it is on.
type clientFault struct {
	f    scenarios.Fault
	over chan struct{} // closed when it ends (a stall waits for it)
}

// clientFaults applies the client-side faults in force to a request about
// to be sent: it may delay it, hold it, or fail it (returning its kind).
// Each fault draws from the user's fault stream by scenarios.Fault.Take, in
// name order: delays add up, and the first that fails or holds the request
// ends the draws, as in the simulator.
func (e *engine) clientFaults(ctx context.Context, u *user, request string) string {
	if e.clientsOn.Load() == 0 {
		return ""
	}
	e.clientMu.Lock()
	var active []*clientFault
	for _, af := range e.clientOn {
		if af.f.Applies(u.walk.Platform, request) {
			active = append(active, af)
		}
	}
	e.clientMu.Unlock()
	sort.Slice(active, func(i, j int) bool { return active[i].f.Name < active[j].f.Name })
	for _, af := range active { // in name order, as the simulator draws them
		eff, ok := af.f.Take(u.faultRng)
		switch {
		case !ok:
		case eff.Kind != "":
			return eff.Kind
		case eff.Stall: // held until the fault ends, then sent: the rest are not drawn
			select {
			case <-af.over:
			case <-ctx.Done():
			}
			return ""
		default: // latency; bandwidth: the platform's link, the answer at the limited rate
			u.pause(ctx, time.Now().Add(eff.Delay))
		}
	}
	return ""
}

// ProxyFaults switches faults on surge's chaos proxy in front of the target.
type ProxyFaults struct{ Proxy *chaos.Proxy }

// On puts the fault in force on the proxy.
func (pf ProxyFaults) On(_ context.Context, f scenarios.Fault, _ time.Duration) (string, error) {
	return pf.Proxy.Enable(chaos.Rule{Name: f.Name, Params: f.Params}), nil
}

// Off takes it out.
func (pf ProxyFaults) Off(_ context.Context, id string) error {
	if !pf.Proxy.Disable(id) {
		return fmt.Errorf("proxy: no fault %s in force", id)
	}
	return nil
}
