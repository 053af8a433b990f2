package results

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Part is one shard's run, with where it was read from (for errors).
type Part struct {
	Name string
	Run  *Run
}

// ErrMissingShards is wrapped when shards of the run are missing and the
// merge was not asked to be partial.
var ErrMissingShards = errors.New("results: shards missing")

// MergeShards merges the shards of one run into the run they make
// together: histograms and counters add (exactly: HDR histograms of one
// geometry add bucket by bucket), events interleave by time, stage samples
// come from shard 0 (the one that sampled the target). The parts must be
// shards of one run: the same scenario file, seed, shard count, timeline
// and target, each index once. With shards missing it fails (wrapping
// ErrMissingShards, naming them) unless partial, and then the merged run
// says which are missing and is not complete. The result does not depend
// on the parts' order.
func MergeShards(parts []Part, partial bool) (*Run, error) {
	if len(parts) == 0 {
		return nil, errors.New("results: no shards to merge")
	}
	parts = append([]Part(nil), parts...)
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].Run.Meta.Shard < parts[j].Run.Meta.Shard })
	if err := sameRun(parts); err != nil {
		return nil, err
	}
	first := parts[0].Run.Meta
	have := make([]int, len(parts))
	for i, p := range parts {
		have[i] = p.Run.Meta.Shard
	}
	var missing []int
	for i, k := 0, 0; i < first.Shards; i++ {
		if k < len(have) && have[k] == i {
			k++
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) > 0 && !partial {
		return nil, fmt.Errorf("%w: have %s of %d, missing %s (merge what there is with --partial)", ErrMissingShards, joinInts(have), first.Shards, joinInts(missing))
	}
	meta := first
	meta.Shard, meta.Parts, meta.Missing, meta.Abort = 0, have, missing, nil
	out := New(meta)
	out.Version, out.StageCalls = parts[0].Run.Version, parts[0].Run.StageCalls
	var endings []string
	for _, p := range parts {
		out.mergeShard(p.Run)
		m := p.Run.Meta
		out.Meta.Started = minTime(out.Meta.Started, m.Started)
		out.Meta.Elapsed = max(out.Meta.Elapsed, m.Elapsed)
		out.Meta.Complete = out.Meta.Complete && m.Complete
		if m.Ended != "done" {
			endings = append(endings, fmt.Sprintf("shard %d %s", m.Shard, m.Ended))
		}
		if a := m.Abort; a != nil && (out.Meta.Abort == nil || a.At < out.Meta.Abort.At) {
			ab := *a
			out.Meta.Abort = &ab
		}
	}
	out.Meta.Complete = out.Meta.Complete && len(missing) == 0
	if len(missing) > 0 {
		endings = append(endings, "partial: shards "+joinInts(missing)+" missing")
	}
	if len(endings) > 0 {
		out.Meta.Ended = strings.Join(endings, "; ")
	}
	return out, nil
}

// mergeShard adds one shard's figures. Events the shards all record on the
// one timeline (the surge's end) are kept once; the others say their shard.
func (r *Run) mergeShard(o *Run) {
	c := *o
	c.Stages = nil
	if o.Meta.Shard == 0 {
		c.Stages = o.Stages
	}
	c.Events = make([]Event, 0, len(o.Events))
	for _, ev := range o.Events {
		switch {
		case ev.Kind == "surge-end":
			if r.hasEvent(ev.Kind) {
				continue
			}
		case !strings.HasPrefix(ev.Kind, "fault-"):
			ev.Detail = "shard " + strconv.Itoa(o.Meta.Shard) + ": " + ev.Detail
		}
		c.Events = append(c.Events, ev)
	}
	inFlight, held := r.Generator.MaxInFlight, r.Generator.MaxHeld
	r.Merge(&c)
	// The shards' peaks come at about the same time (one curve): their sum
	// bounds the users in their journey (and their held connections) at
	// once across the machines.
	r.Generator.MaxInFlight = inFlight + o.Generator.MaxInFlight
	r.Generator.MaxHeld = held + o.Generator.MaxHeld
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func (r *Run) hasEvent(kind string) bool {
	for _, ev := range r.Events {
		if ev.Kind == kind {
			return true
		}
	}
	return false
}

// sameRun checks that sorted parts are distinct shards of one run.
func sameRun(parts []Part) error {
	for _, p := range parts {
		m := p.Run.Meta
		if m.Shards < 1 || m.Shard < 0 || m.Shard >= m.Shards {
			return fmt.Errorf("%s: shard %d of %d is not a shard", p.Name, m.Shard, m.Shards)
		}
		if len(m.Parts) > 0 {
			return fmt.Errorf("%s: already a merged run (of shards %s)", p.Name, joinInts(m.Parts))
		}
	}
	a := parts[0]
	am := a.Run.Meta
	for _, b := range parts[1:] {
		bm := b.Run.Meta
		for _, c := range []struct {
			what       string
			this, that any
		}{
			{"kind", am.Kind, bm.Kind}, {"scenario", am.Scenario, bm.Scenario}, {"scenario file (sha256)", am.ScenarioSHA256, bm.ScenarioSHA256},
			{"seed", am.Seed, bm.Seed}, {"shard count", am.Shards, bm.Shards}, {"played timeline", am.Planned, bm.Planned},
			{"bucket", am.Bucket, bm.Bucket}, {"target", am.Target, bm.Target}, {"protocol", am.Protocol, bm.Protocol}, {"results version", a.Run.Version, b.Run.Version},
			{"source", am.Source, bm.Source},
		} {
			if c.this != c.that {
				return fmt.Errorf("%s and %s are not shards of one run: their %s differs (%v vs %v)", a.Name, b.Name, c.what, c.this, c.that)
			}
		}
		if bm.Shard == am.Shard {
			return fmt.Errorf("%s and %s are both shard %d of %d", a.Name, b.Name, bm.Shard, bm.Shards)
		}
		a, am = b, bm
	}
	return nil
}

// Sharding says which part of a run this is: "" for a whole run, "shard
// 2 of 8", or "merged from 8 shards" (with the missing ones of a partial
// merge).
func (m Meta) Sharding() string {
	switch {
	case len(m.Parts) > 0 && len(m.Missing) > 0:
		return fmt.Sprintf("merged from %d of %d shards, missing %s", len(m.Parts), m.Shards, joinInts(m.Missing))
	case len(m.Parts) > 0:
		return fmt.Sprintf("merged from %d shards", len(m.Parts))
	case m.Shards > 1:
		return fmt.Sprintf("shard %d of %d", m.Shard, m.Shards)
	}
	return ""
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
