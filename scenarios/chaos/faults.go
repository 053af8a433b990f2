package chaos

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// Fault wraps a handler with a fault's effect.
type Fault interface {
	Wrap(next http.Handler) http.Handler
}

// Rule is a fault of a faults file: a fault's kind and parameters (package
// fault), a window from the proxy's start, and a scope by path prefix.
type Rule struct {
	Name         string        `yaml:"name"`
	After        time.Duration `yaml:"after"`
	For          time.Duration `yaml:"for"`  // 0: until the proxy stops
	Path         string        `yaml:"path"` // only requests under this path prefix ("": all)
	fault.Params `yaml:",inline"`
}

// source is a seeded random source shared by a proxy's faults.
type source struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *source) hit(p float64) bool {
	if p >= 1 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < p
}

func (s *source) draw(d spec.Dist) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return d.Sample(s.rng)
}

// Latency delays a share of requests by a drawn time before passing them on.
type Latency struct {
	Delay spec.Dist
	Share float64
	src   *source
}

// Wrap implements Fault.
func (f Latency) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.src.hit(f.Share) {
			waitThen(f.src.draw(f.Delay), next, w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Error answers a share of requests with Status instead of passing them on;
// a gRPC call (content-type application/grpc) gets the gRPC status a
// service answering so would send (grpcCodeFor), trailers-only, as
// gRPC's clients read it.
type Error struct {
	Status int
	Share  float64
	src    *source
}

// Wrap implements Fault.
func (f Error) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.src.hit(f.Share) {
			next.ServeHTTP(w, r)
			return
		}
		st := f.Status
		if st == 0 {
			st = http.StatusServiceUnavailable
		}
		if isGRPC(r) {
			writeGRPCStatus(w, grpcCodeFor(st), "surge chaos proxy: injected "+strconv.Itoa(st))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if st == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(st)
		w.Write([]byte(`{"error": {"code": "injected_fault", "message": "surge chaos proxy: injected ` + strconv.Itoa(st) + `"}}` + "\n"))
	})
}

// Stall holds a share of requests until Until, then passes them on.
type Stall struct {
	Until time.Time
	Share float64
	src   *source
}

// Wrap implements Fault.
func (f Stall) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.src.hit(f.Share) {
			waitThen(time.Until(f.Until), next, w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Reset closes a share of connections without answering.
type Reset struct {
	Share float64
	src   *source
}

// Wrap implements Fault.
func (f Reset) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.src.hit(f.Share) {
			next.ServeHTTP(w, r)
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2 or no hijacking: abort the stream
	})
}

// Bandwidth writes answers at most BytesPerSecond, in 1 KiB slices.
type Bandwidth struct {
	BytesPerSecond float64
}

// Wrap implements Fault.
func (f Bandwidth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&throttled{ResponseWriter: w, rate: f.BytesPerSecond, start: time.Now(), ctx: r}, r)
	})
}

type throttled struct {
	http.ResponseWriter
	rate    float64
	start   time.Time
	written int
	ctx     *http.Request
}

func (t *throttled) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := min(len(b), 1024)
		due := t.start.Add(time.Duration(float64(t.written+chunk) / t.rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-t.ctx.Context().Done():
				tm.Stop()
				return n, t.ctx.Context().Err()
			}
		}
		m, err := t.ResponseWriter.Write(b[:chunk])
		n += m
		t.written += m
		if err != nil {
			return n, err
		}
		if f, ok := t.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		b = b[chunk:]
	}
	return n, nil
}

// waitThen serves the request with next after d, unless the client gives up first.
func waitThen(d time.Duration, next http.Handler, w http.ResponseWriter, r *http.Request) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		next.ServeHTTP(w, r)
	case <-r.Context().Done():
	}
}

// isGRPC says a request is a gRPC call.
func isGRPC(r *http.Request) bool {
	return r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
}

// grpcCodeFor is the gRPC code a service that would answer an HTTP status
// sends instead: 503 UNAVAILABLE, 429 RESOURCE_EXHAUSTED, 504
// DEADLINE_EXCEEDED, 501 UNIMPLEMENTED, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 400 INVALID_ARGUMENT, 409 ABORTED, any
// other 4xx FAILED_PRECONDITION, any other 5xx INTERNAL.
func grpcCodeFor(status int) int {
	switch status {
	case 503:
		return 14
	case 429:
		return 8
	case 504:
		return 4
	case 501:
		return 12
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 5
	case 400:
		return 3
	case 409:
		return 10
	}
	if status < 500 {
		return 9
	}
	return 13
}

// writeGRPCStatus answers a call with a status and no message: HTTP 200,
// grpc-status and grpc-message in the headers (a trailers-only answer).
func writeGRPCStatus(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Grpc-Status", strconv.Itoa(code))
	w.Header().Set("Grpc-Message", msg)
	w.WriteHeader(http.StatusOK)
}
