package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// File is a faults file for `surge chaos proxy`.
type File struct {
	Faults []Rule `yaml:"faults"`
}

// Validate checks the rules (spec.Validator).
func (f *File) Validate(p *spec.Problems) {
	if len(f.Faults) == 0 {
		p.Addf("faults", "at least one fault is required")
	}
	names := map[string]bool{}
	for i, r := range f.Faults {
		path := spec.Join("faults", i)
		if r.Name == "" {
			p.Addf(spec.Join(path, "name"), "required")
		} else if names[r.Name] {
			p.Addf(spec.Join(path, "name"), "fault %q is defined twice: the proxy counts requests by name", r.Name)
		}
		names[r.Name] = true
		if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
			p.Addf(spec.Join(path, "path"), "a path prefix starts with /, have %q (it would match no request)", r.Path)
		}
		if r.After < 0 {
			p.Addf(spec.Join(path, "after"), "must not be negative")
		}
		if r.For < 0 {
			p.Addf(spec.Join(path, "for"), "must not be negative (0: until the proxy stops)")
		}
		r.Params.Check(fault.Proxy, func(field, format string, args ...any) {
			p.Addf(spec.Join(path, field), format, args...)
		})
	}
}

// LoadFile reads and validates a faults file.
func LoadFile(path string) (*File, error) {
	data, err := spec.ReadFile(path, spec.MaxDocument)
	if err != nil {
		return nil, fmt.Errorf("faults: %w", err)
	}
	var f File
	if _, err := spec.Decode(path, data, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Proxy is a reverse proxy to Target that applies the rules in force at
// each request's arrival.
//
// It is a test tool put in front of a service, so it forwards only what a
// client of the service may send: never the service's admin API (paths
// under /admin), unless ForwardAdmin says to. A proxy on the service's own
// host makes every client look local; a service that trusted loopback as an
// identity would be open to the world through it.
type Proxy struct {
	// ForwardAdmin lets requests under /admin through (default: refused,
	// 403).
	ForwardAdmin bool

	rules []Rule
	start time.Time
	now   func() time.Time
	src   *source
	rp    *httputil.ReverseProxy

	mu      sync.Mutex
	counts  map[string]int64 // requests each rule touched (whether or not its draw hit)
	dynamic map[string]Rule  // rules switched on by Enable, in force until Disable
	nextID  int
}

// Enable puts a rule in force now, whatever its window, until Disable.
func (p *Proxy) Enable(r Rule) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	id := fmt.Sprintf("p%d", p.nextID)
	r.After, r.For = 0, 0
	p.dynamic[id] = r
	return id
}

// Disable takes a rule put in force by Enable out; false if it was not.
func (p *Proxy) Disable(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.dynamic[id]
	delete(p.dynamic, id)
	return ok
}

// NewProxy builds a proxy. now defaults to time.Now; the rules' windows
// count from the proxy's creation.
func NewProxy(target *url.URL, rules []Rule, seed uint64, now func() time.Time) (*Proxy, error) {
	if target == nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("chaos proxy: a target URL such as http://127.0.0.1:8080 is required")
	}
	if now == nil {
		now = time.Now
	}
	p := &Proxy{rules: rules, start: now(), now: now, src: &source{rng: rand.New(rand.NewPCG(seed, 0xc4a05))}, counts: map[string]int64{}, dynamic: map[string]Rule{}}
	// Keep connections to the upstream (the default keeps two, so at a
	// concurrency of 50 most requests dialled anew), and bound the wait
	// for its answer: a hanging upstream is a 504, not a client left
	// waiting for ever. An https upstream is spoken to in HTTP/2 when its
	// ALPN offers it; an h2c:// one in HTTP/2 with prior knowledge.
	tr := &http.Transport{Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
		ResponseHeaderTimeout: UpstreamTimeout, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, ForceAttemptHTTP2: true}
	if target.Scheme == "grpcs" || target.Scheme == "wss" {
		up := *target
		up.Scheme, target = "https", &up
	}
	if target.Scheme == "ws" {
		up := *target
		up.Scheme, target = "http", &up // (WebSocket upgrades pass through as HTTP/1.1 upgrades do)
	}
	if target.Scheme == "h2c" || target.Scheme == "grpc" {
		up := *target
		up.Scheme, target = "http", &up
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	p.rp = httputil.NewSingleHostReverseProxy(target)
	p.rp.Transport = tr
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		status, code := http.StatusBadGateway, "upstream_unreachable"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			status, code = http.StatusGatewayTimeout, "upstream_timeout"
		}
		writeProxyError(w, r, status, code, err.Error())
	}
	return p, nil
}

// UpstreamTimeout is how long the proxy waits for the upstream's answer to
// begin, unless SetUpstreamTimeout says otherwise.
const UpstreamTimeout = 30 * time.Second

// SetUpstreamTimeout changes how long the proxy waits for the upstream's
// answer to begin (before it serves).
func (p *Proxy) SetUpstreamTimeout(d time.Duration) {
	p.rp.Transport.(*http.Transport).ResponseHeaderTimeout = d
}

func writeProxyError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if isGRPC(r) { // a call hears a gRPC status, as from a gRPC proxy
		writeGRPCStatus(w, grpcCodeFor(status), "surge chaos proxy: "+code+": "+msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": {"code": %q, "message": %q}}`+"\n", code, "surge chaos proxy: "+msg)
}

// ServeHTTP applies the active faults, then proxies.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.ForwardAdmin && (r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/") || strings.HasPrefix(path.Clean("/"+r.URL.Path), "/admin")) {
		writeProxyError(w, r, http.StatusForbidden, "admin_not_forwarded", "the service's admin API is not forwarded (surge chaos proxy --forward-admin to allow it)")
		return
	}
	var h http.Handler = p.rp
	el := p.now().Sub(p.start)
	rules := p.rules
	p.mu.Lock()
	if len(p.dynamic) > 0 {
		rules = append(rules[:len(rules):len(rules)], slicesSorted(p.dynamic)...)
	}
	p.mu.Unlock()
	for i := len(rules) - 1; i >= 0; i-- { // the first rule is the outermost
		rule := rules[i]
		if el < rule.After || rule.For > 0 && el >= rule.After+rule.For || !strings.HasPrefix(r.URL.Path, rule.Path) {
			continue
		}
		p.mu.Lock()
		p.counts[rule.Name]++
		p.mu.Unlock()
		h = p.fault(rule).Wrap(h)
	}
	h.ServeHTTP(w, r)
}

func (p *Proxy) fault(r Rule) Fault {
	switch r.Kind {
	case fault.Latency:
		return Latency{Delay: *r.Latency, Share: r.Share(), src: p.src}
	case fault.Error:
		return Error{Status: r.Status, Share: r.Share(), src: p.src}
	case fault.Outage:
		return Error{Status: http.StatusServiceUnavailable, Share: 1, src: p.src}
	case fault.Stall:
		until := p.start.Add(r.After + r.For)
		if r.For == 0 {
			until = p.now().Add(24 * time.Hour)
		}
		return Stall{Until: until, Share: r.Share(), src: p.src}
	}
	if r.Kind == fault.Bandwidth {
		return Bandwidth{BytesPerSecond: float64(r.Bandwidth)}
	}
	return Reset{Share: r.Share(), src: p.src}
}

// Touched reports how many requests each rule was in force for.
func (p *Proxy) Touched() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// slicesSorted lists the dynamic rules by id, for a stable order.
func slicesSorted(m map[string]Rule) []Rule {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]Rule, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}
