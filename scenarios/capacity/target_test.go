package capacity

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/profile"
	"github.com/surgekit/surge/scenarios/replay"
	"github.com/surgekit/surge/scenarios/results"
)

// TestTargetHelperProcess is the target of TestTargetsOwnMetrics: the
// reference server in a process of its own (this test binary run again),
// so that the CPU its /metrics reports is its own and not the load
// generator's. It serves until its standard input closes.
func TestTargetHelperProcess(t *testing.T) {
	if os.Getenv("SURGE_TARGET_HELPER") != "1" {
		t.Skip("the target process of TestTargetsOwnMetrics")
	}
	p, err := profiles.Load("as-built")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("listening %s\n", serveReference(t, p, "target-test-admin"))
	done := make(chan struct{})
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
}

// TestTargetsOwnMetrics: steps played against a target in a process of its
// own that exports the standard families (the reference server: process,
// Go and database/sql pool collectors) read its CPU, its cores and its
// pool per step; the CPU rises with the rate and stays within the cores;
// the capacity page and text show the table and say whether the CPU or
// the pool bound.
func TestTargetsOwnMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("live steps")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTargetHelperProcess$")
	cmd.Env = append(os.Environ(), "SURGE_TARGET_HELPER=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("the target process said %q (%v)", line, err)
	}
	s, err := scenarios.Load("../smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	live := &LiveRunner{Config: replay.Config{Target: "http://" + addr, SampleMetrics: true, AdminToken: "target-test-admin"}, Cool: 500 * time.Millisecond}
	res := &Result{}
	for _, rate := range []float64{5, 60} {
		sc, err := Steady(s, PeakMix(s), rate, 4*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := live.Steady(context.Background(), sc, 1, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		res.Steps = append(res.Steps, Step{Offered: rate, Pass: true})
	}
	ReadTarget(res, live.Snapshots)
	low, high := res.Steps[0].Target, res.Steps[1].Target
	if low == nil || high == nil || !low.HasCPU || !high.HasPool {
		t.Fatalf("the target's figures: %+v, %+v", low, high)
	}
	cores := float64(runtime.GOMAXPROCS(0)) // the target process's own, inherited from this one's environment
	t.Logf("CPU %.3f cores at 5/s, %.3f at 60/s of %v; pool %v of %v, %.3g waits/s", low.CPUCores, high.CPUCores, high.Cores, high.PoolInUse, high.PoolMax, high.PoolWaits)
	if high.Cores != cores || high.PoolMax != 8 {
		t.Errorf("the target may use %v cores (want %v) and %v database connections (want 8, the store's bound)", high.Cores, cores, high.PoolMax)
	}
	if !(low.CPUCores > 0 && high.CPUCores > 2*low.CPUCores && high.CPUCores <= 1.2*cores) {
		t.Errorf("CPU %.3f cores at 5/s and %.3f at 60/s: want it to rise with the rate and stay within the %v cores", low.CPUCores, high.CPUCores, cores)
	}
	if !strings.Contains(res.TargetNote, "at 60 arrivals/s (the highest step, which held)") || !strings.Contains(res.TargetNote, "not its CPU") {
		t.Errorf("the note: %q", res.TargetNote)
	}
	var text, page strings.Builder
	reports.CapacityText(&text, &res.Capacity)
	if err := reports.CapacityHTML(&page, &res.Capacity, s); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("<tr><td>60</td><td>%.2f of %.0f</td>", high.CPUCores, cores)
	if !strings.Contains(page.String(), `id="target-table"`) || !strings.Contains(page.String(), row) || !strings.Contains(page.String(), `<p id="target-note">`) {
		t.Errorf("the page lacks the target's table, its row %q or its note", row)
	}
	if !strings.Contains(text.String(), "CPU CORES") || !strings.Contains(text.String(), res.TargetNote) {
		t.Errorf("the text lacks the target's table or note:\n%s", text.String())
	}
}

// TestTargetNoteSaysWhatBound: the scrapes of a CPU-bound target and of
// one whose database pool is full (exposition text as client_golang
// writes it) are read as such, at the first step past the knee.
func TestTargetNoteSaysWhatBound(t *testing.T) {
	scrape := func(text string) map[string]*dto.MetricFamily {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		f, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	snap := func(cpu0, cpu1, waits0, waits1, waited0, waited1 float64) Snapshot {
		page := func(cpu, waits, waited float64) string {
			return fmt.Sprintf(`# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total %g
# TYPE go_sched_gomaxprocs_threads gauge
go_sched_gomaxprocs_threads 4
# TYPE go_sql_in_use_connections gauge
go_sql_in_use_connections{db_name="orders"} 10
# TYPE go_sql_max_open_connections gauge
go_sql_max_open_connections{db_name="orders"} 10
# TYPE go_sql_wait_count_total counter
go_sql_wait_count_total{db_name="orders"} %g
# TYPE go_sql_wait_duration_seconds_total counter
go_sql_wait_duration_seconds_total{db_name="orders"} %g
`, cpu, waits, waited)
		}
		return Snapshot{Before: scrape(page(cpu0, waits0, waited0)), After: scrape(page(cpu1, waits1, waited1)), BeforeAt: at, AfterAt: at.Add(10 * time.Second)}
	}
	for _, c := range []struct {
		name string
		snap Snapshot
		want []string
	}{
		{"CPU-bound", snap(100, 138, 0, 0, 0, 0), []string{"3.80 CPU cores of the 4 it may use: CPU-bound", "no request waited for a database connection: not its pool"}},
		{"pool-bound", snap(100, 112, 50, 2050, 1, 41), []string{"1.20 CPU cores of the 4 it may use: not its CPU", "waited for a database connection 200 times a second (20ms each on average), the pool's 10 connections 10 in use at the end: the pool binds"}},
	} {
		res := &Result{}
		res.Steps = []Step{{Offered: 100, Pass: true}, {Offered: 150, Pass: false}, {Offered: 200, Pass: false}}
		ReadTarget(res, []Snapshot{c.snap, c.snap, {}})
		if res.Steps[2].Target != nil {
			t.Errorf("%s: a step without scrapes has figures", c.name)
		}
		for _, w := range append(c.want, "at 150 arrivals/s (the first step past the knee)") {
			if !strings.Contains(res.TargetNote, w) {
				t.Errorf("%s: the note lacks %q: %s", c.name, w, res.TargetNote)
			}
		}
	}
}

// busyAfterOverload is a simulated service that stays busy for two probes
// after every step that broke its clauses (p95 <= 300ms; its probes
// answered by a tenth of its capacity), as one finishing its gone clients' work does: a Prober.
type busyAfterOverload struct {
	SimRunner
	slow         *profile.Profile
	busy, probes int
	clock        time.Time
	busyFor      int // probes busy after a failed step (0: 2)
}

func (b *busyAfterOverload) Steady(ctx context.Context, s *scenarios.Scenario, seed uint64, drain time.Duration) (*results.Run, error) {
	run, err := b.SimRunner.Steady(ctx, s, seed, drain)
	if o := run.Overall(); err == nil && (o.ErrorRate() > 0 || o.Latency.Percentile(95) > 300*time.Millisecond) { // the step fails its clauses
		b.busy = cmp.Or(b.busyFor, 2)
	}
	return run, err
}

func (b *busyAfterOverload) Probe(ctx context.Context, s *scenarios.Scenario, seed uint64) (*results.Run, error) {
	b.probes++
	b.clock = b.clock.Add(settleProbe)
	if b.busy > 0 {
		b.busy--
		return (&SimRunner{Profile: b.slow}).Steady(ctx, s, seed, time.Minute)
	}
	return b.SimRunner.Steady(ctx, s, seed, time.Minute)
}

// TestSearchWaitsOutABusyService: after a step that failed, the search
// probes until the service answers as at its lowest passing rate, and
// says on the step how long that took; a step that passed is not probed.
func TestSearchWaitsOutABusyService(t *testing.T) {
	s := twoRequests(t, 0.5, 100, 300*time.Millisecond)
	truth := parseProfile(t, `name: t
stages: {pool: {workers: 4, queue: 100000, service: "exp(20ms)"}}
routes: {a: [{stage: pool}], b: [{stage: pool}]}
`)
	slow := truth.WithCapacity(0.1)
	b := &busyAfterOverload{SimRunner: SimRunner{Profile: truth}, slow: slow, clock: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	res, err := Search(context.Background(), Config{Scenario: s, Runner: b, Seed: 1, MinStep: 10 * time.Second, NoIdentify: true, Now: func() time.Time { return b.clock }})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, st := range res.Steps {
		switch {
		case failedShare(st) > 0 || !st.Pass:
			failed++
			if st.Settled != 2*settleProbe {
				t.Errorf("step %.4g/s failed: settled after %v, want %v (two busy probes)", st.Offered, st.Settled, 2*settleProbe)
			}
		case st.Settled != 0:
			t.Errorf("step %.4g/s passed but settled after %v", st.Offered, st.Settled)
		}
	}
	if failed == 0 || b.probes != 3*failed {
		t.Errorf("%d probes after %d failed steps, want three after each", b.probes, failed)
	}
	var page strings.Builder
	if err := reports.CapacityHTML(&page, &res.Capacity, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "after it the service took 4.00s to answer as at the lowest rate again") {
		t.Errorf("the page does not say how long the service took to settle")
	}
}

// TestSettlingWithinTheBudget: probes are the search's wall time too: a
// service busy for ten probes after a failed step, searched within a 16 s
// budget (each probe 2 s), is probed until the budget has no 2 s left
// (eight probes), and the step says it had not settled.
func TestSettlingWithinTheBudget(t *testing.T) {
	s := twoRequests(t, 0.5, 100, 300*time.Millisecond)
	truth := parseProfile(t, `name: t
stages: {pool: {workers: 4, queue: 100000, service: "exp(20ms)"}}
routes: {a: [{stage: pool}], b: [{stage: pool}]}
`)
	b := &busyAfterOverload{SimRunner: SimRunner{Profile: truth}, slow: truth.WithCapacity(0.1), busyFor: 10, clock: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)}
	res, err := Search(context.Background(), Config{Scenario: s, Runner: b, Seed: 1, MinStep: 10 * time.Second, Warmup: 5 * time.Second,
		Budget: 16 * time.Second, NoIdentify: true, Now: func() time.Time { return b.clock }})
	if err != nil {
		t.Fatal(err)
	}
	unsettled := 0
	for _, st := range res.Steps {
		if st.Unsettled {
			unsettled++
		}
	}
	if b.probes != 8 || unsettled != 1 || res.Ended != "budget" {
		t.Errorf("%d probes, %d steps unsettled, ended %q: want 8 probes in the budget's 16 s, one step unsettled, ended by the budget", b.probes, unsettled, res.Ended)
	}
}
