package reports

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// MaxPoints is the most points a chart series gets: longer runs merge
// adjacent buckets (histograms merge exactly, so a merged window's
// percentiles are its true percentiles, not averages of averages).
const MaxPoints = 300

// windows is a run's buckets grouped for charting: window i covers
// buckets [i*per, (i+1)*per).
type windows struct {
	r     *results.Run
	per   int
	count int
}

func windowsOf(r *results.Run) windows {
	n := len(r.UserBuckets)
	for _, e := range r.Endpoints {
		n = max(n, len(e.Buckets))
	}
	per := max(1, (n+MaxPoints-1)/MaxPoints)
	return windows{r: r, per: per, count: (n + per - 1) / per}
}

// width is one window's length.
func (w windows) width() time.Duration { return time.Duration(w.per) * w.r.Meta.Bucket }

// start is window i's start, in seconds of the played timeline.
func (w windows) start(i int) float64 { return (time.Duration(i) * w.width()).Seconds() }

// series merges one endpoint's buckets of window i (nil: no requests).
func (w windows) series(e *results.Endpoint, i int) *results.Series {
	var m *results.Series
	for b := i * w.per; b < (i+1)*w.per && b < len(e.Buckets); b++ {
		if e.Buckets[b] == nil || e.Buckets[b].Attempted == 0 {
			continue
		}
		if m == nil {
			m = results.NewSeries(results.BucketDigits)
		}
		m.Merge(e.Buckets[b])
	}
	return m
}

// all merges every endpoint's buckets of window i.
func (w windows) all(i int) (*results.Series, map[string]*results.Series) {
	all := results.NewSeries(results.BucketDigits)
	per := map[string]*results.Series{}
	for name, e := range w.r.Endpoints {
		if s := w.series(e, i); s != nil {
			per[name] = s
			all.Merge(s)
		}
	}
	return all, per
}

// users sums the user counts of window i (users count in the bucket they
// arrived in).
func (w windows) users(i int) results.Users {
	var u results.Users
	for b := i * w.per; b < (i+1)*w.per && b < len(w.r.UserBuckets); b++ {
		x := w.r.UserBuckets[b]
		u.Arrived += x.Arrived
		u.Completed += x.Completed
		u.Abandoned += x.Abandoned
		u.Impatient += x.Impatient
	}
	return u
}

// stretchValue is a clause's value on a stretch of the run (merged series
// per endpoint and over all): ok is false for clauses that are judged on
// the whole run only (user-level ones) or have nothing to judge here.
func stretchValue(c scenarios.Clause, all *results.Series, per map[string]*results.Series) (v float64, ok bool) {
	ser := all
	if c.Endpoint != "" {
		ser = per[c.Endpoint]
	}
	if ser == nil || ser.Attempted == 0 {
		return 0, false
	}
	switch {
	case c.Percentile() > 0:
		return ser.Latency.Quantile(c.Percentile()).Seconds(), true
	case c.Percentile() < 0:
		return ser.Latency.Mean().Seconds(), true
	case c.Metric == "errors":
		return ser.ErrorRate(), true
	case c.Metric == "timeouts":
		return ser.KindRate("timeout"), true
	case c.Metric == "shed" || c.Metric == "expired_qr":
		return ser.KindRate(c.Metric), true
	}
	return 0, false
}

// FirstBreach is when a failed clause first broke, judged window by window.
type FirstBreach struct {
	Clause   string        `json:"clause"`
	At       time.Duration `json:"at_ns"`
	Measured float64       `json:"measured"` // the clause's value in that window
	Unit     string        `json:"unit"`
}

// firstBreaches finds, for every clause that can be judged per stretch,
// the first window in which it did not hold; the earliest comes first.
func firstBreaches(s *scenarios.Scenario, r *results.Run) []FirstBreach {
	if s == nil {
		return nil
	}
	w := windowsOf(r)
	var out []FirstBreach
	found := map[int]bool{}
	for i := 0; i < w.count && len(found) < len(s.SLO); i++ {
		all, per := w.all(i)
		for ci, c := range s.SLO {
			if found[ci] {
				continue
			}
			if v, ok := stretchValue(c, all, per); ok && !c.Holds(v) {
				found[ci] = true
				unit := "share"
				if c.Percentile() != 0 {
					unit = "s"
				}
				out = append(out, FirstBreach{Clause: c.Text, At: time.Duration(i) * w.width(), Measured: v, Unit: unit})
			}
		}
	}
	return out
}

// StageFigures is one server stage over the run.
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
	points      []stagePoint
}

// stagePoint is a stage between two samples: utilisation from the busy
// worker-seconds, shed per second, the queue at the later sample.
type stagePoint struct {
	at, util, queue, shedRate float64
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
		var busy, span float64
		for i := stride; i < len(ss); i += stride {
			a, b := ss[i-stride], ss[i]
			dt := (b.At - a.At).Seconds()
			if dt <= 0 {
				continue
			}
			p := stagePoint{at: b.At.Seconds(), queue: b.Queue, shedRate: math.Max(0, b.Shed-a.Shed) / dt}
			if b.Workers > 0 {
				p.util = math.Max(0, b.Busy-a.Busy) / (dt * b.Workers)
				busy += math.Max(0, b.Busy-a.Busy)
				span += dt * b.Workers
			}
			f.points = append(f.points, p)
		}
		for _, s := range ss {
			f.Workers = max(f.Workers, s.Workers)
			if s.Queue > f.PeakQueue {
				f.PeakQueue, f.PeakQueueAt = s.Queue, s.At
			}
			f.Served, f.Shed = max(f.Served, s.Served), max(f.Shed, s.Shed)
		}
		for _, p := range f.points {
			if p.util > f.PeakUtil {
				f.PeakUtil, f.PeakUtilAt = p.util, time.Duration(p.at*float64(time.Second))
			}
		}
		if span > 0 {
			f.MeanUtil = busy / span
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// Bottleneck names the stage that limits the system, and why: the one that
// shed most work, else the one busiest at its peak.
type Bottleneck struct {
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

func bottleneck(stages []*StageFigures) *Bottleneck {
	var best *StageFigures
	for _, f := range stages {
		if f.Shed > 0 && (best == nil || f.Shed > best.Shed) {
			best = f
		}
	}
	if best != nil {
		return &Bottleneck{Stage: best.Stage, Reason: fmtCount(best.Shed) + " requests shed; peak utilisation " +
			format("share", best.PeakUtil) + ", peak queue " + fmtCount(best.PeakQueue)}
	}
	for _, f := range stages {
		if best == nil || f.PeakUtil > best.PeakUtil {
			best = f
		}
	}
	if best == nil {
		return nil
	}
	return &Bottleneck{Stage: best.Stage, Reason: "busiest stage: peak utilisation " + format("share", best.PeakUtil) +
		" at " + fmtDuration(best.PeakUtilAt.Seconds()) + ", nothing shed"}
}

func fmtCount(x float64) string { return strconv.FormatFloat(math.Round(x), 'f', -1, 64) }
