package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/surgekit/surge/scenarios/spec"
)

// Clause is one SLO (or safety) condition, written as text:
//
//	qr p99 <= 2s               a latency percentile of one request's successful answers
//	                           (p50 p90 p95 p99 p99.9 max mean); p99_all reads every
//	                           answer, failures too, p99_failed the failed ones only
//	checkin errors <= 1%       a share of one request's attempts (errors timeouts expired_qr shed)
//	errors <= 2%               the same over every request
//	goodput >= 95%             users who completed their journey, of those who arrived
//	abandonment <= 5%          users who gave up and left
//	retry_amplification <= 1.5 attempted requests / offered requests
//	headroom >= 1.5            the knee (the most arrivals/s every other clause holds at)
//	                           over the forecast peak: surge capacity measures it; run
//	                           and sim cannot, and say so
//	recovery <= 5m             after each fault ends, until every other clause holds again per
//	                           bucket for the scenario's recovery hold (gate.recovery_hold)
type Clause struct {
	Text     string `yaml:"clause"`
	Endpoint string `yaml:"-"` // "" = all requests
	Metric   string `yaml:"-"`
	// Answers is which answers a latency clause reads: AnswersOK (the
	// default: successful ones; failures are judged by the error clauses),
	// AnswersAll or AnswersFailed.
	Answers  string        `yaml:"-"`
	Op       string        `yaml:"-"` // <= < >= >
	Duration time.Duration `yaml:"-"`
	Value    float64       `yaml:"-"` // a fraction for shares, a ratio for retry_amplification
	// At judges the clause over a period only (a name from periods, or a
	// span such as 17:00-21:00), written {clause: "checkin p99 <= 2s", at: dinner};
	// Span is it resolved, by Parse.
	At   string `yaml:"at"`
	Span *Span  `yaml:"-"`
}

// Label is the clause as a verdict names it: its text, and where it is judged.
func (c Clause) Label() string {
	if c.At != "" {
		return c.Text + " at " + c.At
	}
	return c.Text
}

// Which answers a latency clause reads.
const (
	AnswersOK     = ""
	AnswersAll    = "all"
	AnswersFailed = "failed"
)

// The error kinds the gate's share clauses name; the rest (5xx, 4xx,
// reset, a gRPC code's name ...) are counted and reported by their own
// names.
const (
	KindTimeout   = "timeout"    // the client's timeout (or a gRPC DEADLINE_EXCEEDED)
	KindShed      = "shed"       // the service refused it at once (503, 429, a gRPC UNAVAILABLE ...)
	KindExpiredQR = "expired_qr" // a QR token used after its life
)

var (
	latencyMetrics = map[string]float64{"p50": 50, "p90": 90, "p95": 95, "p99": 99, "p99.9": 99.9, "max": 100, "mean": -1}
	// shareMetrics are the shares of answers, each with the error kind it
	// counts ("" for errors: every failed answer). The one list: the gate,
	// the report's windows and the run's safety abort all read it.
	shareMetrics = map[string]string{"errors": "", "timeouts": KindTimeout, "expired_qr": KindExpiredQR, "shed": KindShed}
	userMetrics  = map[string]bool{"goodput": true, "abandonment": true}
)

// IsShare says the clause judges a share of answers (errors, timeouts,
// shed, expired_qr), not of users, nor a latency.
func (c Clause) IsShare() bool {
	_, ok := shareMetrics[c.Metric]
	return ok
}

// ErrorKind is the error kind a share clause counts: "" for errors (every
// failed answer), the kind's name for the others.
func (c Clause) ErrorKind() string { return shareMetrics[c.Metric] }

// ParseClause reads the notation documented on Clause.
func ParseClause(s string) (Clause, error) {
	f := strings.Fields(s)
	c := Clause{Text: strings.Join(f, " ")}
	switch len(f) {
	case 3:
		c.Metric, c.Op = f[0], f[1]
	case 4:
		c.Endpoint, c.Metric, c.Op = f[0], f[1], f[2]
	default:
		return c, fmt.Errorf("clause %q: want [request] metric op value, e.g. \"qr p99 <= 2s\"", s)
	}
	for _, q := range []string{AnswersAll, AnswersFailed} {
		if m, ok := strings.CutSuffix(c.Metric, "_"+q); ok && latencyMetrics[m] != 0 {
			c.Metric, c.Answers = m, q
		}
	}
	switch c.Op {
	case "<=", "<", ">=", ">":
	default:
		return c, fmt.Errorf("clause %q: the operator must be <=, <, >= or >, have %q", s, c.Op)
	}
	if err := c.parseValue(f[len(f)-1]); err != nil {
		return c, fmt.Errorf("clause %q: %w", s, err)
	}
	return c, nil
}

