package results

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// randomRun records n random outcomes over a few endpoints and buckets.
func randomRun(r *rand.Rand, n int) *Run {
	run := New(Meta{Scenario: "prop", Kind: "run", Seed: r.Uint64(), Bucket: time.Second, Started: time.Unix(1639364400, 0).UTC()})
	eps := []string{"qr", "checkin", "certificate.issue"}
	kinds := []string{"", "", "", "timeout", "5xx", "expired_qr"}
	for range n {
		at := time.Duration(r.Int64N(int64(30 * time.Second)))
		svc := time.Duration(r.ExpFloat64() * float64(20*time.Millisecond))
		run.Record(eps[r.IntN(len(eps))], Outcome{At: at, Service: svc, Corrected: svc + time.Duration(r.Int64N(int64(time.Second))),
			First: r.IntN(3) > 0, Err: kinds[r.IntN(len(kinds))], Resent: r.IntN(10) / 9})
		run.Count(at, Users{Arrived: 1, Completed: int64(r.IntN(2)), Switched: int64(r.IntN(2))})
		run.Generator.Late.Record(time.Duration(r.Int64N(int64(time.Millisecond))))
	}
	run.Event(time.Second, "fault-on", "latency kdca")
	run.Stages = append(run.Stages, StageSample{At: time.Second, Stage: "kdca", Workers: 8, InFlight: 3, Busy: 1.5, Capacity: 8})
	run.StageCalls = map[string][]string{"ssis": {"kdca", "visitlog"}}
	run.Sample(FailureSample{Endpoint: "qr", Kind: "5xx", At: time.Second, Status: 502, Headers: "Server: x", Body: "bad gateway"})
	run.Meta.Abort = &Abort{Clause: "errors >= 50%", Measured: 0.9, Samples: 40, At: time.Second}
	return run
}

func equalRuns(a, b *Run) bool {
	if !reflect.DeepEqual(a.Meta, b.Meta) || !reflect.DeepEqual(a.StageCalls, b.StageCalls) || !slices.Equal(a.Failures, b.Failures) || a.Users != b.Users || !slices.Equal(a.UserBuckets, b.UserBuckets) ||
		!slices.Equal(a.Events, b.Events) || !slices.Equal(a.Stages, b.Stages) || !a.Generator.Late.Equal(b.Generator.Late) ||
		len(a.Endpoints) != len(b.Endpoints) {
		return false
	}
	for name, ea := range a.Endpoints {
		eb := b.Endpoints[name]
		if eb == nil || !ea.Total.equal(eb.Total) || len(ea.Buckets) != len(eb.Buckets) {
			return false
		}
		for i := range ea.Buckets {
			if (ea.Buckets[i] == nil) != (eb.Buckets[i] == nil) || ea.Buckets[i] != nil && !ea.Buckets[i].equal(eb.Buckets[i]) {
				return false
			}
		}
	}
	return true
}

func TestRoundTripProperty(t *testing.T) {
	prop := func(seed uint64, n uint16) bool {
		run := randomRun(rand.New(rand.NewPCG(seed, 1)), int(n%2000))
		data, err := run.Encode()
		if err != nil {
			t.Log(err)
			return false
		}
		back, err := Decode(data)
		if err != nil {
			t.Log(err)
			return false
		}
		return equalRuns(run, back)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 50}); err != nil {
		t.Error(err)
	}
}

func TestMergeIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	whole := New(Meta{Bucket: time.Second})
	parts := []*Run{New(Meta{Bucket: time.Second}), New(Meta{Bucket: time.Second})}
	for i := range 5000 {
		o := Outcome{At: time.Duration(r.Int64N(int64(20 * time.Second))), Corrected: time.Duration(r.Int64N(int64(time.Second))), First: true}
		if i%7 == 0 {
			o.Err = "timeout"
		}
		whole.Record("qr", o)
		parts[i%2].Record("qr", o)
		whole.Count(o.At, Users{Arrived: 1})
		parts[i%2].Count(o.At, Users{Arrived: 1})
	}
	merged := New(Meta{Bucket: time.Second})
	merged.Merge(parts[0])
	merged.Merge(parts[1])
	if !equalRuns(whole, merged) {
		t.Error("merging two halves differs from recording the whole")
	}
}

func TestPercentilesAgainstExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	run := New(Meta{Bucket: time.Minute})
	var exact []time.Duration
	for range 100_000 {
		d := time.Duration(r.ExpFloat64() * float64(50*time.Millisecond))
		exact = append(exact, d)
		run.Record("qr", Outcome{Corrected: d, Service: d, First: true})
	}
	slices.Sort(exact)
	for _, q := range []float64{50, 90, 99, 99.9} {
		want := exact[int(q/100*float64(len(exact)))-1]
		got := run.Endpoints["qr"].Total.Latency.Percentile(q)
		if rel := (got - want).Abs().Seconds() / want.Seconds(); rel > 0.002 {
			t.Errorf("p%v = %v, exact %v (%.3f%% off; 3 digits allow 0.1%%)", q, got, want, rel*100)
		}
	}
}

