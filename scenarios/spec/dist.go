package spec

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Dist is a distribution of durations, written as surge's YAML writes it:
//
//	20ms                          const: always 20ms (also const(20ms))
//	exp(20ms)                     exponential with mean 20ms (also exp:20ms)
//	uniform(2s, 8s)               uniform on [2s, 8s]
//	lognormal(median=5m, p90=15m) lognormal by its median and 90th percentile
//
// For the lognormal, mu = ln(median) and sigma = ln(p90/median)/z(0.9),
// z(0.9) = 1.2815515655446004. The zero Dist is const(0).
type Dist struct {
	kind distKind
	a, b float64 // seconds: const a; exp mean a; uniform [a, b]; lognormal mu a, sigma b
}

type distKind uint8

const (
	distConst distKind = iota
	distExp
	distUniform
	distLognormal
)

const z90 = 1.2815515655446004

// Const returns the distribution that is always d.
func Const(d time.Duration) Dist { return Dist{kind: distConst, a: d.Seconds()} }

// Exp returns the exponential distribution with the given mean.
func Exp(mean time.Duration) Dist { return Dist{kind: distExp, a: mean.Seconds()} }

// Uniform returns the uniform distribution on [lo, hi].
func Uniform(lo, hi time.Duration) Dist {
	return Dist{kind: distUniform, a: lo.Seconds(), b: hi.Seconds()}
}

// Lognormal returns the lognormal distribution with the given median and
// 90th percentile (p90 >= median).
func Lognormal(median, p90 time.Duration) Dist {
	return Dist{kind: distLognormal, a: math.Log(median.Seconds()), b: math.Log(p90.Seconds()/median.Seconds()) / z90}
}

// ParseDist reads the notation documented on Dist.
func ParseDist(s string) (Dist, error) {
	s = strings.TrimSpace(s)
	if strings.Count(s, "(") != strings.Count(s, ")") {
		return Dist{}, fmt.Errorf("distribution %q: unbalanced parentheses (inside a {flow: mapping} a comma ends the value: quote it, \"uniform(5ms, 20ms)\")", s)
	}
	name, args, ok := splitCall(s)
	if !ok {
		d, err := parseDur(s)
		if err != nil {
			return Dist{}, fmt.Errorf("distribution %q: want a duration or one of const(D), exp(MEAN), uniform(LO, HI), lognormal(median=D, p90=D)", s)
		}
		if d < 0 {
			return Dist{}, fmt.Errorf("distribution %q: a negative duration", s)
		}
		return Const(d), nil
	}
	d, err := buildDist(name, args)
	if err != nil {
		return Dist{}, fmt.Errorf("distribution %q: %w", s, err)
	}
	return d, nil
}

// splitCall splits "name(a, b)" or "name:a,b" into name and arguments.
func splitCall(s string) (string, []string, bool) {
	var name, inner string
	if i := strings.IndexByte(s, '('); i > 0 && strings.HasSuffix(s, ")") {
		name, inner = s[:i], s[i+1:len(s)-1]
	} else if i := strings.IndexByte(s, ':'); i > 0 {
		name, inner = s[:i], s[i+1:]
	} else {
		return "", nil, false
	}
	var args []string
	for _, a := range strings.Split(inner, ",") {
		args = append(args, strings.TrimSpace(a))
	}
	return strings.TrimSpace(name), args, true
}

func buildDist(name string, args []string) (Dist, error) {
	switch name {
	case "const", "det":
		ds, err := durArgs(args, "value")
		if err != nil {
			return Dist{}, err
		}
		return Const(ds[0]), nil
	case "exp":
		ds, err := durArgs(args, "mean")
		if err != nil {
			return Dist{}, err
		}
		if ds[0] <= 0 {
			return Dist{}, fmt.Errorf("mean must be positive")
		}
		return Exp(ds[0]), nil
	case "uniform":
		ds, err := durArgs(args, "lo", "hi")
		if err != nil {
			return Dist{}, err
		}
		if ds[1] < ds[0] {
			return Dist{}, fmt.Errorf("hi %v is below lo %v", ds[1], ds[0])
		}
		return Uniform(ds[0], ds[1]), nil
	case "lognormal":
		ds, err := durArgs(args, "median", "p90")
		if err != nil {
			return Dist{}, err
		}
		if ds[0] <= 0 || ds[1] < ds[0] {
			return Dist{}, fmt.Errorf("want 0 < median <= p90")
		}
		return Lognormal(ds[0], ds[1]), nil
	}
	return Dist{}, fmt.Errorf("unknown distribution %q (known: const, exp, uniform, lognormal)", name)
}

// durArgs reads positional or name=value duration arguments in the order of names.
func durArgs(args []string, names ...string) ([]time.Duration, error) {
	if len(args) != len(names) {
		return nil, fmt.Errorf("want %d argument(s) (%s), have %d", len(names), strings.Join(names, ", "), len(args))
	}
	out := make([]time.Duration, len(names))
	for i, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok {
			if strings.TrimSpace(k) != names[i] {
				return nil, fmt.Errorf("argument %d is %s, not %q", i+1, names[i], strings.TrimSpace(k))
			}
			a = strings.TrimSpace(v)
		}
		d, err := parseDur(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", names[i], err)
		}
		if d < 0 {
			return nil, fmt.Errorf("%s: negative duration %v", names[i], d)
		}
		out[i] = d
	}
	return out, nil
}