// parseValue reads the clause's limit v as its metric takes it.
func (c *Clause) parseValue(v string) error {
	var err error
	switch {
	case latencyMetrics[c.Metric] != 0:
		c.Duration, err = time.ParseDuration(v)
		if err == nil && c.Duration <= 0 {
			err = fmt.Errorf("a latency limit must be positive, have %v", c.Duration)
		}
	case c.IsShare(), userMetrics[c.Metric]:
		var p Percent
		p, err = ParsePercent(v)
		c.Value = float64(p)
		switch {
		case err != nil:
		case p < 0 || p > 1:
			err = fmt.Errorf("a share must be within 0%% and 100%%, have %v", p)
		case userMetrics[c.Metric] && c.Endpoint != "":
			err = fmt.Errorf("%s counts users over the whole scenario, not one request", c.Metric)
		}
	case c.Metric == "recovery":
		c.Duration, err = time.ParseDuration(v)
		switch {
		case err != nil:
		case c.Duration < 0:
			err = fmt.Errorf("a recovery time must not be negative, have %v", c.Duration)
		case c.Endpoint != "":
			err = fmt.Errorf("recovery is measured over the whole scenario")
		}
	case c.Metric == "headroom", c.Metric == "retry_amplification":
		err = c.parseRatio(v)
	default:
		return fmt.Errorf("unknown metric %q (latency: p50 p90 p95 p99 p99.9 max mean, of the successful answers, or with _all or _failed: p99_all; shares: errors timeouts expired_qr shed goodput abandonment; retry_amplification; recovery; headroom)", c.Metric)
	}
	return err
}

// parseRatio reads the limit of a ratio clause (headroom, retry
// amplification), written "1.5" or "1.5x", both over the whole scenario.
func (c *Clause) parseRatio(v string) error {
	var err error
	c.Value, err = strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
	bad := err != nil || math.IsNaN(c.Value) || math.IsInf(c.Value, 0)
	switch {
	case c.Metric == "headroom" && (bad || c.Value <= 0):
		return fmt.Errorf("headroom is knee / forecast peak, a positive ratio such as 1.5; have %v", v)
	case c.Metric == "retry_amplification" && (bad || c.Value < 1):
		return fmt.Errorf("retry amplification is attempted / offered, at least 1; have %v", v)
	case c.Endpoint != "":
		return fmt.Errorf("%s is measured over the whole scenario", c.Metric)
	case c.Metric == "headroom" && (c.Op == "<" || c.Op == "<="):
		return fmt.Errorf("headroom is a floor: write headroom >= %v", v)
	}
	return nil
}

// Percentile is the latency percentile the clause reads (100 for max), or
// -1 for the mean; 0 when it is not a latency clause.
func (c Clause) Percentile() float64 { return latencyMetrics[c.Metric] }

// Holds tells whether a measured value meets the clause (a duration for
// latency clauses, a fraction or ratio otherwise).
func (c Clause) Holds(measured float64) bool {
	limit := c.Limit()
	switch c.Op {
	case "<=":
		return measured <= limit
	case "<":
		return measured < limit
	case ">=":
		return measured >= limit
	}
	return measured > limit
}

// Limit is the clause's bound in the unit Holds takes (seconds for latency).
func (c Clause) Limit() float64 {
	if c.Percentile() != 0 || c.Metric == "recovery" {
		return c.Duration.Seconds()
	}
	return c.Value
}

func (c Clause) String() string { return c.Text }

// UnmarshalYAML reads the notation.
// A mapping is {clause: ..., at: ...}.
func (c *Clause) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return spec.Scalar(n, ParseClause, c)
	}
	var m struct {
		Text string `yaml:"clause"`
		At   string `yaml:"at"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	parsed, err := ParseClause(m.Text)
	if err != nil {
		return spec.NodeError(n, "%v", err)
	}
	*c = parsed
	c.At = m.At
	return nil
}

// MarshalYAML writes the notation.
func (c Clause) MarshalYAML() (any, error) {
	if c.At != "" {
		return map[string]string{"clause": c.Text, "at": c.At}, nil
	}
	return c.Text, nil
}
