package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// Scenario is one surge: a window of arrivals, who arrives and what they
// do, how they behave when failed, and what must hold.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Target is the service under test; omitted, the embedded reference server.
	Target Target `yaml:"target"`
	// Scale multiplies every national figure (volumes, rates): 1/50 is laptop scale.
	Scale Fraction `yaml:"scale"`
	// Compression plays the window faster outside its peak (rates kept, counts shrink).
	Compression *Compression `yaml:"compression"`
	// Periods name stretches of the clock (lunch, dinner), for come_back
	// and for clauses judged at one.
	Periods  map[string]Span `yaml:"periods" max:"1000"`
	Arrivals Arrivals        `yaml:"arrivals"`
	// Extra are arrival streams beside the main one (e.g. issuance from office desks).
	Extra []Stream `yaml:"extra_arrivals" max:"1000"`
	// Platforms are the shares of users per client platform.
	Platforms map[string]Percent `yaml:"platforms" max:"1000"`
	Cohorts   []Cohort           `yaml:"cohorts" max:"1000"`
	Journeys  map[string][]Step  `yaml:"journeys" max:"100000" maxeach:"1000"`
	// Requests are HTTP request templates by name, added to (or replacing
	// entries of) the reference server's built-in ones (ReferenceRequests).
	Requests map[string]Request `yaml:"requests" max:"100000"`
	// Data are files of rows (CSV with a header, or JSON lines) bound to
	// users: ${name.column} in a template is the user's row's column.
	Data      map[string]Feeder `yaml:"data" max:"1000"`
	Behaviour Behaviour         `yaml:"behaviour"`
	// Faults switch on and off on the scenario's clock.
	Faults []Fault  `yaml:"faults" max:"10000"`
	SLO    []Clause `yaml:"slo" max:"1000"`
	Gate   Gate     `yaml:"gate"`
	Safety *Safety  `yaml:"safety"`

	doc *spec.Doc
	// giveUp is Behaviour.GiveUp, cumulative in giveUpOrder, set by Parse;
	// nil: the walker reads the map.
	giveUp []giveUpShare
}

// Target names the service under test.
type Target struct {
	// URL of the service; empty: start the reference server in-process on loopback.
	URL string `yaml:"url"`
	// Profile is the capacity profile: the reference server's (as-built, fixed,
	// or a file) when URL is empty, else the one sim and plan use for the service.
	Profile string `yaml:"profile"`
	// Via "proxy" puts surge's chaos proxy on loopback in front of URL and
	// injects the scenario's service faults there (stage "*" only: a proxy
	// sees requests, not stages), for a service with no fault API of its own.
	Via string `yaml:"via"`
	// TLS is the client's certificate (mutual TLS) and the CA that signed
	// the service's, files relative to the scenario file.
	TLS *TLS `yaml:"tls"`
	// Protocol pins an https:// target to h2 or http/1.1; empty: the one
	// the server picks by ALPN, h2 preferred. (An h2c:// URL is HTTP/2
	// with prior knowledge; an http:// one HTTP/1.1.) With no URL, h2
	// speaks h2c to the embedded reference server.
	Protocol string `yaml:"protocol"`
	// Protos are the .proto files that define the gRPC methods the
	// scenario calls (relative to the scenario file); none: the server's
	// reflection service describes them when the run starts.
	Protos []string `yaml:"protos" max:"1000"`
}

// TLS names the files of a client certificate and a CA, in PEM.
type TLS struct {
	Cert string `yaml:"cert"` // the client's certificate chain
	Key  string `yaml:"key"`  // its private key (the file is read at run time, never copied)
	CA   string `yaml:"ca"`   // the CA of the service's certificate (default: the system's roots)
}

// Feeder is a data file bound to users, with the policy that gives each
// user its row.
type Feeder struct {
	File string `yaml:"file"` // relative to the scenario file
	// Format is csv (a header row naming the columns) or jsonl (one JSON
	// object a line); default: from the file's extension.
	Format string `yaml:"format"`
	// Policy is once (each row to one user: the run needs a row per user,
	// across every shard), cycle (row n modulo the rows) or random (a row
	// drawn with the run's seed).
	Policy string `yaml:"policy"`
}