func parseDur(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 20ms or 1.5s", s)
	}
	return d, nil
}

// Sample draws one duration from d using r.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	var s float64
	switch d.kind {
	case distConst:
		s = d.a
	case distExp:
		s = r.ExpFloat64() * d.a
	case distUniform:
		s = d.a + (d.b-d.a)*r.Float64()
	case distLognormal:
		s = math.Exp(d.a + d.b*r.NormFloat64())
	}
	return Seconds(s)
}

// Scaled is d with every duration multiplied by f > 0 (its mean, and
// each percentile, f times d's).
func (d Dist) Scaled(f float64) Dist {
	switch d.kind {
	case distLognormal:
		d.a += math.Log(f)
	default:
		d.a, d.b = d.a*f, d.b*f
	}
	return d
}

// Mean is the distribution's expected value.
func (d Dist) Mean() time.Duration { return Seconds(d.meanSeconds()) }

func (d Dist) meanSeconds() float64 {
	switch d.kind {
	case distExp:
		return d.a
	case distUniform:
		return (d.a + d.b) / 2
	case distLognormal:
		return math.Exp(d.a + d.b*d.b/2)
	}
	return d.a
}

// SCV is the squared coefficient of variation, Var/Mean^2: 0 for const, 1
// for exp, (b-a)^2/(3(a+b)^2) for uniform, exp(sigma^2)-1 for lognormal. It is
// what the M/G/1 and approximate M/G/c formulas need.
func (d Dist) SCV() float64 {
	m := d.meanSeconds()
	if m == 0 {
		return 0
	}
	switch d.kind {
	case distExp:
		return 1
	case distUniform:
		w := d.b - d.a
		return w * w / 12 / (m * m)
	case distLognormal:
		return math.Expm1(d.b * d.b)
	}
	return 0
}

// Quantile is the duration below which a fraction p (0 <= p < 1) of draws fall.
func (d Dist) Quantile(p float64) time.Duration {
	switch d.kind {
	case distExp:
		return Seconds(-d.a * math.Log1p(-p))
	case distUniform:
		return Seconds(d.a + (d.b-d.a)*p)
	case distLognormal:
		return Seconds(math.Exp(d.a + d.b*math.Sqrt2*math.Erfinv(2*p-1)))
	}
	return Seconds(d.a)
}

// CDF is the share of draws at or below t.
func (d Dist) CDF(t time.Duration) float64 {
	x := t.Seconds()
	switch d.kind {
	case distExp:
		if x <= 0 {
			return 0
		}
		return -math.Expm1(-x / d.a)
	case distUniform:
		switch {
		case x < d.a:
			return 0
		case x >= d.b:
			return 1
		}
		return (x - d.a) / (d.b - d.a)
	case distLognormal:
		if x <= 0 {
			return 0
		}
		return 0.5 * math.Erfc(-(math.Log(x)-d.a)/(d.b*math.Sqrt2))
	}
	if x >= d.a {
		return 1
	}
	return 0
}

// IsZero reports whether d always yields 0.
func (d Dist) IsZero() bool { return d.kind == distConst && d.a == 0 }

// String is the canonical notation; ParseDist(d.String()) equals d.
func (d Dist) String() string {
	switch d.kind {
	case distExp:
		return fmt.Sprintf("exp(%v)", Seconds(d.a))
	case distUniform:
		return fmt.Sprintf("uniform(%v, %v)", Seconds(d.a), Seconds(d.b))
	case distLognormal:
		return fmt.Sprintf("lognormal(median=%v, p90=%v)", Seconds(math.Exp(d.a)), Seconds(math.Exp(d.a+d.b*z90)))
	}
	return Seconds(d.a).String()
}

// Seconds is s seconds as a Duration, rounded to the nanosecond: the one
// conversion from float seconds every package uses.
func Seconds(s float64) time.Duration { return time.Duration(round(s * 1e9)) }

// SortedKeys lists a map's keys in order.
func SortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// round is math.Round, exactly, in fewer steps: math.Trunc is one
// instruction where math.Round is a dozen, and every draw of a national
// simulation goes through here. d = x - trunc(x) is exact and within
// (-1, 1), so trunc(2d) is ±1 just when |d| >= 0.5: no branch on d, which
// a random fraction would mispredict half the time.
func round(x float64) float64 {
	t := math.Trunc(x)
	if d := x - t; d == d { // (NaN for ±Inf)
		t = math.Copysign(t+math.Trunc(d+d), x) // (the sign of a zero: -0.3 rounds to -0)
	}
	return t
}

// UnmarshalYAML reads the notation from a scalar.
func (d *Dist) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return NodeError(n, "want a distribution such as exp(20ms) or uniform(2s, 8s)")
	}
	v, err := ParseDist(n.Value)
	if err != nil {
		return NodeError(n, "%v", err)
	}
	*d = v
	return nil
}

// MarshalYAML writes the canonical notation.
func (d Dist) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalJSON reads the notation from a JSON string.
func (d *Dist) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a distribution string such as \"exp(20ms)\"")
	}
	v, err := ParseDist(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the canonical notation as a JSON string.
func (d Dist) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }
