package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Percent is a share written with its sign, "35%" or "2.5%"; the value is the
// fraction (0.35).
type Percent float64

// ParsePercent reads "35%".
func ParsePercent(s string) (Percent, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%q: write percentages with their sign, e.g. 35%%", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	return Percent(v / 100), nil
}

func (p Percent) String() string {
	return strconv.FormatFloat(math.Round(float64(p)*100*1e6)/1e6, 'f', -1, 64) + "%"
}

// UnmarshalYAML reads the notation.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error { return Scalar(n, ParsePercent, p) }

// MarshalYAML writes the notation.
func (p Percent) MarshalYAML() (any, error) { return p.String(), nil }

// Fraction is a scale such as "1/50", "1/10" or "1".
type Fraction float64

// ParseFraction reads "1/50", "0.02" or "1".
func ParseFraction(s string) (Fraction, error) {
	s = strings.TrimSpace(s)
	if num, den, ok := strings.Cut(s, "/"); ok {
		n, err1 := strconv.ParseFloat(strings.TrimSpace(num), 64)
		d, err2 := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err1 != nil || err2 != nil || d == 0 {
			return 0, fmt.Errorf("%q is not a fraction such as 1/50", s)
		}
		return Fraction(n / d), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a fraction such as 1/50", s)
	}
	return Fraction(v), nil
}

func (f Fraction) String() string {
	if f > 0 && f < 1 {
		if inv := 1 / float64(f); math.Abs(inv-math.Round(inv)) < 1e-9 {
			return "1/" + strconv.FormatFloat(math.Round(inv), 'f', -1, 64)
		}
	}
	return strconv.FormatFloat(float64(f), 'f', -1, 64)
}

// UnmarshalYAML reads the notation.
func (f *Fraction) UnmarshalYAML(n *yaml.Node) error { return Scalar(n, ParseFraction, f) }

// MarshalYAML writes the notation.
func (f Fraction) MarshalYAML() (any, error) { return f.String(), nil }

// Count is a number of people or requests: 1500, "12k", "4.2M".
type Count float64

// ParseCount reads 1500, 12k or 4.2M.
func ParseCount(s string) (Count, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a count such as 1500, 12k or 4.2M", s)
	}
	return Count(v * mult), nil
}

func (c Count) String() string { return strconv.FormatFloat(float64(c), 'f', -1, 64) }

// UnmarshalYAML reads the notation.
func (c *Count) UnmarshalYAML(n *yaml.Node) error { return Scalar(n, ParseCount, c) }

// Rate is events per second, written with its period: "50/s", "3000/min", "2k/h".
type Rate float64

// ParseRate reads "50/s", "3000/min" or "2k/h".
func ParseRate(s string) (Rate, error) {
	num, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("%q: write rates with their period, e.g. 50/s or 3000/min", s)
	}
	c, err := ParseCount(num)
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	var d time.Duration
	switch strings.TrimSpace(per) {
	case "s":
		d = time.Second
	case "min", "m":
		d = time.Minute
	case "h":
		d = time.Hour
	default:
		return 0, fmt.Errorf("rate %q: the period must be s, min or h", s)
	}
	return Rate(float64(c) / d.Seconds()), nil
}

func (r Rate) String() string { return strconv.FormatFloat(float64(r), 'f', -1, 64) + "/s" }

// UnmarshalYAML reads the notation.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error { return Scalar(n, ParseRate, r) }

// Clock is a time of day on the scenario's clock, "11:45" or "11:45:30",
// held as the time since midnight.
type Clock time.Duration

// ParseClock reads "11:45" or "11:45:30".
func ParseClock(s string) (Clock, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("%q is not a time of day such as 11:45", s)
	}
	limits := []int{24, 60, 60}
	var d time.Duration
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v >= limits[i] || len(p) != 2 && i > 0 {
			return 0, fmt.Errorf("%q is not a time of day such as 11:45", s)
		}
		d += time.Duration(v) * []time.Duration{time.Hour, time.Minute, time.Second}[i]
	}
	return Clock(d), nil
}

func (c Clock) String() string {
	d := time.Duration(c)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}

// UnmarshalYAML reads the notation.
func (c *Clock) UnmarshalYAML(n *yaml.Node) error { return Scalar(n, ParseClock, c) }

// MarshalYAML writes the notation.
func (c Clock) MarshalYAML() (any, error) { return c.String(), nil }

// Scalar decodes a scalar node with parse, reporting at the node.
func Scalar[T any](n *yaml.Node, parse func(string) (T, error), out *T) error {
	if n.Kind != yaml.ScalarNode {
		return NodeError(n, "want a single value, not a list or mapping")
	}
	v, err := parse(n.Value)
	if err != nil {
		return NodeError(n, "%v", err)
	}
	*out = v
	return nil
}
