package scenarios

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// sumTolerance is how far shares may be from 100% (rounding in published tables).
const sumTolerance = 0.005

// Validate checks what decoding cannot; every problem is reported.
func (s *Scenario) Validate(p *spec.Problems) {
	if s.Name == "" {
		p.Addf("name", "required")
	}
	if s.Target.URL != "" {
		if u, err := url.Parse(s.Target.URL); err != nil || !TargetSchemes[u.Scheme] || u.Host == "" {
			p.Addf("target.url", "want an http://, https://, h2c://, grpc://, grpcs://, ws:// or wss:// URL such as http://127.0.0.1:8080, have %q", s.Target.URL)
		}
	}
	s.validateCalls(p)
	s.Target.validateProtocol(p)
	switch s.Target.Via {
	case "":
	case ViaProxy:
		if s.Target.URL == "" {
			p.Addf("target.via", "via: proxy needs target.url (the embedded reference server takes faults itself)")
		}
	default:
		p.Addf("target.via", "want \"proxy\" or nothing, have %q", s.Target.Via)
	}
	if s.Scale <= 0 || s.Scale > 1 {
		p.Addf("scale", "must be within (0, 1], such as 1/50; have %v", s.Scale)
	}
	s.validateArrivals(p)
	s.validateCompression(p)
	checkShares(p, "platforms", s.Platforms, nil)
	s.validateCohorts(p)
	s.validateExtra(p)
	for _, name := range spec.SortedKeys(s.Requests) {
		validateRequest(p, spec.Join("requests", name), s.Requests[name])
	}
	s.validateData(p)
	s.validateJourneys(p)
	s.validateBehaviour(p)
	s.validateFaults(p)
	s.validateDay(p)
	for i := range s.SLO {
		s.validateClause(p, spec.Join("slo", i), s.SLO[i])
		s.validateAt(p, spec.Join("slo", i), &s.SLO[i])
	}
	if s.Gate.Headroom < 0 {
		p.Addf("gate.headroom", "must not be negative")
	}
	if sf := s.Safety; sf != nil {
		s.validateClause(p, "safety.abort_if", sf.AbortIf)
		if !sf.AbortIf.IsShare() {
			p.Addf("safety.abort_if", "clause %q: a safety abort judges a share of the last seconds' answers: errors, timeouts, shed or expired_qr, not %s", sf.AbortIf.Text, sf.AbortIf.Metric)
		}
		if sf.For < 0 {
			p.Addf("safety.for", "must not be negative")
		}
	}
}

func (s *Scenario) validateArrivals(p *spec.Problems) {
	a := s.Arrivals
	if a.Bucket <= 0 {
		p.Addf("arrivals.bucket", "must be a positive duration such as 15m")
	}
	if a.Total <= 0 {
		p.Addf("arrivals.total", "must be positive (national arrivals over the window, such as 4.2M)")
	} else if float64(a.Total) > MaxTotal {
		p.Addf("arrivals.total", "%v is more than %v, more people than there are", float64(a.Total), MaxTotal)
	} else if err := CheckPlayed(float64(a.Total), float64(s.Scale)); err != nil && s.Scale > 0 {
		p.Addf("arrivals.total", "%v", err)
	}
	if len(a.Profile) == 0 {
		p.Addf("arrivals.profile", "want the share of arrivals per bucket, e.g. [3%%, 5%%, 9%%]")
	}
	var sum float64
	for i, v := range a.Profile {
		if v < 0 {
			p.Addf(spec.Join("arrivals.profile", i), "must not be negative")
		}
		sum += float64(v)
	}
	if len(a.Profile) > 0 && math.Abs(sum-1) > sumTolerance {
		p.Addf("arrivals.profile", "the buckets add up to %v, not 100%%", Percent(sum))
	}
	if a.Start+Clock(time.Duration(len(a.Profile))*a.Bucket) > Clock(48*time.Hour) {
		p.Addf("arrivals.profile", "the window runs past the next day")
	}
	switch a.Process {
	case "", ProcessPoisson, ProcessUniform:
	default:
		p.Addf("arrivals.process", "want %q or %q, have %q", ProcessPoisson, ProcessUniform, a.Process)
	}
	if b := a.Burst; b != nil {
		if b.Factor < 1 || b.Factor >= 2 {
			p.Addf("arrivals.burst.factor", "must be within [1, 2), have %v", b.Factor)
		}
		if b.Period <= 0 {
			p.Addf("arrivals.burst.period", "must be a positive duration such as 10m")
		}
	}
	if pt := a.Party; pt != nil {
		if pt.Mean < 1 {
			p.Addf("arrivals.party.mean", "a party has at least 1 person, have %v", pt.Mean)
		}
		if float64(pt.Max) < pt.Mean {
			p.Addf("arrivals.party.max", "must be at least the mean %v, have %d", pt.Mean, pt.Max)
		}
	}
}

