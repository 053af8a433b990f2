package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surgekit/surge/ci/testcert"
	"github.com/surgekit/surge/scenarios/results"
)

// TestRunOverHTTP2: a scenario runs unchanged over HTTP/2. The shipped
// smoke scenario pinned to h2 speaks h2c to the embedded reference server
// and passes its gate; a service that speaks only h2c gets a fault on its
// timeline from the chaos proxy, over HTTP/2 on both of the proxy's sides.
func TestRunOverHTTP2(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 s run and a 3 s one")
	}
	dir := t.TempDir()
	smoke := strings.Replace(string(must(os.ReadFile("../../scenarios/smoke.yaml"))), "  profile: as-built\n", "  profile: as-built\n  protocol: h2\n", 1)
	path := filepath.Join(dir, "smoke-h2.yaml")
	os.WriteFile(path, []byte(smoke), 0o644)
	runDir := filepath.Join(dir, "smoke")
	code, out, errs := runSurge("run", path, "--out", runDir, "--compression", "3")
	r, err := results.ReadFile(runDir)
	if code != 0 || err != nil {
		t.Fatalf("smoke over h2: exit %d %v\n%s\n%s", code, err, out, errs)
	}
	if r.Meta.Protocol != "h2" || !strings.HasPrefix(r.Meta.Target, "h2c://127.0.0.1:") || !strings.Contains(out, "profile as-built, HTTP/2): GO") {
		t.Errorf("protocol %q target %q; summary:\n%s", r.Meta.Protocol, r.Meta.Target, out)
	}
	if report := string(must(os.ReadFile(filepath.Join(runDir, "report.html")))); !strings.Contains(report, "over HTTP/2") {
		t.Error("the report does not say the run was over HTTP/2")
	}

	var h2Hits, other atomic.Int64
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2Hits.Add(1)
		} else {
			other.Add(1)
		}
	}))
	upstream.Config.Protocols = new(http.Protocols)
	upstream.Config.Protocols.SetUnencryptedHTTP2(true)
	upstream.Start()
	defer upstream.Close()
	path = filepath.Join(dir, "via.yaml")
	os.WriteFile(path, []byte(`name: via
target: {url: "h2c://`+strings.TrimPrefix(upstream.URL, "http://")+`", via: proxy}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 90, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {method: GET, path: /}}
journeys: {j: [{request: hit}]}
faults: [{name: down, at: "12:00:01", for: 1s, kind: outage, stage: "*"}]
slo: [errors <= 50%]
`), 0o644)
	runDir = filepath.Join(dir, "via")
	code, out, errs = runSurge("run", path, "--out", runDir, "--quiet")
	r, err = results.ReadFile(runDir)
	if code != 0 || err != nil {
		t.Fatalf("via proxy to h2c: exit %d %v\n%s\n%s", code, err, out, errs)
	}
	b := r.Endpoints["hit"].Buckets
	if r.Meta.Protocol != "h2" || b[0].Failed() != 0 || b[2].Failed() != 0 || b[1].Errors["shed"] != b[1].Attempted {
		t.Errorf("protocol %q; errors per second %v %v %v: want the outage in second 1 only, over h2", r.Meta.Protocol, b[0].Errors, b[1].Errors, b[2].Errors)
	}
	if int(h2Hits.Load()) != 90-int(b[1].Errors["shed"]) || other.Load() != 0 {
		t.Errorf("the service saw %d requests over h2 and %d otherwise; want the %d the proxy let through, all h2", h2Hits.Load(), other.Load(), 90-b[1].Errors["shed"])
	}
}

// TestRunAgainstNginxHTTP2: a scenario runs unchanged against a server
// surge did not write: Debian's nginx, TLS with ALPN h2 (and a private
// CA, as target.tls names it). ALPN picks HTTP/2, every request succeeds,
// and nginx's own log says each came over HTTP/2.0.
func TestRunAgainstNginxHTTP2(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx and a 3 s run")
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("SURGE_REQUIRE_NGINX") != "" {
			t.Fatal("no nginx binary, and SURGE_REQUIRE_NGINX is set")
		}
		t.Skip("no nginx on this machine: bash ci/install-nginx.sh installs it (the CI does)")
	}
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	addr := freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log %[1]s/access.log;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s ssl http2;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    location /things { default_type application/json; return 200 '{"id": "x-1"}'; }
  }
}
`, dir, addr)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	cmd := exec.Command(bin, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, addr)
	path := filepath.Join(dir, "nginx.yaml")
	os.WriteFile(path, []byte(`name: nginx
target: {url: "https://`+addr+`", tls: {ca: cert.pem}}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 90, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests:
  make: {method: GET, path: /things, extract: {id: id}}
  look: {method: GET, path: "/things/${id}"}
journeys: {j: [{request: make}, {request: look}]}
slo: [errors <= 0%]
`), 0o644)
	runDir := filepath.Join(dir, "run")
	code, out, errs := runSurge("run", path, "--out", runDir, "--quiet")
	r, err := results.ReadFile(runDir)
	if code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	if r.Meta.Protocol != "h2" || r.Endpoints["make"].Total.Succeeded != 90 || r.Endpoints["look"].Total.Succeeded != 90 {
		t.Errorf("protocol %q, make %+v, look %+v", r.Meta.Protocol, r.Endpoints["make"].Total.Errors, r.Endpoints["look"].Total.Errors)
	}
	log := string(must(os.ReadFile(filepath.Join(dir, "access.log"))))
	if n := strings.Count(log, `HTTP/2.0"`); n != 180 {
		t.Errorf("nginx logged %d requests over HTTP/2.0, want 180:\n%.2000s", n, log)
	}
}

// selfSigned is a certificate for 127.0.0.1 and its key, in PEM.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := testcert.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

// waitListening waits up to 5 s for addr to accept connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
