package reports

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/surgekit/surge/sim"
	"github.com/surgekit/surge/sim/queueing"
)

// The text of the sizing commands (surge plan, size, usl fit), beside the
// run's and the capacity search's.

// PlanText is surge plan's answer: each stage's need at the forecast peak
// times the margin against what it has, the bottleneck, the simulation of
// the scenario with every stage at its recommended size (check), and what
// lies outside the profile's evidence.
func PlanText(w io.Writer, profile string, plan sim.PlanResult, check Verdict, bandCheck *Verdict, outside []string) {
	verdict := map[bool]string{true: "GO", false: "NO-GO"}
	fmt.Fprintf(w, "plan: profile %s at the forecast peak x %.2g margin: %s\n\n", profile, plan.Margin, verdict[plan.Go])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tPEAK VISITS/s\tAT\tMEAN HOLD\tERLANGS\tWAIT p99 BUDGET\tNEEDS\tHAS\t")
	for _, sp := range plan.Stages {
		fmt.Fprintf(tw, "%s\t%.3g\t%s\t%v\t%.3g\t%v\t%d\t%d\t%s\n", sp.Stage, sp.Peak, sp.PeakAt, sp.Hold.Round(time.Millisecond),
			sp.Load, sp.Budget.Round(time.Millisecond), sp.Needed, sp.Has, verdict[sp.Go])
	}
	tw.Flush()
	for _, sp := range plan.Stages {
		if !sp.Go {
			fmt.Fprintf(w, "NO-GO %s: %s\n", sp.Stage, sp.Shortage)
		}
	}
	if b := plan.Bottleneck; b != nil {
		fmt.Fprintf(w, "bottleneck: %s (saturates first as load grows: at %.2fx the forecast peak its workers are all busy)", b.Stage, b.Headroom)
		if len(b.Downstream) > 0 {
			fmt.Fprintf(w, "; downstream effects: %s (they hold workers while they wait on it)", strings.Join(b.Downstream, ", "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nsim of the scenario with every stage at its recommended size: %s\n", verdict[check.Go])
	stillFailing(w, check)
	planBandText(w, plan, bandCheck)
	for _, o := range outside {
		fmt.Fprintf(w, "WARNING: outside the model's evidence: %s\n", o)
	}
}

// stillFailing lists the clauses v fails.
func stillFailing(w io.Writer, v Verdict) {
	for _, c := range v.Clauses {
		if !c.Pass {
			fmt.Fprintf(w, "  still failing: %s\n", c.Clause)
		}
	}
}

// planBandText says the plan at the low end of the calibration's capacity
// uncertainty: the stages that need more there, and the simulated check
// of that sizing.
func planBandText(w io.Writer, plan sim.PlanResult, check *Verdict) {
	b := plan.Band
	if b == nil || check == nil {
		return
	}
	verdict := map[bool]string{true: "GO", false: "NO-GO"}
	u := 100 * b.Uncertainty
	fmt.Fprintf(w, "\nif the capacity is %.0f%% lower (the calibration's uncertainty): %s with the workers each stage has", u, verdict[b.Go])
	var more []string
	for _, sp := range plan.Stages {
		if n := b.Needed[sp.Stage]; n > sp.Needed {
			more = append(more, fmt.Sprintf("%s %d (not %d)", sp.Stage, n, sp.Needed))
		}
	}
	if len(more) > 0 {
		fmt.Fprintf(w, "; it needs %s", strings.Join(more, ", "))
	}
	fmt.Fprintf(w, "\nsim of the scenario at capacity -%.0f%% with every stage at the size it needs there: %s\n", u, verdict[check.Go])
	stillFailing(w, *check)
}

// SizingText is surge size's answer: the servers, and every SLO's value at
// N and at N-1 (each once, in order), or why no N meets them.
func SizingText(w io.Writer, rate float64, service time.Duration, slos []queueing.SLO, res queueing.Sizing) {
	if !res.Feasible {
		fmt.Fprintf(w, "infeasible (%s): %s\n", res.Model, res.Reason)
		return
	}
	fmt.Fprintf(w, "%s: %d servers for %.4g/s x %v (offered %.4g erlangs, utilisation %.1f%%)\n",
		res.Model, res.Servers, rate, service, rate*service.Seconds(), 100*rate*service.Seconds()/float64(res.Servers))
	slos = slices.Clone(slos)
	slices.SortFunc(slos, func(a, b queueing.SLO) int { return strings.Compare(a.Text, b.Text) })
	for _, o := range slices.CompactFunc(slos, func(a, b queueing.SLO) bool { return a.Text == b.Text }) {
		line := fmt.Sprintf("  %-22s at %d: %-12s", o.Text, res.Servers, sloValue(o, res.AtN[o.Text]))
		if res.AtNMinus != nil {
			line += fmt.Sprintf(" at %d: %s", res.Servers-1, sloValue(o, res.AtNMinus[o.Text]))
		}
		fmt.Fprintln(w, line)
	}
}

// sloValue prints a value as a duration or a percentage, by its SLO's form.
func sloValue(o queueing.SLO, v float64) string {
	if o.IsTime() {
		return time.Duration(v * 1e9).Round(time.Microsecond).String()
	}
	return fmt.Sprintf("%.3f%%", 100*v)
}

// USLFitText is surge usl fit's answer: the fitted law, its peak (or its
// limit), the fit's quality and the throughput predicted at loads.
func USLFitText(w io.Writer, fit queueing.Fit, loads []float64) {
	fmt.Fprintf(w, "sigma %.5g (contention)  kappa %.5g (coherency)  lambda %.5g per unit of load\n", fit.Sigma, fit.Kappa, fit.Lambda)
	if peak, ok := fit.Peak(); ok {
		fmt.Fprintf(w, "peak: load %.1f, throughput %.4g; beyond it throughput falls\n", peak, fit.Throughput(peak))
	} else {
		fmt.Fprintf(w, "no peak (kappa = 0): throughput approaches %.4g\n", fit.Limit())
	}
	fmt.Fprintf(w, "fit: %s; RSS %.4g; residuals %v\n", fit.Method, fit.RSS, fmtFloats(fit.Residuals))
	for _, n := range loads {
		fmt.Fprintf(w, "load %g -> throughput %.4g\n", n, fit.Throughput(n))
	}
}

// USLFitFigures is USLFitText as JSON's values: the law, its peak (null
// with none; the limit as the peak throughput when it is finite), the fit
// and the predictions by load.
func USLFitFigures(fit queueing.Fit, loads []float64) map[string]any {
	preds := map[string]float64{}
	for _, n := range loads {
		preds[strconv.FormatFloat(n, 'f', -1, 64)] = fit.Throughput(n)
	}
	v := map[string]any{"sigma": fit.Sigma, "kappa": fit.Kappa, "lambda": fit.Lambda, "peak_load": nil,
		"peak_throughput": nil, "method": fit.Method, "rss": fit.RSS, "residuals": fit.Residuals, "predictions": preds}
	if peak, ok := fit.Peak(); ok {
		v["peak_load"], v["peak_throughput"] = peak, fit.Throughput(peak)
	} else if l := fit.Limit(); !math.IsInf(l, 1) {
		v["peak_throughput"] = l
	}
	return v
}

func fmtFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'g', 4, 64)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