func (s *Scenario) validateCompression(p *spec.Problems) {
	c := s.Compression
	if c == nil {
		return
	}
	if c.Factor < 1 {
		p.Addf("compression.factor", "must be at least 1, have %v", c.Factor)
	}
	for i, sp := range c.Realtime {
		path := "compression.realtime"
		if len(c.Realtime) > 1 {
			path = spec.Join(path, i)
		}
		s.validateSpan(p, path, sp)
		if i > 0 && sp.From < c.Realtime[i-1].To {
			p.Addf(path, "%v-%v overlaps or comes before %v-%v: list the spans in order", sp.From, sp.To, c.Realtime[i-1].From, c.Realtime[i-1].To)
		}
	}
}

func (s *Scenario) validateSpan(p *spec.Problems, path string, sp Span) {
	w := s.Window()
	if sp.To <= sp.From {
		p.Addf(path, "to %v is not after from %v", sp.To, sp.From)
	}
	if sp.From < w.From || sp.To > w.To {
		p.Addf(path, "%v-%v is outside the window %v-%v", sp.From, sp.To, w.From, w.To)
	}
}

func (s *Scenario) validateCohorts(p *spec.Problems) {
	if len(s.Cohorts) == 0 {
		p.Addf("cohorts", "at least one cohort is required")
		return
	}
	names := map[string]bool{}
	cuts := []Clock{s.Arrivals.Start}
	for i, c := range s.Cohorts {
		path := spec.Join("cohorts", i)
		uniqueName(p, path, "cohort", c.Name, names)
		s.checkJourney(p, spec.Join(path, "journey"), c.Journey)
		checkShares(p, spec.Join(path, "platforms"), c.Platforms, s.Platforms)
		switch {
		case (c.Share == nil) == (len(c.Shares) == 0):
			p.Addf(path, "give either share or shares")
		case c.Share != nil:
			if *c.Share < 0 || *c.Share > 1 {
				p.Addf(spec.Join(path, "share"), "must be within 0%% and 100%%")
			}
		default:
			for j, ts := range c.Shares {
				if j == 0 && ts.From > s.Arrivals.Start {
					p.Addf(spec.Join(path, "shares", 0, "from"), "the first share must start at the window's start %v", s.Arrivals.Start)
				}
				if j > 0 && ts.From <= c.Shares[j-1].From {
					p.Addf(spec.Join(path, "shares", j, "from"), "times must increase")
				}
				cuts = append(cuts, ts.From)
			}
		}
	}
	for _, at := range cuts { // the shares must add up to 100% at every change
		var sum float64
		for _, c := range s.Cohorts {
			sum += float64(c.ShareAt(at))
		}
		if math.Abs(sum-1) > sumTolerance {
			p.Addf("cohorts", "the cohorts' shares add up to %v at %v, not 100%%", Percent(sum), at)
			break
		}
	}
}

// ShareAt is the cohort's share at a time on the scenario's clock.
func (c Cohort) ShareAt(at Clock) Percent {
	if c.Share != nil {
		return *c.Share
	}
	var v Percent
	for _, ts := range c.Shares {
		if ts.From <= at {
			v = ts.Share
		}
	}
	return v
}

func (s *Scenario) validateExtra(p *spec.Problems) {
	for i, x := range s.Extra {
		path := spec.Join("extra_arrivals", i)
		if x.Name == "" {
			p.Addf(spec.Join(path, "name"), "required")
		}
		if x.Rate <= 0 {
			p.Addf(spec.Join(path, "rate"), "must be positive, such as 50/s")
		}
		s.validateSpan(p, spec.Join(path, "during"), x.Span)
		s.checkJourney(p, spec.Join(path, "journey"), x.Journey)
		checkShares(p, spec.Join(path, "platforms"), x.Platforms, s.Platforms)
	}
}

