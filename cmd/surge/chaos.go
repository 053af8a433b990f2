package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgekit/surge/reference-server/refserver"
	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/chaos"
)

func newChaosCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "chaos", Short: "Faults for any HTTP target"}
	cmd.AddCommand(newChaosProxyCmd(g))
	return cmd
}

func newChaosProxyCmd(g *globals) *cobra.Command {
	var listen, to, file string
	var duration time.Duration
	var forwardAdmin bool
	cmd := &cobra.Command{
		Use:   "proxy --listen 127.0.0.1:9000 --to URL --faults faults.yaml",
		Short: "A reverse proxy that injects a schedule of faults (latency, error, stall, outage, reset) in front of a service",
		Long: `Proxies every request to --to, applying the faults of --faults whose window is open:
  faults:
    - {name: slow, after: 30s, for: 2m, kind: latency, latency: "exp(200ms)", probability: 50%}
    - {name: flaky, after: 1m, kind: error, status: 503, probability: 30%, path: /v1/qr}
Windows count from the proxy's start. An unreachable upstream is answered 502, never a crash.
It listens for HTTP/1.1 and HTTP/2 with prior knowledge (h2c) alike, and speaks HTTP/2 to an
h2c:// upstream, or to an https:// one that offers it by ALPN.
It runs until interrupted, or for --duration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("--to: the proxy needs a target URL")
			}
			target, err := url.Parse(to)
			if err != nil || !scenarios.TargetSchemes[target.Scheme] || target.Host == "" {
				return fmt.Errorf("--to: want an http://, https:// or h2c:// URL such as http://127.0.0.1:8080, have %q", to)
			}
			f, err := chaos.LoadFile(file)
			if err != nil {
				return err
			}
			p, err := chaos.NewProxy(target, f.Faults, g.seed, nil)
			if err != nil {
				return err
			}
			p.ForwardAdmin = forwardAdmin
			return serveProxy(cmd, p, listen, to, len(f.Faults), duration)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9000", "address to listen on")
	f.StringVar(&to, "to", "", "the service's base URL (required)")
	f.StringVar(&file, "faults", "", "faults file (required)")
	f.DurationVar(&duration, "duration", 0, "stop after this long (default: until interrupted)")
	f.BoolVar(&forwardAdmin, "forward-admin", false, "forward the service's admin API (paths under /admin), which the proxy refuses by default")
	cmd.MarkFlagRequired("faults")
	return cmd
}

func serveProxy(cmd *cobra.Command, p *chaos.Proxy, listen, to string, n int, duration time.Duration) error {
	ln, err := refserver.Listen(listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "surge chaos proxy: listening on http://%s -> %s (%d faults)\n", ln.Addr(), to, n)
	ctx := cmd.Context()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	if err := refserver.Serve(ctx, refserver.HTTPServer(p), ln, 5*time.Second); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	touched := p.Touched()
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(touched)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, touched[name]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "surge chaos proxy: stopped; requests under each fault: %s\n", strings.Join(parts, ", "))
	return nil
}
