package refserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// FaultSpec is a fault as the admin API takes it (JSON): package fault's
// Spec, the type the generator's fault switch encodes.
type FaultSpec = fault.Spec

// Fault is an active fault as the admin API reports it.
type Fault struct {
	ID string `json:"id"`
	FaultSpec
	Started time.Time  `json:"started"`
	Ends    *time.Time `json:"ends,omitempty"`
}

type activeFault struct {
	Fault
	kind  fault.Kind
	prob  float64
	until chan struct{} // closed when the fault ends (stall waits on it)
}

// validate checks a spec against the server's stages; problems name the JSON field.
func validateFault(f *FaultSpec, stages map[string]*stage) (time.Duration, error) {
	bad := func(field, format string, args ...any) error {
		return &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid_field", Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if e := f.Params.First(fault.Stage); e != nil {
		return 0, bad(e.Field, "%s", e.Message)
	}
	if f.Stage == "" {
		return 0, bad("stage", "stage is required (a stage name or \"*\")")
	}
	if _, ok := stages[f.Stage]; !ok && f.Stage != "*" {
		return 0, bad("stage", "unknown stage %q (stages: %s)", f.Stage, spec.Some(spec.SortedKeys(stages)))
	}
	var d time.Duration
	if f.For != "" {
		var err error
		if d, err = time.ParseDuration(f.For); err != nil || d <= 0 {
			return 0, bad("for", "for must be a positive duration such as \"30s\", have %q", f.For)
		}
	}
	return d, nil
}

// hits decides, for probability faults, whether this visit is affected.
func (f *activeFault) hits(s *stage) bool {
	if f.prob >= 1 {
		return true
	}
	return s.uniform() < f.prob
}

// before applies the fault as a visit arrives; an error fails the visit.
func (f *activeFault) before(ctx context.Context, s *stage) error {
	switch f.kind {
	case fault.Outage:
		return &apiError{Status: http.StatusServiceUnavailable, Code: "stage_outage", Stage: s.name,
			Message: "stage " + s.name + " is down (injected outage " + f.ID + ")", RetryAfter: time.Second}
	case fault.Error:
		if f.hits(s) {
			st := f.Status
			if st == 0 {
				st = http.StatusServiceUnavailable
			}
			return &apiError{Status: st, Code: "injected_error", Stage: s.name,
				Message: "stage " + s.name + ": injected error (fault " + f.ID + ")"}
		}
	case fault.Stall:
		if f.hits(s) {
			select {
			case <-f.until:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// extra is the service time the fault adds to a visit holding a worker
// whose own service time is base.
func (f *activeFault) extra(s *stage, base time.Duration) time.Duration {
	switch {
	case f.kind == fault.SlowUnderLoad && s.rate() > float64(f.Above):
		return time.Duration(float64(base) * (f.Factor - 1))
	case f.kind != fault.Latency || !f.hits(s):
		return 0
	}
	return s.draw(*f.Latency)
}

// faultSet is the server's active faults.
type faultSet struct {
	mu     sync.Mutex
	next   int
	active map[string]*activeFault
	stages map[string]*stage
	now    func() time.Time
}

func (fs *faultSet) add(spec FaultSpec) (Fault, error) {
	d, err := validateFault(&spec, fs.stages)
	if err != nil {
		return Fault{}, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.next++
	af := &activeFault{Fault: Fault{ID: "f" + strconv.Itoa(fs.next), FaultSpec: spec, Started: fs.now()},
		kind: spec.Kind, prob: spec.Share(), until: make(chan struct{})}
	if d > 0 {
		ends := af.Started.Add(d)
		af.Ends = &ends
		time.AfterFunc(d, func() { fs.remove(af.ID) })
	}
	fs.active[af.ID] = af
	fs.apply()
	return af.Fault, nil
}

func (fs *faultSet) remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	af, ok := fs.active[id]
	if ok {
		delete(fs.active, id)
		close(af.until)
		fs.apply()
	}
	return ok
}

func (fs *faultSet) clear() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := len(fs.active)
	for id, af := range fs.active {
		delete(fs.active, id)
		close(af.until)
	}
	fs.apply()
	return n
}

func (fs *faultSet) list() []Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]Fault, 0, len(fs.active))
	for _, af := range fs.active {
		out = append(out, af.Fault)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) || out[i].ID < out[j].ID })
	return out
}

// apply recomputes each stage's fault list and worker limit (fs.mu held).
// With several capacity faults on a stage, the smallest worker count wins.
func (fs *faultSet) apply() {
	for name, s := range fs.stages {
		var list []*activeFault
		limit := s.cfg.Workers
		for _, af := range fs.active {
			if af.Stage != name && af.Stage != "*" {
				continue
			}
			list = append(list, af)
			if af.kind == fault.Capacity {
				limit = min(limit, *af.Workers)
			}
		}
		slices.SortFunc(list, func(a, b *activeFault) int { return a.Started.Compare(b.Started) })
		s.faults.Store(&list)
		s.pool.setLimit(limit)
		s.m.workers.Set(float64(limit))
	}
}
