package capacity

import (
	"fmt"
	"strings"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/replay"
)

// The target's own figures. A service that exports the standard families
// of its Prometheus client library says what bound it, which its answers
// alone cannot: a process whose CPU is all its cores' is CPU-bound (more
// workers will not help; more cores or less work per request will), and a
// database/sql pool whose every connection is in use while requests wait
// for one is the pool (its size, or the database behind it). The search
// scrapes the target's /metrics before and after each step anyway (for
// surge's stage metrics); ReadTarget reads these from the same scrapes.

// cpuBound is the share of its cores from which a process's CPU is its
// bound: a Go service whose goroutines all run keeps GOMAXPROCS cores busy
// but for the scheduler's and the collector's gaps.
const cpuBound = 0.9

// ReadTarget sets each step's Target from the scrapes around it (snaps[i]
// is res.Steps[i]'s) and res.TargetNote from them.
func ReadTarget(res *Result, snaps []Snapshot) {
	for i := range res.Steps {
		if i < len(snaps) {
			res.Steps[i].Target = targetFigures(snaps[i])
		}
	}
	res.TargetNote = targetNote(res)
}

// targetFigures reads one step's scrapes (nil: the target exports none of
// the families, or a scrape failed).
func targetFigures(sn Snapshot) *reports.TargetFigures {
	dt := sn.AfterAt.Sub(sn.BeforeAt).Seconds()
	if sn.Before == nil || sn.After == nil || dt <= 0 {
		return nil
	}
	delta := func(name string) (float64, bool) {
		a, okA := replay.FamilyTotal(sn.After, name)
		b, okB := replay.FamilyTotal(sn.Before, name)
		return a - b, okA && okB && a >= b // a counter that fell: the process restarted
	}
	var f reports.TargetFigures
	if cpu, ok := delta("process_cpu_seconds_total"); ok {
		f.HasCPU, f.CPUCores = true, cpu/dt
		f.Cores, _ = replay.FamilyTotal(sn.After, "go_sched_gomaxprocs_threads")
	}
	f.ResidentBytes, _ = replay.FamilyTotal(sn.After, "process_resident_memory_bytes")
	if inUse, ok := replay.FamilyTotal(sn.After, "go_sql_in_use_connections"); ok {
		f.HasPool, f.PoolInUse = true, inUse
		f.PoolMax, _ = replay.FamilyTotal(sn.After, "go_sql_max_open_connections")
		if waits, ok := delta("go_sql_wait_count_total"); ok && waits > 0 {
			waited, _ := delta("go_sql_wait_duration_seconds_total")
			f.PoolWaits, f.PoolWait = waits/dt, waited/waits
		}
	}
	if !f.HasCPU && !f.HasPool {
		return nil
	}
	return &f
}

// targetNote says, at the first step of the peak's mix past the knee (or
// the highest one when none failed), whether the target's CPU or its pool
// was its bound.
func targetNote(res *Result) string {
	var failing, passing *Step
	for i := range res.Steps {
		st := &res.Steps[i]
		if st.Mix != "" || st.Target == nil || st.Behind {
			continue
		}
		if !st.Pass && (failing == nil || st.Offered < failing.Offered) {
			failing = st
		}
		if st.Pass && (passing == nil || st.Offered > passing.Offered) {
			passing = st
		}
	}
	at := failing
	if at == nil {
		at = passing
	}
	if at == nil {
		return ""
	}
	f := at.Target
	where := fmt.Sprintf("at %.4g arrivals/s (%s)", at.Offered, map[bool]string{true: "the highest step, which held", false: "the first step past the knee"}[at.Pass])
	var says []string
	if f.HasCPU {
		switch {
		case f.Cores > 0 && f.CPUCores >= cpuBound*f.Cores:
			says = append(says, fmt.Sprintf("its process used %.2f CPU cores of the %.0f it may use: CPU-bound (more workers will not help; more cores, or less work a request, will)", f.CPUCores, f.Cores))
		case f.Cores > 0:
			says = append(says, fmt.Sprintf("its process used %.2f CPU cores of the %.0f it may use: not its CPU", f.CPUCores, f.Cores))
		default:
			says = append(says, fmt.Sprintf("its process used %.2f CPU cores (it does not say how many it may use)", f.CPUCores))
		}
	}
	if f.HasPool {
		switch {
		case f.PoolWaits > 0 && f.PoolMax > 0:
			says = append(says, fmt.Sprintf("requests waited for a database connection %.4g times a second (%.3gms each on average), the pool's %.0f connections %.0f in use at the end: the pool binds", f.PoolWaits, 1000*f.PoolWait, f.PoolMax, f.PoolInUse))
		case f.PoolWaits > 0:
			says = append(says, fmt.Sprintf("requests waited for a database connection %.4g times a second (%.3gms each on average)", f.PoolWaits, 1000*f.PoolWait))
		default:
			says = append(says, "no request waited for a database connection: not its pool")
		}
	}
	return "The target's own metrics " + where + ": " + strings.Join(says, "; ") + "."
}
