package refserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"time"
)

// Running is a reference server serving on a listener of its own.
type Running struct {
	*Server
	// URL is its base URL, such as http://127.0.0.1:40123.
	URL string
	hs  *http.Server
}

// Start builds a server and serves it on addr (127.0.0.1:0: a free
// loopback port) through the edge's listener and limits (Listen,
// HTTPServer), until Close.
func Start(cfg Config, addr string) (*Running, error) {
	srv, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := Listen(addr)
	if err != nil {
		srv.Close()
		return nil, err
	}
	r := &Running{Server: srv, URL: "http://" + ln.Addr().String(), hs: HTTPServer(srv.Handler())}
	go r.hs.Serve(ln)
	return r, nil
}

// Close stops serving (within 5 s for the requests in flight) and closes
// the server.
func (r *Running) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(r.hs.Shutdown(ctx), r.Server.Close())
}

// Serve serves h on ln until ctx is done, then shuts down, letting the
// requests in flight finish within grace.
func Serve(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration) error {
	return serve(ctx, hs, func() error { return hs.Serve(ln) }, grace)
}

// ServeTLS is Serve over TLS, with the certificate and key files (PEM).
func ServeTLS(ctx context.Context, hs *http.Server, ln net.Listener, certFile, keyFile string, grace time.Duration) error {
	return serve(ctx, hs, func() error { return hs.ServeTLS(ln, certFile, keyFile) }, grace)
}

func serve(ctx context.Context, hs *http.Server, run func() error, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- run() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return hs.Shutdown(stop)
}

// NewAdminToken is a random admin token (128 bits, hex).
func NewAdminToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
