package queueing

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// SLO is one sizing objective, parsed from forms such as
//
//	p99<=100ms  p99.9<=40ms  mean<=30ms       response time (M/M/c)
//	wait.p99<=5ms  wait.mean<=1ms             waiting time (M/M/c)
//	P(wait)<=5%                               probability of waiting (Erlang C)
//	P(wait<=50ms)>=90%                        service level
//	utilization<=75%                          rho
//	blocking<=1%                              loss system (Erlang B; with no queue)
type SLO struct {
	Text     string
	Metric   string  // response.p, response.mean, wait.p, wait.mean, pwait, service_level, utilization, blocking
	Quantile float64 // for .p metrics, e.g. 0.99
	Within   time.Duration
	Limit    float64 // seconds, or a fraction
}

var (
	sloPct   = regexp.MustCompile(`^(wait\.)?p([0-9]+(?:\.[0-9]+)?)<=(.+)$`)
	sloMean  = regexp.MustCompile(`^(wait\.)?mean<=(.+)$`)
	sloLevel = regexp.MustCompile(`^P\(wait<=(.+)\)>=(.+%)$`)
	lessThan = regexp.MustCompile(`<([^=])`)
)

// ParseSLO reads one SLO form. It takes the scenario's clause notation
// too ("p99 <= 100ms", as a scenario's slo: writes it; < reads as <=, the
// same bound for a continuous figure); a clause naming a request is
// refused, as a sizing is of one stage.
func ParseSLO(s string) (SLO, error) {
	f := strings.Fields(s)
	if len(f) == 4 && !strings.ContainsAny(f[0], "<>=") {
		return SLO{}, fmt.Errorf("SLO %q names a request (%s): a sizing is of one stage; write %q", s, f[0], strings.Join(f[1:], " "))
	}
	t := lessThan.ReplaceAllString(strings.Join(f, ""), "<=$1")
	o := SLO{Text: t}
	var err error
	switch {
	case sloPct.MatchString(t):
		m := sloPct.FindStringSubmatch(t)
		o.Metric = map[bool]string{true: "wait.p", false: "response.p"}[m[1] != ""]
		q, _ := strconv.ParseFloat(m[2], 64)
		if q <= 0 || q >= 100 {
			return o, fmt.Errorf("SLO %q: the percentile must be within (0, 100)", s)
		}
		o.Quantile = q / 100
		o.Limit, err = durSeconds(m[3])
	case sloMean.MatchString(t):
		m := sloMean.FindStringSubmatch(t)
		o.Metric = map[bool]string{true: "wait.mean", false: "response.mean"}[m[1] != ""]
		o.Limit, err = durSeconds(m[2])
	case sloLevel.MatchString(t):
		m := sloLevel.FindStringSubmatch(t)
		o.Metric = "service_level"
		var w float64
		if w, err = durSeconds(m[1]); err == nil {
			o.Within = spec.Seconds(w)
			o.Limit, err = pct(m[2])
		}
	case strings.HasPrefix(t, "P(wait)<="):
		o.Metric = "pwait"
		o.Limit, err = pct(strings.TrimPrefix(t, "P(wait)<="))
	case strings.HasPrefix(t, "utilization<="):
		o.Metric = "utilization"
		o.Limit, err = pct(strings.TrimPrefix(t, "utilization<="))
	case strings.HasPrefix(t, "blocking<="):
		o.Metric = "blocking"
		o.Limit, err = pct(strings.TrimPrefix(t, "blocking<="))
	default:
		return o, fmt.Errorf("SLO %q: unknown form (p99<=100ms, mean<=30ms, wait.p99<=5ms, wait.mean<=1ms, P(wait)<=5%%, P(wait<=50ms)>=90%%, utilization<=75%%, blocking<=1%%)", s)
	}
	if err != nil {
		return o, fmt.Errorf("SLO %q: %w", s, err)
	}
	return o, nil
}

// WaitPercentile is the SLO wait.pQ<=limit: the q quantile (within 0 and
// 1) of the time an arrival waits for a server.
func WaitPercentile(q float64, limit time.Duration) SLO {
	return SLO{Text: fmt.Sprintf("wait.p%.6g<=%v", 100*q, limit), Metric: "wait.p", Quantile: q, Limit: limit.Seconds()}
}

// Utilization is the SLO utilization<=x (x within 0 and 1).
func Utilization(x float64) SLO {
	return SLO{Text: fmt.Sprintf("utilization<=%.6g%%", 100*x), Metric: "utilization", Limit: x}
}

// IsTime says the SLO bounds a time (its values are seconds), not a share.
func (o SLO) IsTime() bool {
	switch o.Metric {
	case "response.p", "response.mean", "wait.p", "wait.mean":
		return true
	}
	return false
}

func durSeconds(s string) (float64, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d.Seconds(), nil
}

func pct(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !strings.HasSuffix(s, "%") || v < 0 || v > 100 {
		return 0, fmt.Errorf("%q is not a percentage such as 5%%", s)
	}
	return v / 100, nil
}