// Feeder policies.
const (
	PolicyOnce   = "once"
	PolicyCycle  = "cycle"
	PolicyRandom = "random"
)

// ViaProxy is the Target.Via that puts the chaos proxy in front of the service.
const ViaProxy = "proxy"

// Compression plays the buckets outside Realtime for 1/Factor of their
// duration at their real rates, and the Realtime span (if any) at 1:1:
// rates are kept and only counts shrink, so queueing and retry dynamics
// stay comparable (scenarios/SOURCES.md §3.0, "Laptop scale").
type Compression struct {
	Factor float64 `yaml:"factor"`
	// Realtime is the span played at 1:1, or several (the peaks of a day).
	Realtime Spans `yaml:"realtime"`
}

// Span is a stretch of the scenario's clock, [From, To).
type Span struct {
	From Clock `yaml:"from"`
	To   Clock `yaml:"to"`
}

// Arrival processes.
const (
	ProcessPoisson = "poisson" // exponential gaps at the curve's rate
	ProcessUniform = "uniform" // evenly spaced at the curve's rate (deterministic)
)

// Arrivals is the main arrival stream: Total people over the window,
// spread over buckets of length Bucket by Profile.
type Arrivals struct {
	Start   Clock         `yaml:"start"`
	Bucket  time.Duration `yaml:"bucket"`
	Total   Count         `yaml:"total"`
	Profile []Percent     `yaml:"profile" max:"100000"` // a day in 1 s buckets is 86,400
	Process string        `yaml:"process"`
	Burst   *Burst        `yaml:"burst"`
	Party   *Party        `yaml:"party"`
}

// Burst modulates the rate inside each bucket, keeping its mean:
// rate(t) = bucketRate * (1 + (Factor-1) * sin(2 pi t / Period)), so the
// busiest minute runs at about Factor times the bucket's mean.
type Burst struct {
	Factor float64       `yaml:"factor"`
	Period time.Duration `yaml:"period"`
}

// Party makes arrivals come in groups (batch Poisson): a party of
// 1 + Poisson(Mean-1) people, at most Max, arrives together; the party
// rate is the people rate / Mean.
type Party struct {
	Mean float64 `yaml:"mean"`
	Max  int     `yaml:"max"`
}

// Stream is an extra arrival stream at a constant (national) rate.
type Stream struct {
	Name      string             `yaml:"name"`
	Rate      Rate               `yaml:"rate"`
	Span      Span               `yaml:"during"`
	Journey   string             `yaml:"journey"`
	Platforms map[string]Percent `yaml:"platforms" max:"1000"`
}

// Cohort is a kind of user with its share of arrivals and its journey.
// Share is constant; Shares changes it over the window (each entry holds
// from its From until the next).
type Cohort struct {
	Name      string             `yaml:"name"`
	Share     *Percent           `yaml:"share"`
	Shares    []TimedShare       `yaml:"shares" max:"100000"`
	Journey   string             `yaml:"journey"`
	Platforms map[string]Percent `yaml:"platforms" max:"1000"`
}

// TimedShare is a cohort's share from a time on.
type TimedShare struct {
	From  Clock   `yaml:"from"`
	Share Percent `yaml:"share"`
}

// Step is one step of a journey: a request, or a think time.
type Step struct {
	Request string     `yaml:"request"`
	Think   *spec.Dist `yaml:"think"`
	// Timeout overrides behaviour.timeout (and behaviour.timeouts) for this step.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts overrides behaviour.retry.attempts for this step.
	Attempts int `yaml:"attempts"`
	// RestartFrom sends the user back to an earlier request of the journey
	// when this step fails with the given error kind (e.g. expired_qr: qr).
	RestartFrom map[string]string `yaml:"restart_from"`
	// bit is the request's bit in a walker's set of requests wanted, set
	// by Parse for the first 64 request names; 0: the walker compares names.
	bit uint64
	// restart is RestartFrom with the index in the journey of each
	// target, set by Parse; nil with a RestartFrom: the walker reads the map.
	restart []restartRule
}

