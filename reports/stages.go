package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// StageFigures is one server stage over the run. Served and Shed are this
// run's: the difference between the last and the first sample (a target's
// counters count from its own start, not the run's).
type StageFigures struct {
	Stage       string        `json:"stage"`
	Workers     float64       `json:"workers"`
	PeakUtil    float64       `json:"peak_utilization"`
	PeakUtilAt  time.Duration `json:"peak_utilization_at_ns"`
	MeanUtil    float64       `json:"mean_utilization"`
	PeakQueue   float64       `json:"peak_queue"`
	PeakQueueAt time.Duration `json:"peak_queue_at_ns"`
	Served      float64       `json:"served"`
	Shed        float64       `json:"shed"`
	// Saturated is when the stage first ran at SaturationLevel over a
	// SaturationWindow (HasSaturated false: it never did).
	Saturated    time.Duration `json:"saturated_at_ns,omitempty"`
	HasSaturated bool          `json:"saturated"`
	points       []stagePoint
}

// stagePoint is a stage between two samples: utilisation from the busy
// worker-seconds, shed per second, the queue at the later sample. dt is
// the stretch's length and capacity its worker-seconds.
type stagePoint struct {
	at, util, queue, shedRate float64
	busy, capacity            float64
}

// stageFigures reduces the stage samples to per-stage curves and figures,
// sorted by name.
func stageFigures(r *results.Run) []*StageFigures {
	by := map[string][]results.StageSample{}
	for _, s := range r.Stages {
		by[s.Stage] = append(by[s.Stage], s)
	}
	var out []*StageFigures
	for name, ss := range by {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].At < ss[j].At })
		f := &StageFigures{Stage: name}
		stride := max(1, (len(ss)+MaxPoints-1)/MaxPoints)
		for i := stride; i < len(ss); i += stride {
			if p, ok := between(ss[i-stride], ss[i]); ok {
				f.points = append(f.points, p)
			}
		}
		first, last := ss[0], ss[len(ss)-1]
		f.Served, f.Shed = math.Max(0, last.Served-first.Served), math.Max(0, last.Shed-first.Shed)
		for _, s := range ss {
			f.Workers = max(f.Workers, s.Workers)
			if s.Queue > f.PeakQueue {
				f.PeakQueue, f.PeakQueueAt = s.Queue, s.At
			}
		}
		var busy, capacity float64
		for _, p := range f.points {
			busy, capacity = busy+p.busy, capacity+p.capacity
			if p.util > f.PeakUtil {
				f.PeakUtil, f.PeakUtilAt = p.util, time.Duration(p.at*float64(time.Second))
			}
		}
		if capacity > 0 {
			f.MeanUtil = busy / capacity
		}
		f.Saturated, f.HasSaturated = saturation(ss)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// between is the stretch from sample a to b. Utilisation is the busy
// worker-seconds over the capacity's: the target's own capacity integral
// when it exports one (then it cannot exceed 1), else the later sample's
// workers times the stretch, capped at 1 (a worker cannot be busier than
// the whole stretch; a larger figure is the target crediting work late).
func between(a, b results.StageSample) (stagePoint, bool) {
	dt := (b.At - a.At).Seconds()
	if dt <= 0 {
		return stagePoint{}, false
	}
	p := stagePoint{at: b.At.Seconds(), queue: b.Queue, shedRate: math.Max(0, b.Shed-a.Shed) / dt}
	p.busy = math.Max(0, b.Busy-a.Busy)
	if b.Capacity > 0 && a.Capacity >= 0 && b.Capacity > a.Capacity {
		p.capacity = b.Capacity - a.Capacity
	} else {
		p.capacity = dt * b.Workers
	}
	p.busy = math.Min(p.busy, p.capacity)
	if p.capacity > 0 {
		p.util = p.busy / p.capacity
	}
	return p, true
}

// Saturation: a stage is saturated once its utilisation over a stretch of
// SaturationWindow is at least SaturationLevel (every worker busy but for
// the gaps between one visit and the next). A window, not one sample: a
// stage of one worker is often busy for a whole second at half load.
const (
	SaturationLevel  = 0.9
	SaturationWindow = 10 * time.Second
)

