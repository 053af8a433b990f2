// Command reference-server runs surge's reference vaccine-pass system on
// its own, from a shipped capacity profile or a profile file:
//
//	go run ./reference-server --profile as-built --addr 127.0.0.1:8080
//
// It prints the address it serves on (useful with --addr 127.0.0.1:0) and
// shuts down gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/surgekit/surge/reference-server/profiles"
	"github.com/surgekit/surge/reference-server/refserver"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "reference-server:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reference-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		profile    = fs.String("profile", "as-built", "capacity profile: a shipped one ("+strings.Join(profiles.Names(), ", ")+") or a YAML file")
		addr       = fs.String("addr", "127.0.0.1:8080", "listen address")
		db         = fs.String("db", "", "SQLite database file (default: a temporary one, removed on exit)")
		seed       = fs.Uint64("seed", 1, "seed for service-time and fault draws")
		adminToken = fs.String("admin-token", "", "bearer token the admin API requires (default: $SURGE_ADMIN_TOKEN; neither: the admin API is off)")
		verbose    = fs.Bool("v", false, "log fault changes and background failures")
		tlsAddr    = fs.String("tls-addr", "", "also serve the API over TLS, HTTP/2 only (ALPN h2), on this address (with -tls-cert and -tls-key)")
		tlsCert    = fs.String("tls-cert", "", "the TLS certificate chain (PEM)")
		tlsKey     = fs.String("tls-key", "", "its private key (PEM)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (*tlsAddr == "") != (*tlsCert == "") || (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("-tls-addr, -tls-cert and -tls-key go together")
	}
	if *adminToken == "" {
		*adminToken = os.Getenv("SURGE_ADMIN_TOKEN")
	}
	p, err := profiles.Load(*profile)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	srv, err := refserver.New(refserver.Config{Profile: p, DBPath: *db, Seed: *seed, AdminToken: *adminToken,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))})
	if err != nil {
		return err
	}
	defer srv.Close()
	admin := "on (bearer token)"
	if *adminToken == "" {
		admin = "off (no --admin-token)"
	}
	return serveAll(ctx, srv, listening{profile: p.Name, admin: admin, addr: *addr, tlsAddr: *tlsAddr, cert: *tlsCert, key: *tlsKey}, stdout)
}

// listening is where and how the server listens.
type listening struct{ profile, admin, addr, tlsAddr, cert, key string }

// serveAll serves srv on its address (HTTP/1.1 and h2c) and, with a TLS
// address, over TLS (HTTP/2 only), until interrupted.
func serveAll(ctx context.Context, srv *refserver.Server, l listening, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if l.tlsAddr == "" {
		ln, err := refserver.Listen(l.addr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reference-server: profile %s, listening on http://%s; admin API %s\n", l.profile, ln.Addr(), l.admin)
		return refserver.Serve(ctx, refserver.HTTPServer(srv.Handler()), ln, 10*time.Second)
	}
	plain, secure, err := refserver.ListenPair(l.addr, l.tlsAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "reference-server: profile %s, listening on http://%s; and on https://%s (HTTP/2 only); admin API %s\n", l.profile, plain.Addr(), secure.Addr(), l.admin)
	errc := make(chan error, 2)
	go func() { errc <- refserver.Serve(ctx, refserver.HTTPServer(srv.Handler()), plain, 10*time.Second) }()
	go func() {
		errc <- refserver.ServeTLS(ctx, refserver.HTTPSServer(srv.Handler()), secure, l.cert, l.key, 10*time.Second)
	}()
	err = <-errc
	stop() // one ended: end the other
	return errors.Join(err, <-errc)
}