type restartRule struct {
	kind string
	to   int32
}

// Behaviour is how users react to a slow or failing service.
type Behaviour struct {
	// Timeout is how long a user waits for one request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// Timeouts override Timeout per request name.
	Timeouts map[string]time.Duration `yaml:"timeouts"`
	Retry    Retry                    `yaml:"retry"`
	// Patience is a user's total time budget for the journey.
	Patience *spec.Dist `yaml:"patience"`
	// GiveUp is what a user does once a step has failed Attempts times.
	GiveUp map[string]Percent `yaml:"give_up"`
	// SwitchTo is the platform a user switches to, by current platform ("*": any other).
	SwitchTo map[string]string `yaml:"switch_to"`
	// KeepTryingAfter is the pause before a user who keeps trying starts again.
	KeepTryingAfter *spec.Dist `yaml:"keep_trying_after"`
	// ReinstallTime is how long a reinstall takes (no server load); the new
	// install has no credential, so the user must issue one again.
	ReinstallTime *spec.Dist `yaml:"reinstall_time"`
	// ReinstallJourney is the journey a user runs after a reinstall (the
	// first-time one); required when give_up has reinstall.
	ReinstallJourney string `yaml:"reinstall_journey"`
	// ComeBack is when a user who gives up with come_back returns (day.go).
	ComeBack *ComeBack `yaml:"come_back"`
	// Cookies keeps a cookie jar per user: the cookies answers set are sent
	// back with the user's later requests.
	Cookies bool `yaml:"cookies"`
}

// Give-up decisions.
const (
	GiveUpSwitch     = "switch_platform"
	GiveUpManual     = "manual"
	GiveUpKeepTrying = "keep_trying"
	GiveUpReinstall  = "reinstall"
	GiveUpAbandon    = "abandon"
	GiveUpComeBack   = "come_back" // leaves, and comes back later in the run (Behaviour.ComeBack)
)

// Retry is the per-step retry policy.
type Retry struct {
	// Attempts per step before a give-up decision (default 1: no retry).
	Attempts int `yaml:"attempts"`
	// Backoff is the pause before each retry (a re-tap).
	Backoff spec.Dist `yaml:"backoff"`
	// On lists the error kinds that are retried (default: all).
	On []string `yaml:"on"`
}

// Fault is a fault on the scenario's timeline, from At for For. With a
// Stage (a stage of the capacity profile, or "*" for all) it acts in the
// service; with Platform and/or Request instead it acts on the client side,
// in the load generator (a platform's own network failing): latency delays
// the send, error and outage fail it at once (as refused), stall holds it
// until the fault ends.
type Fault struct {
	Name     string        `yaml:"name"`
	At       Clock         `yaml:"at"`
	For      time.Duration `yaml:"for"`
	Stage    string        `yaml:"stage"`
	Platform string        `yaml:"platform"`
	Request  string        `yaml:"request"`
	// Params are the kind and what it takes (package fault: one type for
	// the scenario, the proxy and the admin API).
	fault.Params `yaml:",inline"`
	Size         Count `yaml:"size"` // bandwidth: the answer size sim assumes (default 1k)
}

// AssumedSize is the answer size the simulator charges a bandwidth fault for.
func (f Fault) AssumedSize() float64 {
	if f.Size > 0 {
		return float64(f.Size)
	}
	return 1024
}

// ClientSide says the fault acts in the load generator, not the service.
func (f Fault) ClientSide() bool { return f.Stage == "" }

// Applies says whether a client-side fault hits a request of a platform.
func (f Fault) Applies(platform, request string) bool {
	return (f.Platform == "" || f.Platform == platform) && (f.Request == "" || f.Request == request)
}

// Gate is what the go/no-go decision needs beyond the SLO clauses.
type Gate struct {
	// Headroom is the least capacity over the forecast peak (knee / peak), e.g. 1.5.
	Headroom float64 `yaml:"headroom"`
	// RecoveryHold is how long the SLO must hold again after a fault ends
	// for the system to count as recovered (default 30s).
	RecoveryHold time.Duration `yaml:"recovery_hold"`
}