func TestCountersAndDerived(t *testing.T) {
	run := New(Meta{Bucket: time.Second})
	run.Record("qr", Outcome{At: 0, First: true})
	run.Record("qr", Outcome{At: 1500 * time.Millisecond, First: false, Err: "timeout"})
	run.Record("qr", Outcome{At: 1600 * time.Millisecond, First: true, Err: "5xx"})
	s := run.Endpoints["qr"].Total
	if s.Offered != 2 || s.Attempted != 3 || s.Succeeded != 1 || s.Errors["timeout"] != 1 || s.ErrorRate() != 2.0/3 {
		t.Errorf("series %+v", s)
	}
	if b := run.Endpoints["qr"].Buckets; len(b) != 2 || b[1].Attempted != 2 {
		t.Errorf("buckets %v", b)
	}
	if got := run.RetryAmplification(); got != 1.5 {
		t.Errorf("retry amplification %v, want 1.5", got)
	}
	run.Count(0, Users{Arrived: 4, Completed: 3, Abandoned: 1})
	if run.Users.Goodput() != 0.75 || run.Users.Abandonment() != 0.25 {
		t.Errorf("users %+v", run.Users)
	}
}

func TestFilesAndBadInput(t *testing.T) {
	dir := t.TempDir()
	run := randomRun(rand.New(rand.NewPCG(1, 1)), 100)
	if err := run.WriteFile(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(dir)
	if err != nil || !equalRuns(run, back) {
		t.Fatalf("file round trip: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, FileName)); st.Mode().Perm() != 0o644 {
		t.Errorf("results.json mode %v, want 0644", st.Mode().Perm())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".results-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	for name, data := range map[string]string{
		"not json":      "{\"format\": ",
		"foreign":       `{"format": "k6-summary", "version": 1}`,
		"future":        `{"format": "surge-results", "version": 99}`,
		"bad histogram": `{"format": "surge-results", "version": 1, "endpoints": {"qr": {"total": {"latency": "!!!", "service": "x"}}}}`,
		"no totals":     `{"format": "surge-results", "version": 1, "endpoints": {"qr": {}}}`,
	} {
		_, err := Decode([]byte(data))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte(`{"format": "surge-results", "version": 99}`), 0o644)
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "version 99") || !strings.Contains(err.Error(), dir) {
		t.Errorf("future version: %v", err)
	}
}

func BenchmarkRecord(b *testing.B) {
	run := New(Meta{Bucket: time.Second})
	o := Outcome{Corrected: 12 * time.Millisecond, Service: 11 * time.Millisecond, First: true}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o.At = time.Duration(i%600) * time.Second / 10
		run.Record("qr", o)
		i++
	}
}

// TestFailuresAndResendsAreTheirOwnFigures: a failed answer's latency is
// not in the percentiles of the successful ones, and a transparent resend
// is a request on the wire but not an answer.
func TestFailuresAndResendsAreTheirOwnFigures(t *testing.T) {
	s := NewSeries(TotalDigits)
	for range 99 {
		s.Record(Outcome{Corrected: 200 * time.Millisecond, Service: 190 * time.Millisecond, First: true})
	}
	s.Record(Outcome{Corrected: time.Millisecond, First: true, Err: "shed"})                // a 503 at once
	s.Record(Outcome{Corrected: 50 * time.Millisecond, First: true, Resent: 1})             // sent twice, answered once
	s.Record(Outcome{Corrected: 10 * time.Second, First: false, Err: "timeout", Resent: 2}) // three on the wire
	if s.Attempted != 105 || s.Resent != 3 || s.Answered() != 102 || s.Succeeded != 100 || s.Failed() != 2 {
		t.Errorf("attempted %d resent %d answered %d ok %d failed %d, want 105 3 102 100 2", s.Attempted, s.Resent, s.Answered(), s.Succeeded, s.Failed())
	}
	if got := s.ErrorRate(); got != 2.0/102 {
		t.Errorf("error rate %v, want 2/102", got)
	}
	if s.Latency.Count() != 100 || s.FailedLatency.Count() != 2 || s.Service.Count() != 100 {
		t.Errorf("histograms: %d ok, %d failed, %d service", s.Latency.Count(), s.FailedLatency.Count(), s.Service.Count())
	}
	if p := s.Latency.Percentile(1); p < 40*time.Millisecond {
		t.Errorf("the successful answers' p1 is %v: the 1 ms shed is mixed in", p)
	}
	if got := s.AllLatency().Count(); got != 102 {
		t.Errorf("all answers: %d, want 102", got)
	}
}

