package profile

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// PlatformToken is replaced, in a step's stage name, by the platform of
// the request being served: "relay.{platform}" is relay.kakao for kakao.
const PlatformToken = "{platform}"

// Profile is a service's capacity.
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`

	// Platforms are the client platforms and how each gets its proof.
	Platforms map[string]Platform `yaml:"platforms,omitempty"`
	// Stages are the bounded worker pools, by name.
	Stages map[string]Stage `yaml:"stages"`
	// Routes are, per endpoint, the stages a request visits.
	Routes map[string][]Step `yaml:"routes"`
	// Server is how the service bounds a request of its own accord.
	Server ServerSettings `yaml:"server,omitempty"`
	// Rules are the service's own rules that shape its load beyond its
	// stages: values that expire, per-user limits. Data, so a profile of
	// another service states its own, or none.
	Rules []Rule `yaml:"rules,omitempty"`
	// Calibrated says what a profile surge capacity fitted was fitted
	// from; nil for a profile written by hand.
	Calibrated *Calibration `yaml:"calibrated,omitempty"`

	doc *spec.Doc
}

// Rule is one rule of the service's protocol. An expiry rule (Expires)
// says the values the answer of an endpoint carries are valid for After: a
// request that uses one later is refused with Answer at once (the value
// the scenario's request extracts from that endpoint's answer, such as a
// QR token). A limit rule (Limit) allows Requests requests to an endpoint
// per user in any window of length Per, and refuses the next with Answer.
type Rule struct {
	Name     string        `yaml:"name"`
	Expires  string        `yaml:"expires,omitempty"` // an endpoint
	After    time.Duration `yaml:"after,omitempty"`
	Limit    string        `yaml:"limit,omitempty"` // an endpoint
	Requests int           `yaml:"requests,omitempty"`
	Per      time.Duration `yaml:"per,omitempty"`
	Answer   RuleAnswer    `yaml:"answer"`
}

// RuleAnswer is what the service answers a request a rule refuses: the
// HTTP status and the error code in its body ({"error": {"code": ...}}),
// which a scenario's request may map to an error kind (kinds:).
type RuleAnswer struct {
	Status int    `yaml:"status"`
	Code   string `yaml:"code,omitempty"`
}

// Expiry is the expiry rule of the values an endpoint's answer carries.
func (p *Profile) Expiry(endpoint string) (Rule, bool) {
	for _, r := range p.Rules {
		if r.Expires == endpoint {
			return r, true
		}
	}
	return Rule{}, false
}

// LimitOf is the per-user limit rule of an endpoint.
func (p *Profile) LimitOf(endpoint string) (Rule, bool) {
	for _, r := range p.Rules {
		if r.Limit == endpoint {
			return r, true
		}
	}
	return Rule{}, false
}

// Calibration records what a calibrated profile was fitted from.
type Calibration struct {
	// Target is the service measured; Scenario the mix it was measured with.
	Target   string `yaml:"target,omitempty"`
	Scenario string `yaml:"scenario,omitempty"`
	// At is when (RFC 3339); Steps how many measured steps the fit used.
	At    string `yaml:"at,omitempty"`
	Steps int    `yaml:"steps,omitempty"`
	// From says what the fit read: "stage metrics" (the target exports
	// surge's stage metrics and routes) or "latencies and throughputs".
	From string `yaml:"from,omitempty"`
	// Notes say, per stage, how each figure was found.
	Notes []string `yaml:"notes,omitempty"`
	// Knee is the knee the search found and MeasuredUpTo the highest rate
	// of the scenario's peak mix it played (arrivals/s): the range the
	// profile was fitted in (0: not recorded).
	Knee         float64 `yaml:"knee_arrivals_per_s,omitempty"`
	MeasuredUpTo float64 `yaml:"measured_up_to_arrivals_per_s,omitempty"`
	// PastKneeP95Error and PastKneeErrorGap are the profile's worst errors
	// simulating the steps past the knee: (predicted - measured) /
	// measured p95, and predicted - measured error share.
	PastKneeP95Error float64 `yaml:"past_knee_p95_error,omitempty"`
	PastKneeErrorGap float64 `yaml:"past_knee_error_share_gap,omitempty"`
	// CapacityUncertainty is the relative 95% uncertainty of the capacity
	// fitted (0.07: the service may be 7% slower or faster than the
	// profile says): the sampling error of the successes it was fitted to
	// and how far its simulation of the steps that saturated the service
	// was off, together. surge sim plays a prediction again at both ends
	// (results.Band). 0: not known.
	CapacityUncertainty float64 `yaml:"capacity_uncertainty,omitempty"`
}

// Outside says where a prediction at peak arrivals/s (of the scenario the
// profile was calibrated with) leaves the evidence it was fitted from:
// past the knee, and past the highest rate measured. None for a profile
// written by hand, or within its range.
func (c *Calibration) Outside(scenario string, peak float64) []string {
	if c == nil || c.Knee <= 0 || peak <= 0 {
		return nil
	}
	var out []string
	if scenario != c.Scenario {
		out = append(out, fmt.Sprintf("the profile was calibrated with scenario %s, not %s: its range is that mix's", c.Scenario, scenario))
	}
	if peak > c.Knee {
		note := fmt.Sprintf("the peak, %.3g arrivals/s, is %.2fx the knee the calibration measured (%.3g/s)", peak, peak/c.Knee, c.Knee)
		if c.PastKneeP95Error != 0 || c.PastKneeErrorGap != 0 {
			note += fmt.Sprintf("; past the knee the model's p95 was off by up to %+.0f%% and its error share by %+.1f points", 100*c.PastKneeP95Error, 100*c.PastKneeErrorGap)
		}
		out = append(out, note)
	}
	if c.MeasuredUpTo > 0 && peak > c.MeasuredUpTo {
		out = append(out, fmt.Sprintf("the peak is past the highest rate measured (%.3g/s): no step saw the service there, the prediction is the model's alone", c.MeasuredUpTo))
	}
	return out
}

// Proof modes of a platform.
const (
	ProofFetch  = "fetch"  // fetch proof from the certificate backend on every QR (naver-like)
	ProofWallet = "wallet" // use the credential cached in the app's wallet (kakao-like)
)

// Platform is one client platform (an app that relays to the backend).
type Platform struct {
	Proof string `yaml:"proof"`
}

// Full-queue policies of a stage.
const (
	WhenFullShed = "shed" // reject at once with 503 and Retry-After
	WhenFullWait = "wait" // wait for a place in the queue, up to queue_timeout
)

// Stage is a bounded pool of workers in front of a bounded FIFO queue.
// A request that finds every worker busy joins the queue; if the queue
// holds Queue requests already, the stage sheds it (when_full: shed) or it
// waits for room (when_full: wait); either way it gives up with a 503 after
// QueueTimeout without a worker (0: no limit but the request's own deadline).
type Stage struct {
	Workers      int           `yaml:"workers"`
	Queue        int           `yaml:"queue"`
	WhenFull     string        `yaml:"when_full,omitempty"`
	QueueTimeout time.Duration `yaml:"queue_timeout,omitempty"`
	Service      spec.Dist     `yaml:"service"`
	RetryAfter   time.Duration `yaml:"retry_after,omitempty"`
	// RateLimit admits at most this many visits a second (a token bucket
	// of Burst tokens, TokenBucket); a visit past it is refused at once
	// with 429 and Retry-After, before it queues or takes a worker, as a
	// rate limiter in front of a service answers (0: no limit).
	RateLimit float64 `yaml:"rate_limit,omitempty"`
	Burst     int     `yaml:"burst,omitempty"`
}

// Bucket is the stage's rate limit as a token bucket (admitting everything
// when it has none); a burst not given is a tenth of a second's rate.
func (s Stage) Bucket() TokenBucket {
	burst := s.Burst
	if burst == 0 {
		burst = int(math.Ceil(s.RateLimit / 10))
	}
	return NewTokenBucket(s.RateLimit, burst)
}

// Step is one stage visit of a route.
type Step struct {
	Stage string `yaml:"stage"`
	// Work names the real operation done in this visit (e.g. "sign"); the
	// reference server binds names to code, the simulator ignores them.
	Work  string `yaml:"work,omitempty"`
	Async bool   `yaml:"async,omitempty"`
	Calls []Step `yaml:"calls,omitempty"`
	// Service is this visit's own service time at the stage, for a stage
	// several requests share whose work there differs (a web pool where
	// one request renders a page and another only reads a cache); nil:
	// the stage's.
	Service *spec.Dist `yaml:"service,omitempty"`
	// Share is the share of the requests passing here that make this
	// visit (and its calls); the rest go on without it: a cache's misses
	// visiting the store behind it. nil: every request.
	Share *spec.Percent `yaml:"share,omitempty"`
}

// Visits is the share of the requests passing a step that make its
// visit: its Share, or 1.
func (s Step) Visits() float64 {
	if s.Share == nil {
		return 1
	}
	return float64(*s.Share)
}

// ServerSettings are how the service bounds a request of its own accord.
type ServerSettings struct {
	// RequestTimeout is how long the service works on a request before it
	// answers 504 itself and abandons the work (0: no limit but the
	// client's).
	RequestTimeout time.Duration `yaml:"request_timeout,omitempty"`
	// TimeoutStatus is what the service answers when its request timeout
	// fires: 504 (the default, a gateway's answer) or 503 (an overloaded
	// service's, which clients retry as a shed).
	TimeoutStatus int `yaml:"timeout_status,omitempty"`
	// Abandoned is what the service does with the work of a request whose
	// client has gone (timed out, disconnected): cancel (the default) frees
	// the workers and queue places it holds; finish carries it out to the
	// end for nobody, as a service that never looks at its client's
	// connection does. Finished orphaned work is what keeps a service
	// collapsed after a surge has passed (a metastable failure): the
	// clients' retries arrive behind work for clients long gone.
	Abandoned string `yaml:"abandoned,omitempty"`
}

// TimeoutAnswer is the status the service answers when its request
// timeout fires.
func (s ServerSettings) TimeoutAnswer() int {
	if s.TimeoutStatus == 0 {
		return 504
	}
	return s.TimeoutStatus
}

// What a service does with abandoned work (ServerSettings.Abandoned).
const (
	AbandonedCancel = "cancel"
	AbandonedFinish = "finish"
)

// Load reads and validates a profile from a YAML file.
func Load(path string) (*Profile, error) {
	data, err := spec.ReadFile(path, spec.MaxDocument)
	if err != nil {
		return nil, fmt.Errorf("capacity profile: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and validates a profile; file names the source in errors.
func Parse(file string, data []byte) (*Profile, error) {
	var p Profile
	doc, err := spec.Decode(file, data, &p)
	if err != nil {
		return nil, err
	}
	p.doc = doc
	return &p, nil
}

// Errorf returns an error located at a key path of the profile's source,
// such as "reference-server/profiles/as-built.yaml:51: routes.qr.fetch: ...".
func (p *Profile) Errorf(path, format string, args ...any) error {
	if p.doc == nil {
		return &spec.Error{File: "profile " + p.Name, Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	return p.doc.Errorf(path, format, args...)
}

// StageName resolves a step's stage name for a platform.
func StageName(name, platform string) string {
	return strings.ReplaceAll(name, PlatformToken, platform)
}

// RouteName is the route an endpoint takes for a platform: the endpoint
// itself, or endpoint.fetch / endpoint.wallet when the profile splits that
// endpoint by the platform's proof mode (as the QR endpoint is split).
func (p *Profile) RouteName(endpoint, platform string) string {
	if pl, ok := p.Platforms[platform]; ok {
		if name := endpoint + "." + pl.Proof; p.Routes[name] != nil {
			return name
		}
	}
	return endpoint
}

// Route returns the steps of an endpoint for a platform (see RouteName).
func (p *Profile) Route(endpoint, platform string) ([]Step, bool) {
	steps, ok := p.Routes[p.RouteName(endpoint, platform)]
	return steps, ok
}

// StageNames lists every stage, sorted.
func (p *Profile) StageNames() []string {
	names := make([]string, 0, len(p.Stages))
	for n := range p.Stages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PlatformNames lists every platform, sorted.
func (p *Profile) PlatformNames() []string {
	names := make([]string, 0, len(p.Platforms))
	for n := range p.Platforms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Walk calls fn for every step of a route, depth first, with its key path
// below routes.<name> and the names of the stages already held by its
// callers.
func Walk(steps []Step, path string, fn func(s Step, path string, held []string)) {
	walk(steps, path, nil, fn)
}

func walk(steps []Step, path string, held []string, fn func(Step, string, []string)) {
	for i, s := range steps {
		p := spec.Join(path, i)
		fn(s, p, held)
		walk(s.Calls, spec.Join(p, "calls"), append(held[:len(held):len(held)], s.Stage), fn)
	}
}

// Calls is the profile's call graph: for each stage, the stages its
// visits call (on any route, for any platform) while they hold its
// worker, sorted. A report uses it to tell a saturated callee from the
// callers that saturate because they wait on it.
func (p *Profile) Calls() map[string][]string {
	set := map[string]map[string]bool{}
	for name, steps := range p.Routes {
		for _, pl := range p.platformsOrNone() {
			if !p.takes(name, pl) {
				continue
			}
			Walk(steps, "", func(s Step, _ string, held []string) {
				if len(held) == 0 {
					return
				}
				from, to := StageName(held[len(held)-1], pl), StageName(s.Stage, pl)
				if set[from] == nil {
					set[from] = map[string]bool{}
				}
				set[from][to] = true
			})
		}
	}
	out := map[string][]string{}
	for from, tos := range set {
		for to := range tos {
			out[from] = append(out[from], to)
		}
		sort.Strings(out[from])
	}
	return out
}

// takes says whether a platform's requests take route: a route split by
// proof mode (qr.fetch) is taken by the platforms of that mode only.
func (p *Profile) takes(route, platform string) bool {
	for _, mode := range []string{ProofFetch, ProofWallet} {
		if base, ok := strings.CutSuffix(route, "."+mode); ok {
			return p.RouteName(base, platform) == route
		}
	}
	return true
}

// platformsOrNone lists the platforms, or one empty name for a profile
// without any (its stage names have no {platform} to expand).
func (p *Profile) platformsOrNone() []string {
	if len(p.Platforms) == 0 {
		return []string{""}
	}
	return p.PlatformNames()
}

// Schema is a JSON Schema (draft 2020-12) of the capacity profile format,
// for editors (the shipped profiles name scenarios/capacity.schema.json in
// their first line).
func Schema() map[string]any {
	return spec.Schema(Profile{}, "surge capacity profile", nil, spec.Enums{
		"Stage.when_full": {Values: []string{WhenFullShed, WhenFullWait}},
		"Platform.proof":  {Values: []string{ProofFetch, ProofWallet}},
	})
}

// WithCapacity is p with its capacity times f: every service time (a
// stage's and a visit's own) divided by f and every rate limit times f;
// workers, queues and timeouts as they are. f > 0.
func (p *Profile) WithCapacity(f float64) *Profile {
	out := *p
	out.Stages = make(map[string]Stage, len(p.Stages))
	for name, st := range p.Stages {
		st.Service = st.Service.Scaled(1 / f)
		st.RateLimit *= f
		if st.Burst > 0 {
			st.Burst = max(1, int(math.Round(float64(st.Burst)*f)))
		}
		out.Stages[name] = st
	}
	out.Routes = make(map[string][]Step, len(p.Routes))
	for name, steps := range p.Routes {
		out.Routes[name] = scaledSteps(steps, f)
	}
	return &out
}

func scaledSteps(steps []Step, f float64) []Step {
	out := make([]Step, len(steps))
	for i, s := range steps {
		if s.Service != nil {
			d := s.Service.Scaled(1 / f)
			s.Service = &d
		}
		if s.Calls != nil {
			s.Calls = scaledSteps(s.Calls, f)
		}
		out[i] = s
	}
	return out
}