// Sizing is the answer of Size.
type Sizing struct {
	Servers  int                `json:"servers,omitempty"`
	Feasible bool               `json:"feasible"`
	Reason   string             `json:"reason,omitempty"`
	Model    string             `json:"model"`
	AtN      map[string]float64 `json:"at_n,omitempty"`
	AtNMinus map[string]float64 `json:"at_n_minus_1,omitempty"`
}

// maxServers bounds the search beyond the offered load.
const maxServers = 1_000_000

// Size finds the fewest servers that meet every SLO for Poisson arrivals at
// lambda and exponential service with mean s (M/M/c), or, with noQueue, the
// loss system M/M/c/c (Erlang B, where only blocking and utilization apply).
// An SLO no number of servers can meet gives Feasible false and the reason.
func Size(lambda float64, s time.Duration, slos []SLO, noQueue bool) (Sizing, error) {
	if lambda <= 0 || s <= 0 {
		return Sizing{}, fmt.Errorf("queueing: need a positive arrival rate and service time, have %v and %v", lambda, s)
	}
	if len(slos) == 0 {
		return Sizing{}, fmt.Errorf("queueing: give at least one SLO")
	}
	out := Sizing{Model: "M/M/c (Erlang C)"}
	if noQueue {
		out.Model = "M/M/c/c (Erlang B)"
	}
	for _, o := range slos {
		if reason := infeasible(o, s, noQueue); reason != "" {
			out.Reason = reason
			return out, nil
		}
	}
	a := lambda * s.Seconds()
	c := 1
	if !noQueue {
		c = int(math.Floor(a)) + 1 // the least stable c
	}
	for ; c <= int(a)+maxServers; c++ {
		if ok, _ := meets(lambda, s, c, slos, noQueue); ok {
			out.Servers, out.Feasible = c, true
			_, out.AtN = meets(lambda, s, c, slos, noQueue)
			if c > 1 {
				_, out.AtNMinus = meets(lambda, s, c-1, slos, noQueue)
			}
			return out, nil
		}
	}
	out.Reason = fmt.Sprintf("no c up to %d meets the SLOs", int(a)+maxServers)
	return out, nil
}

// infeasible says why an SLO cannot be met by any number of servers.
func infeasible(o SLO, s time.Duration, noQueue bool) string {
	switch o.Metric {
	case "blocking":
		if !noQueue {
			return "blocking applies to a loss system: use --no-queue"
		}
	case "utilization":
	default:
		if noQueue {
			return o.Text + ": a loss system has no queue; only blocking and utilization apply"
		}
	}
	switch o.Metric {
	case "response.p":
		if own := -s.Seconds() * math.Log(1-o.Quantile); own >= o.Limit {
			return fmt.Sprintf("%s: no number of servers gets the response time's p%g below the service time's own p%g (%v)",
				o.Text, o.Quantile*100, o.Quantile*100, spec.Seconds(own))
		}
	case "response.mean":
		if s.Seconds() >= o.Limit {
			return fmt.Sprintf("%s: the mean response time cannot drop below the mean service time %v", o.Text, s)
		}
	case "pwait", "blocking":
		if o.Limit <= 0 {
			return o.Text + ": some arrivals always wait (or are blocked) in this model; the limit must be above 0%"
		}
	case "service_level":
		if o.Limit >= 1 {
			return o.Text + ": 100% cannot be guaranteed with exponential service; use a limit below 100%"
		}
	case "utilization":
		if o.Limit <= 0 {
			return o.Text + ": the limit must be above 0%"
		}
	}
	return ""
}

// meets evaluates every SLO at c servers; it returns whether all hold and
// each SLO's value (seconds or a fraction), keyed by its text.
func meets(lambda float64, s time.Duration, c int, slos []SLO, noQueue bool) (bool, map[string]float64) {
	q := MMc{Lambda: lambda, S: s, C: c}
	vals := map[string]float64{}
	all := true
	for _, o := range slos {
		v, ok := value(q, o, noQueue)
		vals[o.Text] = v
		if !ok {
			all = false
			continue
		}
		holds := v <= o.Limit
		if o.Metric == "service_level" {
			holds = v >= o.Limit
		}
		all = all && holds
	}
	return all, vals
}

// value is an SLO's metric at q; false when q is unstable.
func value(q MMc, o SLO, noQueue bool) (float64, bool) {
	if o.Metric == "utilization" {
		return q.Utilization(), noQueue || q.Utilization() < 1
	}
	if o.Metric == "blocking" {
		return ErlangB(q.C, q.load()), true
	}
	var (
		d   time.Duration
		f   float64
		err error
	)
	switch o.Metric {
	case "response.p":
		d, err = q.ResponseQuantile(o.Quantile)
	case "response.mean":
		d, err = q.MeanResponse()
	case "wait.p":
		d, err = q.WaitQuantile(o.Quantile)
	case "wait.mean":
		d, err = q.MeanWait()
	case "pwait":
		f, err = q.PWait()
		return f, err == nil
	case "service_level":
		f, err = q.WaitCDF(o.Within)
		return f, err == nil
	}
	return d.Seconds(), err == nil
}