// TestVersion1StillReads: a version-1 file (latency over every answer, no
// failed_latency) decodes, says its latency is mixed, and keeps version 1
// when written again.
func TestVersion1StillReads(t *testing.T) {
	run := New(Meta{Scenario: "old", Bucket: time.Second})
	run.Record("qr", Outcome{At: time.Second, Corrected: time.Millisecond, First: true})
	data, err := run.Encode()
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), `"version": 2`, `"version": 1`, 1)
	old = regexp.MustCompile(`,\s*"failed_latency": "[^"]*"`).ReplaceAllString(old, "")
	if strings.Contains(old, "failed_latency") || !strings.Contains(old, `"version": 1`) {
		t.Fatal("fixture did not become version 1")
	}
	back, err := Decode([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if !back.MixedLatency() || back.Endpoints["qr"].Total.FailedLatency == nil || back.Endpoints["qr"].Buckets[1].FailedLatency == nil {
		t.Errorf("version 1: mixed %v, failed histograms missing", back.MixedLatency())
	}
	again, _ := back.Encode()
	if !strings.Contains(string(again), `"version": 1`) {
		t.Error("a version-1 run re-encoded claims version 2")
	}
	if run.MixedLatency() {
		t.Error("a new run says its latency is mixed")
	}
}

func TestFailureSamplesAreBounded(t *testing.T) {
	run := New(Meta{})
	kept := 0
	for i := range 20 {
		if run.Sample(FailureSample{Endpoint: "qr", Kind: "5xx", At: time.Duration(i), Status: 500}) {
			kept++
		}
	}
	run.Sample(FailureSample{Endpoint: "qr", Kind: "timeout"})
	if kept != MaxFailureSamples || len(run.Failures) != MaxFailureSamples+1 {
		t.Errorf("kept %d of 20 (want %d), %d in all", kept, MaxFailureSamples, len(run.Failures))
	}
	other := New(Meta{})
	other.Merge(run)
	other.Merge(run)
	if len(other.Failures) != MaxFailureSamples+2 { // 5xx at its bound, two timeouts
		t.Errorf("merged twice: %d samples, want %d", len(other.Failures), MaxFailureSamples+2)
	}
}

func TestSliceIsItsBucketsOnly(t *testing.T) {
	run := New(Meta{Bucket: time.Second})
	for i := range 10 {
		at := time.Duration(i) * time.Second
		run.Record("qr", Outcome{At: at, Corrected: time.Duration(i+1) * 100 * time.Millisecond, First: true})
		run.Count(at, Users{Arrived: 1, Completed: 1})
	}
	s := run.Slice(3*time.Second, 6*time.Second)
	tot := s.Endpoints["qr"].Total
	if tot.Attempted != 3 || s.Users.Arrived != 3 || tot.Latency.Percentile(0) < 390*time.Millisecond || tot.Latency.Max() > 610*time.Millisecond {
		t.Errorf("slice: %d attempts, %d users, latency %v-%v; want the buckets 3-5 only", tot.Attempted, s.Users.Arrived, tot.Latency.Percentile(0), tot.Latency.Max())
	}
}

// A histogram whose header declares another range or precision is refused
// before its buckets are allocated (1..2^62 at 5 digits would need GBs).
func TestHistogramOfAnotherGeometryIsRefused(t *testing.T) {
	wide := hdrhistogram.NewPacked(1, 1<<62, 5)
	wide.RecordValue(1 << 61)
	enc, err := wide.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var h Histogram
	err = h.UnmarshalJSON([]byte(`"` + string(enc) + `"`))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "range 1..4611686018427387904 us at 5 digits is not surge's") {
		t.Errorf("a histogram of range 1..2^62 at 5 digits: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", grew)
	}
	for _, bad := range []string{`""`, `"AAAA"`, `"HIST` + strings.Repeat("A", 20) + `"`} {
		if err := h.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	ours := NewHistogram(BucketDigits)
	ours.Record(3 * time.Millisecond)
	b, _ := ours.MarshalJSON()
	if err := h.UnmarshalJSON(b); err != nil || !h.Equal(ours) {
		t.Errorf("surge's own histogram: %v", err)
	}
}

func TestResultsFilePastTheLimitIsRefusedUnread(t *testing.T) {
	dir := t.TempDir()
	if err := os.Truncate(filepath.Join(dir, FileName), 0); err == nil {
		t.Fatal("no file yet")
	}
	f, err := os.Create(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(MaxFile + 1) // sparse: costs no disk
	f.Close()
	if _, err := ReadFile(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "larger than 256 MiB") {
		t.Errorf("a results file past the limit: %v", err)
	}
}

func TestCumulativeIsWhatABucketHolds(t *testing.T) {
	h := NewHistogram(TotalDigits)
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 40 * time.Millisecond, 2 * time.Second} {
		h.Record(d)
	}
	counts, sum := h.Cumulative([]time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Minute})
	if !slices.Equal(counts, []uint64{1, 3, 4, 5}) {
		t.Errorf("cumulative counts %v, want [1 3 4 5]", counts)
	}
	if want := 2046500 * time.Microsecond; sum < want-want/500 || sum > want+want/500 {
		t.Errorf("sum %v, want about %v", sum, want)
	}
}
