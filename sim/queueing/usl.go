package queueing

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/optimize"
)

// USL is Gunther's Universal Scalability Law:
//
//	X(N) = lambda*N / (1 + sigma*(N-1) + kappa*N*(N-1))
//
// sigma is contention (serialisation), kappa coherency (crosstalk), lambda
// the throughput of one unit of load. With kappa > 0 throughput peaks at
// N* = sqrt((1 - sigma)/kappa) and falls beyond it.
type USL struct {
	Sigma  float64 `json:"sigma"`
	Kappa  float64 `json:"kappa"`
	Lambda float64 `json:"lambda"`
}

// Throughput is X(n).
func (u USL) Throughput(n float64) float64 {
	return u.Lambda * n / (1 + u.Sigma*(n-1) + u.Kappa*n*(n-1))
}

// Peak is the load of greatest throughput, N* = sqrt((1-sigma)/kappa);
// false when kappa is 0 (throughput only rises towards lambda/sigma).
func (u USL) Peak() (float64, bool) {
	if u.Kappa <= 0 {
		return 0, false
	}
	return math.Sqrt((1 - u.Sigma) / u.Kappa), true
}

// Limit is the most throughput the system gives: X(N*) with a peak,
// lambda/sigma without one, +Inf when it scales linearly.
func (u USL) Limit() float64 {
	if n, ok := u.Peak(); ok {
		return u.Throughput(n)
	}
	if u.Sigma > 0 {
		return u.Lambda / u.Sigma
	}
	return math.Inf(1)
}

// Solve is the least whole load whose throughput reaches x; false if no load does.
func (u USL) Solve(x float64) (int, bool) {
	if x > u.Limit() || u.Lambda <= 0 {
		return 0, false
	}
	hi := 1.0
	for u.Throughput(hi) < x {
		if n, ok := u.Peak(); ok && hi > n {
			return 0, false
		}
		hi *= 2
		if hi > 1e15 {
			return 0, false
		}
	}
	lo := hi / 2
	if hi == 1 {
		lo = 0
	}
	for hi-lo > 0.5 { // X rises up to the peak, so bisection finds the first crossing
		mid := (lo + hi) / 2
		if u.Throughput(mid) >= x {
			hi = mid
		} else {
			lo = mid
		}
	}
	n := int(math.Ceil(lo))
	for u.Throughput(float64(n)) < x {
		n++
	}
	return max(n, 1), true
}

// Point is one measurement: a load and the throughput at it.
type Point struct{ Load, Throughput float64 }

// Fit is a USL fitted to points.
type Fit struct {
	USL
	Method    string    `json:"method"`
	RSS       float64   `json:"rss"`
	Residuals []float64 `json:"residuals"`
}

// FitUSL fits sigma in [0, 1], kappa >= 0, lambda > 0 to the points by
// least squares on throughput: Nelder-Mead (gonum/optimize) over the
// bounded transform sigma = sin^2(u), kappa = v^2, lambda = w^2, from several
// starts; the best minimum wins.
func FitUSL(pts []Point) (Fit, error) {
	if len(pts) < 3 {
		return Fit{}, fmt.Errorf("queueing: a USL fit needs at least 3 points, have %d", len(pts))
	}
	lam0 := 0.0
	for _, p := range pts {
		if p.Load <= 0 || p.Throughput < 0 {
			return Fit{}, fmt.Errorf("queueing: loads must be positive and throughputs not negative (have %v, %v)", p.Load, p.Throughput)
		}
		lam0 = max(lam0, p.Throughput/p.Load)
	}
	model := func(x []float64) USL {
		s := math.Sin(x[0])
		return USL{Sigma: s * s, Kappa: x[1] * x[1], Lambda: x[2] * x[2]}
	}
	rss := func(x []float64) float64 {
		u := model(x)
		var sum float64
		for _, p := range pts {
			r := p.Throughput - u.Throughput(p.Load)
			sum += r * r
		}
		return sum
	}
	best := Fit{RSS: math.Inf(1)}
	for _, start := range [][3]float64{{0.1, 0.01, 1}, {0.5, 0.001, 1}, {0.02, 0.0001, 1.2}, {0.3, 0.1, 0.8}} {
		x0 := []float64{math.Asin(math.Sqrt(start[0])), math.Sqrt(start[1]), math.Sqrt(lam0 * start[2])}
		res, err := optimize.Minimize(optimize.Problem{Func: rss}, x0,
			&optimize.Settings{MajorIterations: 20000, Converger: &optimize.FunctionConverge{Absolute: 1e-12, Iterations: 200}},
			&optimize.NelderMead{})
		if err != nil && res == nil {
			continue
		}
		if res.F < best.RSS {
			best = Fit{USL: model(res.X), RSS: res.F}
		}
	}
	if math.IsInf(best.RSS, 1) {
		return Fit{}, errors.New("queueing: the USL fit did not converge")
	}
	best.Method = "least squares on throughput, Nelder-Mead (gonum/optimize), sigma in [0,1], kappa >= 0, lambda > 0 by transform, best of 4 starts"
	for _, p := range pts {
		best.Residuals = append(best.Residuals, p.Throughput-best.Throughput(p.Load))
	}
	return best, nil
}

// ReadPoints reads a CSV with a header and the columns load,throughput;
// errors name the line and the cell.
func ReadPoints(r io.Reader) ([]Point, error) {
	rows, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("empty CSV: want a header load,throughput and at least 3 rows")
	}
	head := strings.ToLower(strings.Join(rows[0], ","))
	if strings.ReplaceAll(head, " ", "") != "load,throughput" {
		return nil, fmt.Errorf("line 1: want the header load,throughput, have %q", strings.Join(rows[0], ","))
	}
	var pts []Point
	for i, row := range rows[1:] {
		if len(row) != 2 {
			return nil, fmt.Errorf("line %d: want 2 cells, have %d", i+2, len(row))
		}
		var v [2]float64
		for j, cell := range row {
			if v[j], err = strconv.ParseFloat(strings.TrimSpace(cell), 64); err != nil || math.IsNaN(v[j]) || math.IsInf(v[j], 0) {
				return nil, fmt.Errorf("line %d: %s %q is not a number", i+2, []string{"load", "throughput"}[j], cell)
			}
		}
		pts = append(pts, Point{Load: v[0], Throughput: v[1]})
	}
	if len(pts) < 3 {
		return nil, fmt.Errorf("a USL fit needs at least 3 points, the CSV has %d", len(pts))
	}
	return pts, nil
}
