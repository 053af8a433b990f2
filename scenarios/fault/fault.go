// Package fault is the one home of surge's faults: their kinds, where each
// kind can act, and their parameters, one type that a scenario's YAML, the
// chaos proxy's faults file and the reference server's admin API (both the
// server and the client that switches faults on) all read and write.
//
// Adding a kind is one row of the table below, its parameters' checks in
// Params.Check, and its implementations: a stage of the reference server
// (refserver), the proxy (chaos), the load generator's client side
// (replay) and the simulator (sim), for each place the row says it acts.
package fault

import (
	"fmt"
	"strings"

	"github.com/surgekit/surge/scenarios/spec"
)

// Kind is what a fault does.
type Kind string

// The kinds. The table, kinds, says where each acts.
const (
	Latency       Kind = "latency"         // each request (or visit) is held Latency longer
	Error         Kind = "error"           // a share fail at once with Status
	Stall         Kind = "stall"           // each request (or visit) arriving waits until the fault ends
	Capacity      Kind = "capacity"        // the stage runs with Workers workers
	Outage        Kind = "outage"          // nothing but 503 answers
	SlowUnderLoad Kind = "slow_under_load" // service times multiplied by Factor while arrivals exceed Above
	Bandwidth     Kind = "bandwidth"       // answers limited to Bandwidth bytes per second
	Reset         Kind = "reset"           // the connection is closed without an answer
)

// Where is a place a fault can act; a kind acts in a set of them.
type Where uint8

// The places.
const (
	Stage  Where = 1 << iota // a stage of the service (the reference server's admin API)
	Proxy                    // the chaos proxy in front of the service
	Client                   // the load generator's client side, per platform and request
	Sim                      // the simulator
)

func (w Where) String() string {
	var names []string
	for _, p := range []struct {
		w    Where
		name string
	}{{Stage, "a stage of the service"}, {Proxy, "the proxy"}, {Client, "the client side"}, {Sim, "the simulator"}} {
		if w&p.w != 0 {
			names = append(names, p.name)
		}
	}
	return strings.Join(names, " or ")
}

// kinds is the one table of fault kinds: each, and where it can act.
var kinds = []struct {
	kind  Kind
	where Where
}{
	{Latency, Stage | Proxy | Client | Sim},
	{Error, Stage | Proxy | Client | Sim},
	{Stall, Stage | Proxy | Client | Sim},
	{Capacity, Stage | Sim},
	{Outage, Stage | Proxy | Client | Sim},
	{SlowUnderLoad, Stage | Sim},
	{Bandwidth, Proxy | Client | Sim},
	{Reset, Proxy},
}

// Kinds lists the kinds that can act at every place of w, in the table's
// order.
func Kinds(w Where) []Kind {
	var out []Kind
	for _, k := range kinds {
		if k.where&w == w {
			out = append(out, k.kind)
		}
	}
	return out
}

// List is Kinds(w) for a message: "latency, error, stall".
func List(w Where) string {
	ks := Kinds(w)
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Acts says where k can act (nothing for an unknown kind).
func (k Kind) Acts() Where {
	for _, r := range kinds {
		if r.kind == k {
			return r.where
		}
	}
	return 0
}

// Params are what a fault does: its kind and the parameters kinds take.
// The YAML notation writes shares as percentages and rates with their
// period ("35%", "30/s"); JSON, as plain numbers (0.35, 30 per second).
type Params struct {
	Kind Kind `yaml:"kind" json:"kind"`
	// Probability is the share of requests (or visits) hit by a latency,
	// error or stall fault; default all.
	Probability *spec.Percent `yaml:"probability" json:"probability,omitempty"`
	Latency     *spec.Dist    `yaml:"latency" json:"latency,omitempty"`     // latency: the added delay
	Status      int           `yaml:"status" json:"status,omitempty"`       // error: the HTTP status (default 503)
	Workers     *int          `yaml:"workers" json:"workers,omitempty"`     // capacity: the stage's worker count
	Above       spec.Rate     `yaml:"above" json:"above,omitempty"`         // slow_under_load: the arrival rate it starts at
	Factor      float64       `yaml:"factor" json:"factor,omitempty"`       // slow_under_load: the service-time multiplier
	Bandwidth   spec.Rate     `yaml:"bandwidth" json:"bandwidth,omitempty"` // bandwidth: bytes per second
}

// Share is the fault's probability (1 when not given).
func (p Params) Share() float64 {
	if p.Probability == nil {
		return 1
	}
	return float64(*p.Probability)
}

// Check reports, through bad (a field and a message), what is wrong with
// the parameters of a fault meant to act at every place of where: an
// unknown kind, or a kind that cannot act there, names the kinds that can.
func (p Params) Check(where Where, bad func(field, format string, args ...any)) {
	switch acts := p.Kind.Acts(); {
	case p.Kind == "":
		bad("kind", "required (%s)", List(where))
		return
	case acts == 0:
		bad("kind", "unknown fault kind %q (%s)", p.Kind, List(where))
		return
	case acts&where != where:
		bad("kind", "a %s fault acts on %v, not on %v (the kinds there: %s)", p.Kind, acts&^where, where&^acts, List(where))
		return
	}
	if pr := p.Probability; pr != nil && (*pr < 0 || *pr > 1) {
		bad("probability", "must be within 0%% and 100%%, have %v", *pr)
	}
	if p.Latency != nil && p.Latency.Quantile(0) < 0 {
		bad("latency", "a latency cannot be negative, have %v", p.Latency)
	}
	switch p.Kind {
	case Latency:
		if p.Latency == nil || p.Latency.IsZero() {
			bad("latency", "a latency fault needs latency, such as 200ms or exp(1s)")
		}
	case Error:
		if p.Status != 0 && (p.Status < 400 || p.Status > 599) {
			bad("status", "must be a 4xx or 5xx status, have %d", p.Status)
		}
	case Capacity:
		if p.Workers == nil || *p.Workers < 0 {
			bad("workers", "a capacity fault needs workers >= 0")
		}
	case SlowUnderLoad:
		if p.Above <= 0 {
			bad("above", "a slow_under_load fault needs the rate it starts at, such as 30/s")
		}
		if p.Factor <= 1 {
			bad("factor", "must be above 1 (the service-time multiplier), have %v", p.Factor)
		}
	case Bandwidth:
		if p.Bandwidth <= 0 {
			bad("bandwidth", "a bandwidth fault needs bytes per second, such as 8k/s")
		}
	}
}

// Spec is a fault as the reference server's admin API takes it (POST
// /admin/faults): its parameters, the stage ("*" for every stage) and,
// optionally, how long until it ends by itself ("30s"). The server decodes
// it and the generator's fault switch encodes it: one type on both sides.
type Spec struct {
	Params
	Stage string `json:"stage"`
	For   string `json:"for,omitempty"`
}

// FieldError is a problem with one field, for callers that stop at the first.
type FieldError struct{ Field, Message string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// First checks p at where and returns the first problem, if any.
func (p Params) First(where Where) *FieldError {
	var first *FieldError
	p.Check(where, func(field, format string, args ...any) {
		if first == nil {
			first = &FieldError{field, fmt.Sprintf(format, args...)}
		}
	})
	return first
}
