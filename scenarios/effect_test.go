package scenarios

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

func TestFaultTakeSaysWhatAFaultDoes(t *testing.T) {
	lat, err := spec.ParseDist("100ms")
	if err != nil {
		t.Fatal(err)
	}
	client := func(p fault.Params) Fault { return Fault{Name: "f", Request: "qr", Params: p} }
	proxy := func(p fault.Params) Fault { return Fault{Name: "f", Stage: "*", Params: p} }
	for _, c := range []struct {
		name string
		f    Fault
		want Effect
	}{
		{"a client-side error fails the send", client(fault.Params{Kind: fault.Error, Status: 500}), Effect{Kind: KindRefused}},
		{"a client-side outage fails the send", client(fault.Params{Kind: fault.Outage}), Effect{Kind: KindRefused}},
		{"a proxy's error answers its status", proxy(fault.Params{Kind: fault.Error, Status: 500}), Effect{Kind: "5xx"}},
		{"a proxy's error with no status answers 503", proxy(fault.Params{Kind: fault.Error}), Effect{Kind: KindShed}},
		{"a proxy's outage answers 503", proxy(fault.Params{Kind: fault.Outage}), Effect{Kind: KindShed}},
		{"latency delays by its sample", client(fault.Params{Kind: fault.Latency, Latency: &lat}), Effect{Delay: 100 * time.Millisecond}},
		{"bandwidth delays by the assumed size over the rate", Fault{Request: "qr", Size: 2048, Params: fault.Params{Kind: fault.Bandwidth, Bandwidth: 1024}}, Effect{Delay: 2 * time.Second}},
		{"stall holds", client(fault.Params{Kind: fault.Stall}), Effect{Stall: true}},
	} {
		got, ok := c.f.Take(rand.New(rand.NewPCG(1, 2)))
		if !ok || got != c.want {
			t.Errorf("%s: %+v %v, want %+v", c.name, got, ok, c.want)
		}
	}
	// A share takes that share of requests, drawing one number for each.
	half := spec.Percent(0.5)
	f := client(fault.Params{Kind: fault.Error, Probability: &half})
	rng, ref := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(3, 4))
	taken := 0
	for range 10_000 {
		_, ok := f.Take(rng)
		if ok != (ref.Float64() < 0.5) {
			t.Fatal("Take does not draw one Float64 per request against the share")
		}
		if ok {
			taken++
		}
	}
	if taken < 4800 || taken > 5200 {
		t.Errorf("a 50%% fault took %d of 10000", taken)
	}
}
