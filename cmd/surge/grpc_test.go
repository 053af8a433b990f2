package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgekit/surge/reports"
	"github.com/surgekit/surge/scenarios/results"
	"github.com/surgekit/surge/scenarios/rpc/rpctest"
)

const grpcScenario = `name: scanners
target: {url: "grpc://ADDR", protos: [venue.proto]}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 60, profile: [50%, 50%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests:
  checkin:
    grpc: pass.v1.Venue/CheckIn
    message: {token: "${user}", venue_id: cafe-1, party: 2, kind: DINE_IN}
    metadata: {authorization: Bearer secret}
    extract: {visit: visit_id}
journeys: {j: [{request: checkin}]}
slo: [checkin p99 <= 1s, errors <= 1%]
`

// TestGRPCRunAndValidate: a scenario of gRPC calls runs against a real
// grpc-go server (its methods from the .proto file, then from the server's
// reflection) to a GO; a method the service lacks, a field its message
// lacks and a value of the wrong type are each an error at its line, from
// surge validate before any call, and from surge run (exit 1) with
// reflection.
func TestGRPCRunAndValidate(t *testing.T) {
	srv, err := rpctest.Start(t.Cleanup, "secret")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "venue.proto"), []byte(rpctest.Proto), 0o644)
	good := strings.ReplaceAll(grpcScenario, "ADDR", srv.Addr)
	reflected := strings.Replace(good, ", protos: [venue.proto]", "", 1)
	for name, src := range map[string]string{"protos": good, "reflection": reflected} {
		path := filepath.Join(dir, name+".yaml")
		os.WriteFile(path, []byte(src), 0o644)
		runDir := filepath.Join(dir, "run-"+name)
		code, out, errs := runSurge("run", path, "--out", runDir, "--quiet")
		r, err := results.ReadFile(runDir)
		if code != 0 || err != nil {
			t.Fatalf("%s: exit %d %v\n%s\n%s", name, code, err, out, errs)
		}
		if e := r.Endpoints["checkin"].Total; e.Succeeded != 60 || r.Meta.Protocol != "h2" {
			t.Errorf("%s: %d of 60 calls ok (%v), protocol %q", name, e.Succeeded, e.Errors, r.Meta.Protocol)
		}
	}
	bad := strings.NewReplacer("pass.v1.Venue/CheckIn", "pass.v1.Venue/CheckOut").Replace(good)
	bad2 := strings.NewReplacer("venue_id: cafe-1", "venue: cafe-1", "party: 2", "party: two").Replace(good)
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"method", bad, []string{"method.yaml:9: requests.checkin.grpc: no method pass.v1.Venue/CheckOut in venue.proto (there are pass.v1.Venue/Batch, pass.v1.Venue/CheckIn, pass.v1.Venue/Watch)"}},
		{"fields", bad2, []string{
			`fields.yaml:10: requests.checkin.message.party: field party is int32: want an integer, have the string "two"`,
			`fields.yaml:10: requests.checkin.message.venue: pass.v1.CheckInRequest has no field "venue" (it has token, venue_id, party, kind, tags)`}},
		{"streaming", strings.Replace(good, "Venue/CheckIn", "Venue/Batch", 1), []string{"requests.checkin.grpc: pass.v1.Venue/Batch takes a stream; surge calls unary and server-streaming methods"}},
		{"no such file", strings.Replace(good, "[venue.proto]", "[nowhere.proto]", 1), []string{"target.protos", "nowhere.proto"}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
		os.WriteFile(path, []byte(c.src), 0o644)
		code, out, _ := runSurge("validate", path)
		for _, w := range c.want {
			if code != 1 || !strings.Contains(out, w) {
				t.Errorf("validate %s: exit %d, output %q; want 1 and %q", c.name, code, out, w)
			}
		}
	}
	calls := srv.Calls.Load()
	path := filepath.Join(dir, "reflected-bad.yaml")
	os.WriteFile(path, []byte(strings.Replace(strings.Replace(bad2, ", protos: [venue.proto]", "", 1), "name: scanners", "name: reflected", 1)), 0o644)
	code, out, errs := runSurge("run", path, "--out", filepath.Join(dir, "never"), "--quiet")
	if code != 1 || !strings.Contains(errs, "requests.checkin.message.venue") || srv.Calls.Load() != calls {
		t.Errorf("run with reflection and a bad field: exit %d, %d calls made\n%s\n%s", code, srv.Calls.Load()-calls, out, errs)
	}
}

