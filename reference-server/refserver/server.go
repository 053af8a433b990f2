package refserver

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/surgekit/surge/scenarios/profile"
)

// Config is what a Server is built from. The zero values of the optional
// fields are the documented defaults.
type Config struct {
	// Profile is the capacity profile to run (required).
	Profile *profile.Profile
	// DBPath is the SQLite file; "" makes one in a temporary directory that
	// Close removes.
	DBPath string
	// storePragmas are extra SQLite DSN pragmas (tests: a size limit).
	storePragmas string
	// Seed seeds every service-time and fault draw.
	Seed uint64
	// Now is the clock for token expiry; default time.Now.
	Now func() time.Time
	// AdminToken is the bearer token the admin API (faults, seeded
	// credentials) requires of every caller; empty, the admin API is off.
	// Loopback is not an identity: a proxy on the same host makes every
	// client look local.
	AdminToken string
	// Logger receives operational messages; default discards them.
	Logger *slog.Logger
}

// Server is the reference pass system.
type Server struct {
	grpc    *grpc.Server // the gRPC face (grpcface.go)
	cfg     Config
	profile *profile.Profile
	stages  map[string]*stage
	store   *Store
	keys    *keys
	met     *metrics
	faults  *faultSet
	limiter *userLimiter
	guesses *guesses
	now     func() time.Time
	log     *slog.Logger
	tmpDir  string
	bg      sync.WaitGroup // async steps in flight
	bgCtx   context.Context
	bgStop  context.CancelFunc
	upkeep  sync.WaitGroup // the repair and cleanup loop
	stopUp  context.CancelFunc
	handler http.Handler
}

// New builds a server: it checks that the profile's routes do the work the
// API needs, opens the store and loads (or creates) the keys.
func New(cfg Config) (*Server, error) {
	if cfg.Profile == nil {
		return nil, errors.New("refserver: no capacity profile")
	}
	if err := checkRoutes(cfg.Profile); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, profile: cfg.Profile, now: cfg.Now, log: cfg.Logger, met: newMetrics(), stages: map[string]*stage{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, name := range s.profile.StageNames() {
		st := newStage(name, s.profile.Stages[name], cfg.Seed, s.met.forStage(name))
		s.met.watchStage(st)
		s.stages[name] = st
	}
	s.met.describeProfile(s.profile)
	s.faults = &faultSet{active: map[string]*activeFault{}, stages: s.stages, now: s.now}
	s.guesses = newGuesses(s.now)
	if rl, ok := s.profile.LimitOf("identity.request"); ok {
		s.limiter = newUserLimiter(rl.Requests, rl.Per, s.now)
	}
	path := cfg.DBPath
	if path == "" {
		dir, err := os.MkdirTemp("", "refserver-*")
		if err != nil {
			return nil, fmt.Errorf("refserver: temporary database: %w", err)
		}
		s.tmpDir, path = dir, filepath.Join(dir, "pass.db")
	}
	store, err := openStore(path, cfg.storePragmas)
	if err != nil {
		s.removeTmp()
		return nil, err
	}
	s.store = store
	s.met.registerRuntime(store.db)
	if s.keys, err = store.loadKeys(context.Background()); err != nil {
		store.Close()
		s.removeTmp()
		return nil, err
	}
	s.bgCtx, s.bgStop = context.WithCancel(context.Background())
	if err := s.repairAnchors(context.Background()); err != nil {
		store.Close()
		s.removeTmp()
		return nil, err
	}
	var upCtx context.Context
	upCtx, s.stopUp = context.WithCancel(context.Background())
	s.upkeep.Add(1)
	go s.upkeepLoop(upCtx)
	s.handler = s.routes()
	return s, nil
}

// mustGRPCFace is the gRPC face; its service is embedded, so it fails only
// by a bug.
func (s *Server) mustGRPCFace() *grpc.Server {
	g, err := s.grpcFace()
	if err != nil {
		panic("refserver: the embedded venue.proto: " + err.Error())
	}
	return g
}

// upkeepEvery is how often the server repairs anchors whose background
// step failed and forgets used tokens past their expiry.
const upkeepEvery = 30 * time.Second

func (s *Server) upkeepLoop(ctx context.Context) {
	defer s.upkeep.Done()
	t := time.NewTicker(upkeepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.repairAnchors(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("anchor repair", "err", err)
		}
		if err := s.store.forgetExpiredTokens(ctx, s.now().UnixMilli()); err != nil && ctx.Err() == nil {
			s.log.Warn("used-token cleanup", "err", err)
		}
	}
}

// repairAnchors anchors every certificate stored with its anchor pending:
// left by a crash between the store and the background anchor step, or by
// a step that failed. An acknowledged certificate is anchored in the end.
func (s *Server) repairAnchors(ctx context.Context) error {
	ids, err := s.store.PendingAnchors(ctx)
	if err != nil {
		return fmt.Errorf("refserver: pending anchors: %w", err)
	}
	pub := s.keys.issuer.Public().(ed25519.PublicKey)
	for _, id := range ids {
		if err := s.store.anchorPending(ctx, id, pub); err != nil {
			return fmt.Errorf("refserver: anchoring certificate %s: %w", id, err)
		}
	}
	if len(ids) > 0 {
		s.log.Info("anchored certificates left pending", "count", len(ids))
	}
	return nil
}

// Handler serves the API.
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's database (for inspection by tests and tools).
func (s *Server) Store() *Store { return s.store }

// Profile is the profile the server runs.
func (s *Server) Profile() *profile.Profile { return s.profile }

// Close waits up to 5 s for background steps, then closes the database (and
// removes a temporary one).
func (s *Server) Close() error {
	s.grpc.Stop()
	s.stopUp()
	s.upkeep.Wait()
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.bgStop()
		<-done
	}
	s.bgStop()
	err := s.store.Close()
	s.removeTmp()
	return err
}