func (s *Scenario) checkJourney(p *spec.Problems, path, name string) {
	if name == "" {
		p.Addf(path, "required")
	} else if _, ok := s.Journeys[name]; !ok {
		p.Addf(path, "unknown journey %q (journeys: %s)", name, spec.Some(spec.SortedKeys(s.Journeys)))
	}
}

// checkShares checks a platform-share map adds up to 100% and, when known
// is given, names only known platforms.
func checkShares(p *spec.Problems, path string, shares, known map[string]Percent) {
	if shares == nil {
		if known == nil {
			p.Addf(path, "required: the share of users per platform, e.g. {kakao: 47%%, naver: 43%%, ...}")
		}
		return
	}
	var sum float64
	for _, name := range spec.SortedKeys(shares) {
		if _, ok := known[name]; known != nil && !ok {
			p.Addf(spec.Join(path, name), "platform %q is not among the scenario's platforms %s", name, spec.Some(spec.SortedKeys(known)))
		}
		if shares[name] < 0 {
			p.Addf(spec.Join(path, name), "must not be negative")
		}
		sum += float64(shares[name])
	}
	if math.Abs(sum-1) > sumTolerance {
		p.Addf(path, "the shares add up to %v, not 100%%", Percent(sum))
	}
}

func validateRequest(p *spec.Problems, path string, r Request) {
	if r.IsGRPC() {
		validateCall(p, path, r)
		return
	}
	if r.IsHeld() {
		validateHeld(p, path, r)
		return
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"send", r.Send != nil}, {"until", r.Until != nil}, {"within", r.Within != 0}, {"hold", r.Hold != 0}} {
		if k.set {
			p.Addf(spec.Join(path, k.key), "%s is a held connection's: open one with ws: or sse:", k.key)
		}
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"message", r.Message != nil}, {"metadata", r.Metadata != nil}, {"deadline", r.Deadline != 0}} {
		if k.set {
			p.Addf(spec.Join(path, k.key), "%s is a gRPC call's: name its method with grpc:", k.key)
		}
	}
	switch r.Method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
	default:
		p.Addf(spec.Join(path, "method"), "want GET, POST, PUT, PATCH, DELETE or HEAD, have %q", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") {
		p.Addf(spec.Join(path, "path"), "must start with /, have %q", r.Path)
	}
	for _, k := range spec.SortedKeys(r.Headers) {
		switch {
		case !ValidHeaderName(k):
			p.Addf(spec.Join(path, "headers", k), "not a valid header name")
		case strings.ContainsAny(r.Headers[k], "\r\n\x00"):
			p.Addf(spec.Join(path, "headers", k), "a header value may not hold a line break or NUL")
		}
		for _, f := range FramingHeaders {
			if strings.EqualFold(k, f) {
				p.Addf(spec.Join(path, "headers", k), "set by surge from the target and the body; remove it")
			}
		}
	}
	for i, st := range r.Expect {
		if st < 100 || st > 599 {
			p.Addf(spec.Join(path, "expect", i), "not an HTTP status: %v", st)
		}
	}
	for _, k := range spec.SortedKeys(r.Kinds) {
		if r.Kinds[k] == "" {
			p.Addf(spec.Join(path, "kinds", k), "name the error kind")
		}
	}
	validateBody(p, path, r)
	validateAnswer(p, path, r)
}