// saturation is when a stage's samples first show it saturated.
func saturation(ss []results.StageSample) (time.Duration, bool) {
	j := 0
	for i := range ss {
		for j < i && ss[i].At-ss[j+1].At >= SaturationWindow {
			j++
		}
		if ss[i].At-ss[j].At < SaturationWindow {
			continue
		}
		if p, ok := between(ss[j], ss[i]); ok && p.util >= SaturationLevel {
			return ss[j].At, true
		}
	}
	return 0, false
}

// Bottleneck is the stage that limits the system. It is defined once, for
// a measured run, a prediction and a plan alike: the stage that saturates
// first. In a run or a prediction that is the first stage whose
// utilisation reaches SaturationLevel over a SaturationWindow (on a tie,
// the one the others call: a caller holding its workers while it waits on
// a saturated callee saturates because of it); in a plan it is the stage
// with the least headroom, the one that saturates first as load grows
// (sim.Plan). The stages that saturate after it, and those that shed
// because of it, are its downstream effects: symptoms, not causes. With no
// stage saturated, it is the busiest one, and Saturated is false.
type Bottleneck struct {
	Stage     string        `json:"stage"`
	Saturated bool          `json:"saturated"`
	At        time.Duration `json:"at_ns,omitempty"`
	// Downstream are the stages that saturated later or shed: the effects.
	Downstream []string `json:"downstream,omitempty"`
	Reason     string   `json:"reason"`
}

// bottleneck finds the run's bottleneck from its stage figures; calls is
// the service's call graph when known (results.Run.StageCalls).
func bottleneck(stages []*StageFigures, calls map[string][]string) *Bottleneck {
	var first []*StageFigures
	for _, f := range stages {
		switch {
		case !f.HasSaturated:
		case len(first) == 0 || f.Saturated < first[0].Saturated:
			first = []*StageFigures{f}
		case f.Saturated == first[0].Saturated:
			first = append(first, f)
		}
	}
	if len(first) == 0 {
		var best *StageFigures
		for _, f := range stages {
			if best == nil || f.PeakUtil > best.PeakUtil {
				best = f
			}
		}
		if best == nil {
			return nil
		}
		return &Bottleneck{Stage: best.Stage, Reason: "no stage saturated (utilisation " + format("share", SaturationLevel) + " over " +
			SaturationWindow.String() + "); the busiest peaked at " + format("share", best.PeakUtil) + " at " + fmtDuration(best.PeakUtilAt.Seconds())}
	}
	b := first[0]
	for _, f := range first[1:] { // a tie: the callee
		if reaches(calls, b.Stage, f.Stage) {
			b = f
		}
	}
	out := &Bottleneck{Stage: b.Stage, Saturated: true, At: b.Saturated}
	for _, f := range stages {
		if f != b && (f.HasSaturated || f.Shed > 0) {
			out.Downstream = append(out.Downstream, f.Stage)
		}
	}
	out.Reason = fmt.Sprintf("saturated first: utilisation %s or more over %v from %s; peak utilisation %s, peak queue %s, %s shed",
		format("share", SaturationLevel), SaturationWindow, fmtDuration(b.Saturated.Seconds()), format("share", b.PeakUtil), fmtCount(b.PeakQueue), fmtCount(b.Shed))
	if len(out.Downstream) > 0 {
		out.Reason += "; downstream effects: " + strings.Join(out.Downstream, ", ")
	}
	return out
}

// reaches says whether stage from calls stage to, directly or through others.
func reaches(calls map[string][]string, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(s string) bool {
		if seen[s] {
			return false
		}
		seen[s] = true
		for _, c := range calls[s] {
			if c == to || walk(c) {
				return true
			}
		}
		return false
	}
	return from != to && walk(from)
}

func fmtCount(x float64) string { return strconv.FormatFloat(math.Round(x), 'f', -1, 64) }