// TestInitFromGRPC: surge init writes a call per unary and server-streaming
// method (the client-streaming one left out) from a .proto file and from the service's
// reflection; each validates as written, and the reflected one runs.
func TestInitFromGRPC(t *testing.T) {
	srv, err := rpctest.Start(t.Cleanup, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	proto := filepath.Join(dir, "venue.proto")
	os.WriteFile(proto, []byte(rpctest.Proto), 0o644)
	for name, args := range map[string][]string{
		"proto":      {"--proto", proto, "--target", "grpc://" + srv.Addr},
		"reflection": {"--grpc", "grpc://" + srv.Addr},
	} {
		out := filepath.Join(dir, name+".yaml")
		code, stdout, errs := runSurge(append([]string{"init", "-o", out}, args...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", name, code, stdout, errs)
		}
		src := string(must(os.ReadFile(out)))
		if !strings.Contains(src, "grpc: pass.v1.Venue/CheckIn") || !strings.Contains(src, "grpc: pass.v1.Venue/Watch") || strings.Contains(src, "Batch") || !strings.Contains(src, "expect: [OK]") {
			t.Errorf("%s: the scaffold:\n%s", name, src)
		}
		if code, stdout, _ := runSurge("validate", out); code != 0 {
			t.Errorf("%s: the scaffold does not validate: %s", name, stdout)
		}
	}
	calls := srv.Calls.Load()
	path := filepath.Join(dir, "reflection.yaml")
	short := strings.Replace(string(must(os.ReadFile(path))), "total: 1000", "total: 30", 1)
	short = strings.Replace(short, "bucket: 15m", "bucket: 1s", 1)
	os.WriteFile(path, []byte(short), 0o644)
	code, out, errs := runSurge("run", path, "--out", filepath.Join(dir, "run"), "--quiet")
	r, err := results.ReadFile(filepath.Join(dir, "run"))
	if code != 0 || err != nil {
		t.Fatalf("the reflected scaffold's run: exit %d %v\n%s%s", code, err, out, errs)
	}
	if e := r.Endpoints["check_in"].Total; e.Succeeded == 0 || e.Succeeded != srv.Calls.Load()-calls {
		t.Errorf("the reflected scaffold's run: %d calls ok, the server saw %d", e.Succeeded, srv.Calls.Load()-calls)
	}
	if w := r.Endpoints["watch"].Total; w.Succeeded == 0 || w.Messages != w.Succeeded || !strings.Contains(out, "watch streams: first message p50") {
		t.Errorf("the stream: %d ok, %d messages; the summary:\n%s", w.Succeeded, w.Messages, out)
	}
}

// TestGRPCViaProxy: calls through the chaos proxy (methods by reflection,
// through it) reach the gRPC service over HTTP/2; in the fault's window
// the proxy answers them UNAVAILABLE as a gRPC status, which the results
// name unavailable, not shed or 5xx.
func TestGRPCViaProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3 s run")
	}
	srv, err := rpctest.Start(t.Cleanup, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "via.yaml")
	os.WriteFile(path, []byte(`name: via
target: {url: "grpc://`+srv.Addr+`", via: proxy}
scale: 1
arrivals: {start: "12:00", bucket: 1s, total: 90, profile: [33.3%, 33.4%, 33.3%], process: uniform}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
requests: {hit: {grpc: pass.v1.Venue/CheckIn, message: {token: "${user}"}}}
journeys: {j: [{request: hit}]}
faults: [{name: busy, at: "12:00:01", for: 1s, kind: error, status: 503, stage: "*"}]
slo: [errors <= 50%]
`), 0o644)
	runDir := filepath.Join(dir, "run")
	code, out, errs := runSurge("run", path, "--out", runDir, "--quiet")
	r, err := results.ReadFile(runDir)
	if code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	b := r.Endpoints["hit"].Buckets
	if b[0].Failed() != 0 || b[2].Failed() != 0 || b[1].Errors["unavailable"] != b[1].Attempted || b[1].Attempted == 0 {
		t.Errorf("errors per second %v %v %v: want unavailable in second 1 only", b[0].Errors, b[1].Errors, b[2].Errors)
	}
	if ok := r.Endpoints["hit"].Total.Succeeded; srv.Calls.Load() != ok {
		t.Errorf("the service saw %d calls, %d succeeded: the proxy should have kept the failed ones from it", srv.Calls.Load(), ok)
	}
}