// Safety stops a run early, so a load tool does not keep hammering a
// system that is already down: when Clause holds for For (over at least
// MinRequests requests), arrivals stop and the run ends as aborted.
type Safety struct {
	AbortIf     Clause        `yaml:"abort_if"`
	For         time.Duration `yaml:"for"`
	MinRequests int           `yaml:"min_requests"`
}

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := spec.ReadFile(path, spec.MaxDocument)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse reads and validates a scenario; file names the source in errors.
func Parse(file string, data []byte) (*Scenario, error) {
	var s Scenario
	doc, err := spec.Decode(file, data, &s)
	if err != nil {
		return nil, err
	}
	s.doc = doc
	s.numberRequests()
	s.tabulate()
	return &s, nil
}

// tabulate works out once what a walker would otherwise look up in maps
// for every failed answer (tens of millions in a national simulation):
// each step's restart rules with their targets' indexes, and the give-up
// decisions' cumulative shares.
func (s *Scenario) tabulate() {
	for _, steps := range s.Journeys {
		for i := range steps {
			st := &steps[i]
			if len(st.RestartFrom) == 0 {
				continue
			}
			st.restart = []restartRule{}
			for _, kind := range spec.SortedKeys(st.RestartFrom) {
				to := st.RestartFrom[kind]
				j := slices.IndexFunc(steps[:i], func(s Step) bool { return s.Request == to })
				st.restart = append(st.restart, restartRule{kind, int32(j)})
			}
		}
	}
	g := s.Behaviour.GiveUp
	if len(g) == 0 {
		return
	}
	acc := 0.0
	for _, k := range giveUpOrder {
		if share, ok := g[k]; ok {
			acc += float64(share)
			s.giveUp = append(s.giveUp, giveUpShare{acc, k})
		}
	}
}

// giveUpShare is a give-up decision and the shares up to and including its own.
type giveUpShare struct {
	upTo     float64
	decision string
}

// numberRequests gives each request name its journeys' steps send a bit
// of its own (the first 64 names, in the order of sorted journeys).
func (s *Scenario) numberRequests() {
	bits := map[string]uint64{}
	for _, name := range spec.SortedKeys(s.Journeys) {
		steps := s.Journeys[name]
		for i := range steps {
			r := steps[i].Request
			if r == "" {
				continue
			}
			b, ok := bits[r]
			if !ok && len(bits) < 64 {
				b = 1 << len(bits)
				bits[r] = b
			}
			steps[i].bit = b
		}
	}
}

// Errorf returns an error located at a key path of the scenario's source.
func (s *Scenario) Errorf(path, format string, args ...any) error {
	if s.doc == nil {
		return &spec.Error{File: "scenario " + s.Name, Path: path, Msg: fmt.Sprintf(format, args...)}
	}
	return s.doc.Errorf(path, format, args...)
}

// Window is the scenario's span on its own clock.
func (s *Scenario) Window() Span {
	a := s.Arrivals
	return Span{From: a.Start, To: a.Start + Clock(time.Duration(len(a.Profile))*a.Bucket)}
}

// Request returns the template for a request name: the scenario's own, or
// the reference server's built-in one.
func (s *Scenario) Request(name string) (Request, bool) {
	if r, ok := s.Requests[name]; ok {
		return r, true
	}
	r, ok := ReferenceRequests[name]
	return r, ok
}

// TimeoutFor is the client timeout of a step.
func (s *Scenario) TimeoutFor(st Step) time.Duration {
	if st.Timeout > 0 {
		return st.Timeout
	}
	if d, ok := s.Behaviour.Timeouts[st.Request]; ok {
		return d
	}
	if s.Behaviour.Timeout > 0 {
		return s.Behaviour.Timeout
	}
	return DefaultTimeout
}

// DefaultTimeout is the client timeout when a scenario sets none.
const DefaultTimeout = 10 * time.Second