func (s *Server) removeTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

// routes is the whole HTTP surface in one table.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request) (int, error)) {
		mux.Handle(pattern, s.instrument(endpoint, h))
	}
	api("POST /v1/identity/requests", "identity.request", s.identityRequest)
	api("POST /v1/identity/requests/{id}/confirm", "identity.confirm", s.identityConfirm)
	api("POST /v1/certificates", "certificate.issue", s.issueCertificate)
	api("POST /v1/qr", "qr", s.mintQR)
	api("POST /v1/checkins", "checkin", s.checkin)
	if _, ok := s.profile.Routes["waiting-room"]; ok {
		api("GET /v1/waiting-room", "waiting-room", s.waitingRoom)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if why := s.store.Unwritable(); why != "" { // a load balancer stops sending writes here
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "degraded", "profile": s.profile.Name, "store": "cannot write: " + why})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "profile": s.profile.Name})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	admin := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.adminOnly(h)) }
	admin("GET /admin/faults", s.listFaults)
	admin("POST /admin/faults", s.addFault)
	admin("DELETE /admin/faults/{id}", s.deleteFault)
	admin("DELETE /admin/faults", s.clearFaults)
	admin("POST /admin/credentials", s.seedCredentials)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: r.Method + " " + r.URL.Path + ": no such endpoint"})
	})
	s.grpc = s.mustGRPCFace()
	return withGRPC(s.grpc, edge(mux))
}

// instrument wraps an API handler: request timeout, panic safety, the error
// body, and the per-endpoint metrics.
func (s *Server) instrument(endpoint string, h func(http.ResponseWriter, *http.Request) (int, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := r.Context()
		if s.profile.Server.Abandoned == profile.AbandonedFinish {
			ctx = context.WithoutCancel(ctx) // a client that has gone is not noticed: its work runs to the end
		}
		if t := s.profile.Server.RequestTimeout; t > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, t, errDeadline)
			defer cancel()
		}
		status := http.StatusInternalServerError
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic in handler", "endpoint", endpoint, "panic", p)
				status = writeError(w, fmt.Errorf("internal error"))
			}
			s.met.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
			s.met.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		}()
		var err error
		status, err = h(w, r.WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil && context.Cause(ctx) == errDeadline {
				err = &apiError{Status: s.profile.Server.TimeoutAnswer(), Code: "timeout", Message: "the request did not finish within the server's request timeout"}
			}
			status = writeError(w, err)
		}
	})
}

// adminOnly admits the holders of the admin token, whoever and wherever
// they are; with no token set, no one.
func (s *Server) adminOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := s.cfg.AdminToken
		if tok == "" {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: "admin_disabled", Message: "admin API: off (start the server with an admin token: --admin-token or SURGE_ADMIN_TOKEN)"})
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(tok)) != 1 {
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "admin API: missing or wrong bearer token"})
			return
		}
		h(w, r)
	})
}

// userLimiter allows n requests per user in any window of length per.
// A slow request may reserve its place first and settle it after, so
// that requests checked at once cannot together pass the limit.
type userLimiter struct {
	mu      sync.Mutex
	n       int
	per     time.Duration
	now     func() time.Time
	seen    map[string][]time.Time // counted requests in the window, oldest first
	pending map[string]int         // reserved, not yet settled
	sweep   time.Time
}

func newUserLimiter(n int, per time.Duration, now func() time.Time) *userLimiter {
	return &userLimiter{n: n, per: per, now: now, seen: map[string][]time.Time{}, pending: map[string]int{}}
}

// allow records a request by user; if refused it says when to retry.
func (l *userLimiter) allow(user string) (bool, time.Duration) {
	if wait := l.reserve(user); wait > 0 {
		return false, wait
	}
	l.settle(user, true)
	return true, 0
}

// reserve takes a place for user, or says how long until one is free
// (a second, when only reserved places fill the window).
func (l *userLimiter) reserve(user string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.window(user)
	if len(ts)+l.pending[user] < l.n {
		l.pending[user]++
		return 0
	}
	if len(ts) < l.n {
		return time.Second
	}
	return l.per - l.now().Sub(ts[0])
}

// settle ends a reservation: counted, or given back.
func (l *userLimiter) settle(user string, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[user]--; l.pending[user] <= 0 {
		delete(l.pending, user)
	}
	if counted {
		l.seen[user] = append(l.window(user), l.now())
	}
}

// window is user's counted requests still in the window (l.mu held); now
// and then it forgets users idle for a whole window, so memory stays
// bounded.
func (l *userLimiter) window(user string) []time.Time {
	now := l.now()
	if now.Sub(l.sweep) > l.per {
		for u, ts := range l.seen {
			if now.Sub(ts[len(ts)-1]) >= l.per {
				delete(l.seen, u)
			}
		}
		l.sweep = now
	}
	ts := l.seen[user]
	for len(ts) > 0 && now.Sub(ts[0]) >= l.per {
		ts = ts[1:]
	}
	if len(ts) == 0 {
		delete(l.seen, user)
		return nil
	}
	l.seen[user] = ts
	return ts
}