// TestScannersOverGRPC: the shipped scanners scenario checks QR codes in
// through the embedded reference server's gRPC face (methods by its
// reflection) to a GO, and its figures agree with the prediction's; a
// forged token is INVALID_ARGUMENT, its own kind, and the gate says NO-GO.
func TestScannersOverGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("two 5 s runs")
	}
	dir := t.TempDir()
	code, out, errs := runSurge("run", "../../scenarios/scanners.yaml", "--out", filepath.Join(dir, "run"), "--compression", "4", "--quiet")
	r, err := results.ReadFile(filepath.Join(dir, "run"))
	if code != 0 || err != nil {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errs)
	}
	if c := r.Endpoints["checkin.grpc"].Total; c.Succeeded == 0 || c.Succeeded != c.Offered || r.Meta.Protocol != "h2" {
		t.Errorf("checkin.grpc: %d of %d ok (%v), protocol %q", c.Succeeded, c.Offered, c.Errors, r.Meta.Protocol)
	}
	forged := strings.Replace(string(must(os.ReadFile("../../scenarios/scanners.yaml"))), `token: "${token}"`, `token: forged`, 1)
	path := filepath.Join(dir, "forged.yaml")
	os.WriteFile(path, []byte(forged), 0o644)
	code, out, _ = runSurge("run", path, "--out", filepath.Join(dir, "forged"), "--compression", "4", "--quiet")
	r, err = results.ReadFile(filepath.Join(dir, "forged"))
	if code != 2 || err != nil {
		t.Fatalf("forged tokens: exit %d %v, want 2 (NO-GO)\n%s", code, err, out)
	}
	if c := r.Endpoints["checkin.grpc"].Total; c.Errors["invalid_argument"] == 0 || c.Errors["invalid_argument"] != c.Attempted {
		t.Errorf("forged tokens: %v of %d attempts, want all invalid_argument", c.Errors, c.Attempted)
	}
}

// TestCapacityOverGRPC: surge capacity searches the scanners scenario
// (QR over HTTP/2, check-in over gRPC, the embedded server): its steps
// answer the calls, the calibration reads the stage metrics over the same
// HTTP/2 connection's control plane and writes a profile, and the page is
// written. Bounded by --max (two steps, about 25 s here) with a budget
// that a loaded CI machine's slow first step cannot exhaust (a 40 s budget
// left room for one step once); what is judged is that it works, not the
// knee's accuracy (the HTTP/1.1 live tests judge that).
func TestCapacityOverGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40 s capacity search")
	}
	dir := filepath.Join(t.TempDir(), "cap")
	code, out, errs := runSurge("capacity", "../../scenarios/scanners.yaml", "--budget", "2m", "--max", "5", "--min-step", "3s", "--out", dir, "--quiet")
	if code == 1 {
		t.Fatalf("exit 1\n%s\n%s", out, errs)
	}
	var c reports.Capacity
	if err := json.Unmarshal(must(os.ReadFile(filepath.Join(dir, "capacity.json"))), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Steps) < 2 || c.Steps[0].Endpoints["checkin.grpc"].Goodput == 0 {
		t.Fatalf("%d steps, the first's checkin.grpc %+v: want the calls answered", len(c.Steps), c.Steps)
	}
	if _, err := os.Stat(filepath.Join(dir, "profile.yaml")); err != nil || c.Profile == "" {
		t.Errorf("no calibrated profile (%v): %s", err, out)
	}
	if page := string(must(os.ReadFile(filepath.Join(dir, "report.html")))); !strings.Contains(page, "checkin.grpc") {
		t.Error("the capacity page does not show the gRPC call")
	}
}
