package promexport

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Export is where a run's figures go while it plays, both ways a team uses
// Prometheus: served for scraping (GET /metrics on Listen) and pushed by
// remote write (to RemoteWrite, each Every). Either may be empty.
type Export struct {
	Listen      string        // host:port to serve /metrics on
	Linger      time.Duration // how long the final figures stay served once stopped, for the last scrape
	RemoteWrite string        // the receiver's write URL
	Every       time.Duration // how often they are pushed (default 5s)
	Labels      prometheus.Labels
	// Log gets one line for what it serves or pushes to, a push failing
	// and recovering, and the final push failing (nil: nothing is said).
	Log io.Writer
}

// Start exports view's figures. stop pushes the final figures once more
// (within 10 s) and keeps serving them for Linger, unless ctx is done (the
// run was interrupted); then it shuts both down.
func (x Export) Start(ctx context.Context, view View) (stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(view, x.Labels))
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	if x.RemoteWrite != "" {
		s, err := x.push(ctx, reg)
		if err != nil {
			return nil, err
		}
		stops = append(stops, s)
	}
	if x.Listen != "" {
		s, err := x.serve(ctx, reg)
		if err != nil {
			stopAll()
			return nil, err
		}
		stops = append(stops, s)
	}
	return stopAll, nil
}

func (x Export) logf(format string, args ...any) {
	if x.Log != nil {
		fmt.Fprintf(x.Log, "metrics: "+format+"\n", args...)
	}
}

// serve serves reg on Listen until stop, which lingers.
func (x Export) serve(ctx context.Context, reg *prometheus.Registry) (stop func(), err error) {
	ln, err := net.Listen("tcp", x.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	x.logf("http://%s/metrics", ln.Addr())
	return func() {
		if x.Linger > 0 && ctx.Err() == nil {
			x.logf("serving the final figures for %v", x.Linger)
			select {
			case <-time.After(x.Linger):
			case <-ctx.Done():
			}
		}
		srv.Close()
	}, nil
}

// push writes reg to RemoteWrite each Every; stop writes the final
// figures (within 10 s) and reports a failure.
func (x Export) push(ctx context.Context, reg *prometheus.Registry) (stop func(), err error) {
	rw, err := NewRemote(x.RemoteWrite, reg, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: remote write: %w", err)
	}
	every := x.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	x.logf("remote write to %s each %v", rw.Redacted(), every)
	pushCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rw.Every(pushCtx, every, func(err error) {
			if err != nil {
				x.logf("remote write failing: %v", err)
			} else {
				x.logf("remote write recovered")
			}
		})
	}()
	return func() {
		cancel()
		<-done
		final, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancelFinal()
		if err := rw.Push(final); err != nil {
			x.logf("the final remote write failed: %v", err)
		}
	}, nil
}
