package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

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