// ValidHeaderName reports whether k is an HTTP token (RFC 9110 5.1).
func ValidHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := range len(k) {
		if c := k[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func (s *Scenario) validateJourneys(p *spec.Problems) {
	if len(s.Journeys) == 0 {
		p.Addf("journeys", "at least one journey is required")
	}
	for _, name := range spec.SortedKeys(s.Journeys) {
		path := spec.Join("journeys", name)
		steps := s.Journeys[name]
		if len(steps) == 0 {
			p.Addf(path, "a journey needs at least one step")
		}
		have := map[string]bool{}
		for _, v := range BuiltinVars {
			have[v] = true
		}
		var requests []string
		for i, st := range steps {
			s.validateStep(p, spec.Join(path, i), st, have, requests)
			if st.Request != "" {
				requests = append(requests, st.Request)
			}
		}
	}
}

func (s *Scenario) validateStep(p *spec.Problems, path string, st Step, have map[string]bool, before []string) {
	if (st.Request == "") == (st.Think == nil) {
		p.Addf(path, "a step is either a request or a think time")
		return
	}
	if st.Think != nil {
		if st.Timeout != 0 || st.Attempts != 0 || st.RestartFrom != nil {
			p.Addf(path, "a think step takes no timeout, attempts or restart_from")
		}
		return
	}
	r, ok := s.Request(st.Request)
	if !ok {
		p.Addf(spec.Join(path, "request"), "unknown request %q (requests: %s)", st.Request, spec.Some(s.requestNames()))
		return
	}
	for _, v := range r.Uses() {
		if f, _, dotted := strings.Cut(v, "."); dotted && !s.known(v, have) {
			p.Addf(spec.Join(path, "request"), "request %s uses ${%s}, but the scenario has no data named %s (data: %s)", st.Request, v, f, spec.Some(spec.SortedKeys(s.Data)))
		} else if !s.known(v, have) {
			p.Addf(spec.Join(path, "request"), "request %s uses ${%s}, which no earlier step of the journey extracts", st.Request, v)
		}
	}
	for v := range r.Extract {
		have[v] = true
	}
	if st.Timeout < 0 {
		p.Addf(spec.Join(path, "timeout"), "must not be negative")
	}
	if st.Attempts < 0 {
		p.Addf(spec.Join(path, "attempts"), "must not be negative")
	}
	for _, kind := range spec.SortedKeys(st.RestartFrom) {
		if !slices.Contains(before, st.RestartFrom[kind]) {
			p.Addf(spec.Join(path, "restart_from", kind), "%q is not an earlier request of this journey", st.RestartFrom[kind])
		}
		if !s.knownKind(kind) && kind != GiveUpComeBack { // come_back: where a user who comes back later resumes
			p.Addf(spec.Join(path, "restart_from", kind), "unknown error kind %q (kinds: %s, or come_back)", kind, spec.Some(s.kinds()))
		}
	}
}

func (s *Scenario) validateBehaviour(p *spec.Problems) {
	b := s.Behaviour
	if b.Timeout < 0 {
		p.Addf("behaviour.timeout", "must not be negative")
	}
	for _, name := range spec.SortedKeys(b.Timeouts) {
		if _, ok := s.Request(name); !ok {
			p.Addf(spec.Join("behaviour.timeouts", name), "unknown request %q", name)
		}
		if b.Timeouts[name] <= 0 {
			p.Addf(spec.Join("behaviour.timeouts", name), "must be positive")
		}
	}
	if b.Retry.Attempts < 0 {
		p.Addf("behaviour.retry.attempts", "must not be negative")
	}
	for i, k := range b.Retry.On {
		if !s.knownKind(k) {
			p.Addf(spec.Join("behaviour.retry.on", i), "unknown error kind %q (kinds: %s)", k, spec.Some(s.kinds()))
		}
	}
	if b.GiveUp != nil {
		var sum float64
		for _, d := range spec.SortedKeys(b.GiveUp) {
			switch d {
			case GiveUpSwitch, GiveUpManual, GiveUpKeepTrying, GiveUpReinstall, GiveUpAbandon, GiveUpComeBack:
			default:
				p.Addf(spec.Join("behaviour.give_up", d), "unknown decision %q (%s)", d, strings.Join(giveUpOrder, ", "))
			}
			sum += float64(b.GiveUp[d])
		}
		if math.Abs(sum-1) > sumTolerance {
			p.Addf("behaviour.give_up", "the decisions add up to %v, not 100%%", Percent(sum))
		}
		if b.GiveUp[GiveUpReinstall] > 0 {
			s.checkJourney(p, "behaviour.reinstall_journey", b.ReinstallJourney)
		}
		if b.GiveUp[GiveUpSwitch] > 0 && len(s.Platforms) < 2 {
			p.Addf("behaviour.give_up.switch_platform", "switching needs at least two platforms")
		}
	}
	for _, from := range spec.SortedKeys(b.SwitchTo) {
		to := b.SwitchTo[from]
		if _, ok := s.Platforms[from]; !ok && from != "*" {
			p.Addf(spec.Join("behaviour.switch_to", from), "unknown platform %q", from)
		}
		if _, ok := s.Platforms[to]; !ok {
			p.Addf(spec.Join("behaviour.switch_to", from), "unknown platform %q", to)
		}
	}
}

func (s *Scenario) validateClause(p *spec.Problems, path string, c Clause) {
	if c.Endpoint == "" {
		return
	}
	if _, ok := s.Request(c.Endpoint); !ok {
		p.Addf(path, "clause %q: unknown request %q (requests: %s)", c.Text, c.Endpoint, spec.Some(s.requestNames()))
	}
}

func (s *Scenario) requestNames() []string {
	seen := map[string]bool{}
	for n := range ReferenceRequests {
		seen[n] = true
	}
	for n := range s.Requests {
		seen[n] = true
	}
	return spec.SortedKeys(seen)
}

func (s *Scenario) kinds() []string {
	seen := map[string]bool{}
	for _, k := range ErrorKinds {
		seen[k] = true
	}
	for _, name := range s.requestNames() {
		r, _ := s.Request(name)
		for _, k := range r.Kinds {
			seen[k] = true
		}
		for i := range r.Check {
			seen[r.CheckKind(i)] = true
		}
	}
	return spec.SortedKeys(seen)
}

func (s *Scenario) knownKind(k string) bool { return slices.Contains(s.kinds(), k) }

func (s *Scenario) validateFaults(p *spec.Problems) {
	w := s.Window()
	names := map[string]bool{}
	for i, f := range s.Faults {
		path := spec.Join("faults", i)
		uniqueName(p, path, "fault", f.Name, names)
		if f.At < w.From || f.At >= w.To {
			p.Addf(spec.Join(path, "at"), "%v is outside the window %v-%v", f.At, w.From, w.To)
		}
		if f.For <= 0 {
			p.Addf(spec.Join(path, "for"), "must be a positive duration, such as 37m")
		}
		s.validateFaultScope(p, path, f)
		// Every scenario is also simulated: its faults act where they are
		// placed and in the simulator.
		f.Params.Check(s.faultPlace(f)|fault.Sim, func(field, format string, args ...any) {
			p.Addf(spec.Join(path, field), format, args...)
		})
		for j, g := range s.Faults[:i] { // two capacities for one stage at once cannot both hold
			if f.Kind == fault.Capacity && g.Kind == fault.Capacity && (f.Stage == g.Stage || f.Stage == "*" || g.Stage == "*") &&
				f.At < g.At+Clock(g.For) && g.At < f.At+Clock(f.For) {
				p.Addf(path, "capacity fault %q overlaps capacity fault %q (faults[%d]) on stage %s: which worker count holds?", f.Name, g.Name, j, f.Stage)
			}
		}
	}
}

// faultPlace is where a scenario's fault acts: the client side (a platform
// and/or request), the proxy (target.via: proxy), or a stage of the service.
func (s *Scenario) faultPlace(f Fault) fault.Where {
	switch {
	case f.ClientSide():
		return fault.Client
	case s.Target.Via == ViaProxy:
		return fault.Proxy
	}
	return fault.Stage
}

// validateFaultScope checks a fault names one place to act, and that its
// platform and request exist.
func (s *Scenario) validateFaultScope(p *spec.Problems, path string, f Fault) {
	switch {
	case f.Stage == "" && f.Platform == "" && f.Request == "":
		p.Addf(spec.Join(path, "stage"), "give a stage of the service (or \"*\"), or a platform and/or request for a client-side fault")
	case f.Stage != "" && (f.Platform != "" || f.Request != ""):
		p.Addf(spec.Join(path, "stage"), "a fault acts in the service (stage) or on the client side (platform, request), not both")
	case s.Target.Via == ViaProxy && f.Stage != "*" && !f.ClientSide():
		p.Addf(spec.Join(path, "stage"), "through the proxy a fault acts on the whole service: stage \"*\" (the proxy cannot see %q)", f.Stage)
	case f.ClientSide():
		if _, ok := s.Platforms[f.Platform]; f.Platform != "" && !ok {
			p.Addf(spec.Join(path, "platform"), "unknown platform %q (platforms: %s)", f.Platform, spec.Some(spec.SortedKeys(s.Platforms)))
		}
		if _, ok := s.Request(f.Request); f.Request != "" && !ok {
			p.Addf(spec.Join(path, "request"), "unknown request %q (requests: %s)", f.Request, spec.Some(s.requestNames()))
		}
	}
}

// uniqueName checks an entry's name is given and not taken, and takes it.
func uniqueName(p *spec.Problems, path, what, name string, taken map[string]bool) {
	if name == "" {
		p.Addf(spec.Join(path, "name"), "required")
	} else if taken[name] {
		p.Addf(spec.Join(path, "name"), "%s %q is defined twice", what, name)
	}
	taken[name] = true
}

// Size limits, checked before anything is allocated for them. MaxTotal is
// past any country's population; MaxPlayed bounds the arrivals one run or
// simulation plays (total x scale): each costs the simulator ~100 bytes
// alive at once at worst and the live engine a request or more, so 1e8 is
// a few minutes of simulation and far past what one machine can send.
const (
	MaxTotal  = 1e10
	MaxPlayed = 1e8
)

// CheckPlayed refuses a total and scale that would play more than
// MaxPlayed arrivals.
func CheckPlayed(total, scale float64) error {
	if n := total * scale; n > MaxPlayed {
		return fmt.Errorf("total %v at scale %v plays %.3g arrivals, more than the %.0g one run may play: lower the scale (or split the run across shards)", total, scale, n, float64(MaxPlayed))
	}
	return nil
}

// UsedRequests lists the requests the scenario's journeys send, in order.
func (s *Scenario) UsedRequests() []string {
	seen := map[string]bool{}
	for _, steps := range s.Journeys {
		for _, st := range steps {
			if st.Request != "" {
				seen[st.Request] = true
			}
		}
	}
	return spec.SortedKeys(seen)
}

// TargetSchemes are the schemes of a target URL: HTTP/1.1 (http), TLS with
// the protocol ALPN picks (https), HTTP/2 with prior knowledge (h2c).
var TargetSchemes = map[string]bool{"http": true, "https": true, "h2c": true, "grpc": true, "grpcs": true, "ws": true, "wss": true}

// H2Schemes are the target schemes over which HTTP/2 can be spoken (gRPC
// needs it): grpc (h2c), grpcs (TLS, h2), h2c, and https when the server
// offers h2.
var H2Schemes = map[string]bool{"https": true, "h2c": true, "grpc": true, "grpcs": true}

// validateProtocol checks the protocol pin against the URL: a pin is for an
// https:// target (h2c:// is HTTP/2 already, http:// HTTP/1.1).
func (t Target) validateProtocol(p *spec.Problems) {
	scheme, _, _ := strings.Cut(t.URL, "://")
	switch {
	case t.Protocol != "" && t.Protocol != "h2" && t.Protocol != "http/1.1":
		p.Addf("target.protocol", "want h2 or http/1.1 (or nothing: the server's choice by ALPN), have %q", t.Protocol)
	case t.Protocol == "h2" && scheme == "http":
		p.Addf("target.protocol", "HTTP/2 without TLS is an h2c:// URL: write target.url as h2c://%s", strings.TrimPrefix(t.URL, "http://"))
	case t.Protocol == "http/1.1" && scheme == "h2c":
		p.Addf("target.protocol", "an h2c:// target speaks HTTP/2; for HTTP/1.1 write target.url as http://%s", strings.TrimPrefix(t.URL, "h2c://"))
	case t.Protocol == "http/1.1" && (scheme == "grpc" || scheme == "grpcs"):
		p.Addf("target.protocol", "gRPC is spoken over HTTP/2 only")
	}
}

// validateCall checks a gRPC call's template.
func validateCall(p *spec.Problems, path string, r Request) {
	svc, method, ok := strings.Cut(r.GRPC, "/")
	if !ok || svc == "" || method == "" || strings.Contains(method, "/") || strings.ContainsAny(r.GRPC, " \t") {
		p.Addf(spec.Join(path, "grpc"), "want a method's full name, package.Service/Method, have %q", r.GRPC)
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"method", r.Method != ""}, {"path", r.Path != ""}, {"json", r.JSON != nil}, {"form", r.Form != nil}, {"body", r.Body != ""},
		{"multipart", r.Multipart != nil}, {"content_type", r.ContentType != ""}, {"headers", r.Headers != nil}, {"kinds", r.Kinds != nil}} {
		if k.set {
			p.Addf(spec.Join(path, k.key), "a gRPC call has no %s: grpc: names the method, message: is the request, metadata: its headers, and each failed code is its own kind", k.key)
		}
	}
	for _, k := range spec.SortedKeys(r.Metadata) {
		at := spec.Join(path, "metadata", k)
		switch {
		case !ValidHeaderName(k) || strings.ToLower(k) != k:
			p.Addf(at, "a metadata key is a lower-case header name")
		case strings.HasPrefix(k, "grpc-") || k == "content-type" || k == "te":
			p.Addf(at, "set by surge for the call; remove it (the deadline is deadline:)")
		case strings.ContainsAny(r.Metadata[k], "\r\n\x00"):
			p.Addf(at, "a metadata value may not hold a line break or NUL")
		}
	}
	for i, st := range r.Expect {
		if st < GRPCStatus {
			p.Addf(spec.Join(path, "expect", i), "a call expects gRPC codes (%s), have %v", strings.Join(GRPCCodes[:6], ", ")+", ...", st)
		}
	}
	validateAnswer(p, path, r)
}

// validateCalls: a scenario with calls has a target that speaks HTTP/2.
func (s *Scenario) validateCalls(p *spec.Problems) {
	for _, name := range spec.SortedKeys(s.Requests) {
		if !s.Requests[name].IsGRPC() {
			continue
		}
		scheme, _, _ := strings.Cut(s.Target.URL, "://")
		switch {
		case s.Target.URL == "" && s.Target.Protocol != "h2":
			p.Addf(spec.Join("requests", name, "grpc"), "a gRPC call needs HTTP/2: target.url as a grpc:// (or grpcs://) service, or target.protocol: h2 for the embedded reference server's gRPC face")
		case s.Target.URL == "":
		case !H2Schemes[scheme] || s.Target.Protocol == "http/1.1":
			p.Addf(spec.Join("requests", name, "grpc"), "a gRPC call needs HTTP/2: target.url as grpc://host:port (h2c) or grpcs://host:port (TLS), have %s", s.Target.URL)
		}
		return
	}
	if len(s.Target.Protos) > 0 {
		p.Addf("target.protos", "no request is a gRPC call (grpc:)")
	}
}

// validateHeld checks a held connection's template: a WebSocket or an
// event stream, what it waits for and for how long.
func validateHeld(p *spec.Problems, path string, r Request) {
	if r.WS != "" && r.SSE != "" {
		p.Addf(spec.Join(path, "sse"), "a request opens one connection: ws: or sse:")
	}
	if r.WS != "" && !strings.HasPrefix(r.WS, "/") && !strings.HasPrefix(r.WS, "ws://") && !strings.HasPrefix(r.WS, "wss://") {
		p.Addf(spec.Join(path, "ws"), "want a path (/live) or a ws:// or wss:// URL, have %q", r.WS)
	}
	if r.SSE != "" && !strings.HasPrefix(r.SSE, "/") {
		p.Addf(spec.Join(path, "sse"), "want a path of the target, such as /events, have %q", r.SSE)
	}
	for _, k := range []struct {
		key string
		set bool
	}{{"method", r.Method != ""}, {"path", r.Path != ""}, {"json", r.JSON != nil}, {"form", r.Form != nil}, {"body", r.Body != ""},
		{"multipart", r.Multipart != nil}, {"grpc", r.GRPC != ""}, {"check", r.Check != nil}} {
		if k.set {
			p.Addf(spec.Join(path, k.key), "a held connection has no %s: ws: or sse: opens it, send: says what it sends, until: what it waits for", k.key)
		}
	}
	if r.SSE != "" && r.Send != nil {
		p.Addf(spec.Join(path, "send"), "an event stream only listens: send: is a WebSocket's")
	}
	switch {
	case r.Until != nil && r.Within <= 0:
		p.Addf(spec.Join(path, "within"), "a held connection waits for its until: message within a time: set within: (such as 10m)")
	case r.Until == nil && r.Within != 0:
		p.Addf(spec.Join(path, "within"), "within: bounds the wait for until:, which is not set")
	case r.Until == nil && r.Hold <= 0:
		p.Addf(path, "a held connection waits for a message (until: and within:) or holds for a time (hold:); set one")
	}
	if r.Until != nil && r.Until.JSON == "" && r.Until.BodyContains == "" {
		p.Addf(spec.Join(path, "until"), "say what the message holds: json: with equals: or matches:, or body_contains:")
	}
	validateAnswer(p, path, r)
}
