package results

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// shardRuns splits one random run's outcomes between n shards, as the
// engine does (by a sequence number modulo n), and returns the whole run
// recorded alone too.
func shardRuns(seed uint64, n, outcomes int) (whole *Run, parts []Part) {
	meta := func(shard int) Meta {
		return Meta{Scenario: "s", Kind: "run", Seed: 7, Bucket: time.Second, Planned: 30 * time.Second, Elapsed: 31 * time.Second,
			Complete: true, Ended: "done", Shard: shard, Shards: n, Target: "http://127.0.0.1:1", ScenarioSHA256: "abc",
			Started: time.Unix(1639364400, 0).UTC()}
	}
	whole = New(meta(0))
	whole.Meta.Shards = 1
	runs := make([]*Run, n)
	for i := range runs {
		runs[i] = New(meta(i))
		runs[i].Event(20*time.Second, "surge-end", "the surge ends")
	}
	whole.Event(20*time.Second, "surge-end", "the surge ends")
	runs[0].Stages = []StageSample{{At: time.Second, Stage: "kdca", Workers: 8}}
	r := rand.New(rand.NewPCG(seed, 3))
	eps := []string{"qr", "checkin", "certificate.issue"}
	for seq := range outcomes {
		at := time.Duration(r.Int64N(int64(30 * time.Second)))
		o := Outcome{At: at, Corrected: time.Duration(r.ExpFloat64() * float64(50*time.Millisecond)), First: true}
		if r.IntN(9) == 0 {
			o.Err = "timeout"
		}
		u := Users{Arrived: 1, Completed: int64(r.IntN(2))}
		ep, late := eps[r.IntN(len(eps))], time.Duration(r.Int64N(int64(time.Millisecond)))
		for _, run := range []*Run{whole, runs[seq%n]} {
			run.Record(ep, o)
			run.Count(at, u)
			run.Generator.Late.Record(late)
		}
	}
	for i, run := range runs {
		parts = append(parts, Part{Name: "shard-" + string(rune('a'+i)), Run: run})
	}
	return whole, parts
}

func encoded(t *testing.T, r *Run) []byte {
	t.Helper()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The merge of 2, 4 and 8 shards is the run one generator would have
// recorded (counters, histograms bucket by bucket), and the same bytes
// whatever order the shards come in.
func TestMergeShardsIsExactAndCommutative(t *testing.T) {
	for _, n := range []int{2, 4, 8} {
		whole, parts := shardRuns(uint64(n), n, 20_000)
		merged, err := MergeShards(parts, false)
		if err != nil {
			t.Fatal(err)
		}
		want := encoded(t, merged)
		r := rand.New(rand.NewPCG(uint64(n), 1))
		for range 5 {
			shuffled := append([]Part(nil), parts...)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			again, err := MergeShards(shuffled, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encoded(t, again), want) {
				t.Fatalf("%d shards: another order merged to other results", n)
			}
		}
		for name, e := range whole.Endpoints {
			if !e.Total.equal(merged.Endpoints[name].Total) {
				t.Errorf("%d shards: %s merged differs from the whole run's", n, name)
			}
			for b := range e.Buckets {
				if !e.Buckets[b].equal(merged.Endpoints[name].Buckets[b]) {
					t.Errorf("%d shards: %s bucket %d merged differs from the whole run's", n, name, b)
				}
			}
		}
		if merged.Users != whole.Users || !merged.Generator.Late.Equal(whole.Generator.Late) {
			t.Errorf("%d shards: users %+v, whole %+v", n, merged.Users, whole.Users)
		}
		if merged.Meta.Sharding() != "merged from "+itoa(n)+" shards" || !merged.Meta.Complete || merged.Meta.Ended != "done" || len(merged.Stages) != 1 {
			t.Errorf("%d shards: meta %+v, %d stage samples", n, merged.Meta, len(merged.Stages))
		}
		if ends := countKind(merged, "surge-end"); ends != 1 {
			t.Errorf("%d shards: the surge's end is in the merged run %d times, want once", n, ends)
		}
	}
}

func itoa(n int) string { return joinInts([]int{n}) }

func countKind(r *Run, kind string) (n int) {
	for _, ev := range r.Events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func TestMergeShardsRefusesWhatIsNotOneRun(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(parts []Part)
		want   string
	}{
		{"another seed", func(p []Part) { p[1].Run.Meta.Seed = 8 }, "seed differs (7 vs 8)"},
		{"another scenario file", func(p []Part) { p[2].Run.Meta.ScenarioSHA256 = "def" }, "scenario file (sha256) differs"},
		{"another shard count", func(p []Part) { p[3].Run.Meta.Shards = 5 }, "shard count differs"},
		{"another target", func(p []Part) { p[0].Run.Meta.Target = "http://127.0.0.1:2" }, "target differs"},
		{"one shard twice", func(p []Part) { p[1].Run.Meta.Shard = 2 }, "both shard 2 of 4"},
		{"not a shard", func(p []Part) { p[3].Run.Meta.Shard = 4 }, "shard 4 of 4 is not a shard"},
		{"a sim", func(p []Part) { p[1].Run.Meta.Kind = "sim" }, "kind differs"},
	} {
		_, parts := shardRuns(1, 4, 100)
		c.change(parts)
		_, err := MergeShards(parts, true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

func TestMergeShardsSaysWhichAreMissing(t *testing.T) {
	_, parts := shardRuns(1, 8, 1000)
	some := []Part{parts[0], parts[1], parts[2], parts[4], parts[5], parts[7]}
	_, err := MergeShards(some, false)
	if !errors.Is(err, ErrMissingShards) || !strings.Contains(err.Error(), "missing 3, 6") {
		t.Fatalf("%v, want shards 3 and 6 named missing", err)
	}
	merged, err := MergeShards(some, true)
	if err != nil {
		t.Fatal(err)
	}
	m := merged.Meta
	if m.Complete || !strings.Contains(m.Ended, "partial: shards 3, 6 missing") || m.Sharding() != "merged from 6 of 8 shards, missing 3, 6" {
		t.Errorf("a partial merge's meta: %+v (%s)", m, m.Sharding())
	}
	if _, err := MergeShards([]Part{{Name: "m", Run: merged}, parts[3]}, true); err == nil || !strings.Contains(err.Error(), "merged") {
		t.Errorf("a merged run merged again: %v", err)
	}
}
