package scenarios

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestShippedScenariosValidate(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	examples, _ := filepath.Glob("examples/*.yaml")
	if len(files) < 4 || len(examples) < 1 {
		t.Fatalf("shipped scenarios: %v %v", files, examples)
	}
	for _, f := range append(files, examples...) {
		if b := filepath.Base(f); b == "faults.yaml" || b == "petstore.yaml" { // the chaos proxy's faults and an OpenAPI document, not scenarios
			continue
		}
		s, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if s.Name+".yaml" != filepath.Base(f) {
			t.Errorf("%s names itself %q", f, s.Name)
		}
	}
}

// TestLunchNumbers checks the lunch scenario carries SOURCES.md §3.1's figures:
// 1/50 of the 840/s national peak minute is about 17 check-ins/s.
func TestLunchNumbers(t *testing.T) {
	s, err := Load("lunch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	peakShare := float64(s.Arrivals.Profile[4]) // the 12:00 bucket
	bucketRate := float64(s.Arrivals.Total) * peakShare / s.Arrivals.Bucket.Seconds()
	peakMinute := bucketRate * s.Arrivals.Burst.Factor * float64(s.Scale)
	if peakMinute < 16 || peakMinute > 17.5 {
		t.Errorf("peak-minute check-ins at 1/50 = %.1f/s, want about 16.8", peakMinute)
	}
	if w := s.Window(); w.From.String() != "11:00" || w.To.String() != "14:00" {
		t.Errorf("window %v", w)
	}
	if got := s.TimeoutFor(s.Journeys["first-time"][3]); got != 15*time.Second {
		t.Errorf("certificate.issue timeout = %v, want 15s", got)
	}
	if got := s.TimeoutFor(s.Journeys["returning"][0]); got != 10*time.Second {
		t.Errorf("qr timeout = %v, want 10s", got)
	}
}

func TestValues(t *testing.T) {
	for in, want := range map[string]float64{"35%": 0.35, "2.5%": 0.025, "100%": 1} {
		if p, err := ParsePercent(in); err != nil || float64(p) != want {
			t.Errorf("ParsePercent(%q) = %v, %v", in, p, err)
		}
	}
	for _, bad := range []string{"35", "x%", "%"} {
		if _, err := ParsePercent(bad); err == nil {
			t.Errorf("ParsePercent(%q) accepted", bad)
		}
	}
	for in, want := range map[string]float64{"50/s": 50, "3000/min": 50, "1.8k/h": 0.5, "2M/h": 2e6 / 3600} {
		if r, err := ParseRate(in); err != nil || float64(r) != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, r, err, want)
		}
	}
	for _, bad := range []string{"50", "50/day", "x/s"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
	for in, want := range map[string]float64{"4.2M": 4.2e6, "12k": 12000, "1500": 1500, "1_000": 1000} {
		if c, err := ParseCount(in); err != nil || float64(c) != want {
			t.Errorf("ParseCount(%q) = %v, %v", in, c, err)
		}
	}
	for in, want := range map[string]string{"1/50": "1/50", "0.1": "1/10", "1": "1"} {
		if f, err := ParseFraction(in); err != nil || f.String() != want {
			t.Errorf("ParseFraction(%q) = %v, %v", in, f, err)
		}
	}
	for in, want := range map[string]time.Duration{"11:45": 11*time.Hour + 45*time.Minute, "00:00:30": 30 * time.Second} {
		if c, err := ParseClock(in); err != nil || time.Duration(c) != want {
			t.Errorf("ParseClock(%q) = %v, %v", in, c, err)
		}
	}
	for _, bad := range []string{"24:00", "11", "11:5", "11:60", "ab:cd"} {
		if _, err := ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) accepted", bad)
		}
	}
}

func TestClauses(t *testing.T) {
	c, err := ParseClause("qr  p99.9 <= 1.5s")
	if err != nil || c.Endpoint != "qr" || c.Percentile() != 99.9 || c.Duration != 1500*time.Millisecond || c.Text != "qr p99.9 <= 1.5s" {
		t.Fatalf("%+v %v", c, err)
	}
	if !c.Holds(1.5) || c.Holds(1.6) {
		t.Error("Holds at the limit")
	}
	g, _ := ParseClause("goodput >= 99%")
	if !g.Holds(0.995) || g.Holds(0.98) {
		t.Error("goodput clause")
	}
	for _, bad := range []string{"p99 2s", "qr p99 =< 2s", "qr p99 <= fast", "qr p42 <= 1s", "qr goodput >= 9%", "errors <= 5", "a b c d e"} {
		if _, err := ParseClause(bad); err == nil {
			t.Errorf("ParseClause(%q) accepted", bad)
		}
	}
}

// TestInvalidScenarios mutates the smoke scenario one way at a time and
// checks each problem is named with its line and key path.
func TestInvalidScenarios(t *testing.T) {
	base, err := os.ReadFile("smoke.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ from, to, want string }{
		{"scale: 1\n", "scale: 0\n", ":10: scale: must be within (0, 1]"},
		{"bucket: 5s", "bucket: -5s", ":13: arrivals.bucket: must be a positive duration"},
		{"bucket: 5s", "bucket: 5 seconds", ":13: arrivals.bucket: cannot decode"},
		{"total: 150", "total: lots", `:14: arrivals.total: "lots" is not a count`},
		{"[33.3%, 33.4%, 33.3%]", "[33.3%, 33.4%, 30%]", ":15: arrivals.profile: the buckets add up to 96.7%, not 100%"},
		{"[33.3%, 33.4%, 33.3%]", "[33.3, 33.4, 33.3]", ":15: arrivals.profile[0]: \"33.3\": write percentages with their sign"},
		{"process: uniform", "process: bursty", `:16: arrivals.process: want "poisson" or "uniform"`},
		{"{kakao: 50%, naver: 50%}", "{kakao: 50%, naver: 40%}", ":18: platforms: the shares add up to 90%"},
		{"share: 90%, journey: returning", "share: 80%, journey: returning", ":20: cohorts: the cohorts' shares add up to 90% at 12:00"},
		{"journey: returning}", "journey: leaving}", `:21: cohorts[0].journey: unknown journey "leaving"`},
		{"    - request: qr\n    - think", "    - request: qr_code\n    - think", `:26: journeys.returning[0].request: unknown request "qr_code"`},
		{"      restart_from: {expired_qr: qr}", "      restart_from: {expired_qr: checkin}", `:29: journeys.returning[2].restart_from.expired_qr: "checkin" is not an earlier request`},
		{"      restart_from: {expired_qr: qr}", "      restart_from: {lost_phone: qr}", `:29: journeys.returning[2].restart_from.lost_phone: unknown error kind "lost_phone"`},
		{`think: "uniform(100ms, 1s)"`, `think: "uniform(1s, 100ms)"`, ":27: journeys.returning[1].think: distribution"},
		{"give_up: {abandon: 100%}", "give_up: {abandon: 50%, pray: 50%}", `:43: behaviour.give_up.pray: unknown decision "pray"`},
		{"on: [timeout, shed, 5xx]", "on: [timeout, sorrow]", `:41: behaviour.retry.on[1]: unknown error kind "sorrow"`},
		{"  - qr p99 <= 2s", "  - qr p99 <= soon", `:46: slo[0]: clause "qr p99 <= soon"`},
		{"  - qr p99 <= 2s", "  - qrr p99 <= 2s", `:46: slo[0]: clause "qrr p99 <= 2s": unknown request "qrr"`},
		{"  - qr p99 <= 2s", "  - errors <= 150%", `:46: slo[0]: clause "errors <= 150%": a share must be within 0% and 100%, have 150%`},
		{"  - qr p99 <= 2s", "  - qr p99 <= -400ms", `:46: slo[0]: clause "qr p99 <= -400ms": a latency limit must be positive`},
		{"  - qr p99 <= 2s", "  - qr p99_some <= 2s", `:46: slo[0]: clause "qr p99_some <= 2s": unknown metric "p99_some"`},
		{"name: smoke\n", "name: smoke\nsafety: {abort_if: qr p99 >= 1s, for: 10s}\n", `:5: safety.abort_if: clause "qr p99 >= 1s": a safety abort judges a share`},
		{"name: smoke\n", "name: smoke\nnmae: x\n", `:5: nmae: unknown key "nmae"`},
		{"name: smoke\n", "name: smoke\nrequests: {hit: {method: GET, path: /x, headers: {host: a}}}\n", `:5: requests.hit.headers.host: set by surge from the target and the body`},
		{"name: smoke\n", "name: smoke\nrequests: {hit: {method: GET, path: /x, headers: {\"X Y\": a}}}\n", `:5: requests.hit.headers.X Y: not a valid header name`},
		{"name: smoke\n", "name: smoke\nrequests: {hit: {method: GET, path: /x, headers: {X-Y: \"a\\nb\"}}}\n", `:5: requests.hit.headers.X-Y: a header value may not hold a line break`},
		{"  profile: as-built\n", "  profile: as-built\n  url: \"h2c://127.0.0.1:8080\"\n  tls: {ca: ca.pem}\n", `:10: target.tls: the target h2c://127.0.0.1:8080 is not https (an h2c:// target is HTTP/2 without TLS)`},
		{"  profile: as-built\n", "  profile: as-built\n  url: \"http://127.0.0.1:8080\"\n  protocol: h2\n", `:10: target.protocol: HTTP/2 without TLS is an h2c:// URL: write target.url as h2c://127.0.0.1:8080`},
		{"  profile: as-built\n", "  profile: as-built\n  url: \"h2c://127.0.0.1:8080\"\n  protocol: http/1.1\n", `:10: target.protocol: an h2c:// target speaks HTTP/2`},
		{"  profile: as-built\n", "  profile: as-built\n  url: \"https://127.0.0.1:8080\"\n  protocol: h3\n", `:10: target.protocol: want h2 or http/1.1`},
		{"  profile: as-built\n", "  profile: as-built\n  url: \"ftp://127.0.0.1:8080\"\n", `:9: target.url: want an http://, https://, h2c://, grpc://, grpcs://, ws:// or wss:// URL`},
	}
	for _, c := range cases {
		src := strings.Replace(string(base), c.from, c.to, 1)
		if src == string(base) {
			t.Errorf("case %q changes nothing", c.want)
			continue
		}
		_, err := Parse("smoke.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "smoke.yaml"+c.want) {
			t.Errorf("want %q, got:\n%v", "smoke.yaml"+c.want, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"smoke.yaml", "lunch.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Errorf("error without the file name: %v", err)
			}
			return
		}
		s.Window() // a valid scenario's derived values must not panic
		if again, err := Parse("fuzz.yaml", data); err != nil || !reflect.DeepEqual(s, again) {
			t.Errorf("parsing the same bytes again: %v, or a different scenario", err)
		}
		for _, js := range s.Journeys {
			for _, st := range js {
				s.TimeoutFor(st)
			}
		}
	})
}

func TestSchemaCoversEveryKey(t *testing.T) {
	s := Schema()
	props := s["properties"].(map[string]any)
	for _, key := range []string{"arrivals", "cohorts", "journeys", "behaviour", "slo", "safety", "extra_arrivals", "compression"} {
		if props[key] == nil {
			t.Errorf("schema lacks %q", key)
		}
	}
	arr := props["arrivals"].(map[string]any)["properties"].(map[string]any)
	if arr["bucket"].(map[string]any)["pattern"] == nil || arr["profile"].(map[string]any)["type"] != "array" {
		t.Errorf("arrivals schema: %v", arr)
	}
	step := props["journeys"].(map[string]any)["additionalProperties"].(map[string]any)["items"].(map[string]any)
	if step["additionalProperties"] != false || step["properties"].(map[string]any)["think"] == nil {
		t.Errorf("step schema: %v", step)
	}
}

func TestFaultValidation(t *testing.T) {
	base, _ := os.ReadFile("smoke.yaml")
	good := string(base) + `faults:
  - {name: slow-kdca, at: "12:00:05", for: 5s, kind: latency, stage: kdca, latency: "exp(200ms)", probability: 50%}
  - {name: half, at: "12:00:02", for: 2s, kind: capacity, stage: kdca, workers: 4}
`
	if _, err := Parse("smoke.yaml", []byte(good)); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ from, to, want string }{
		{`kind: latency, stage: kdca, latency: "exp(200ms)"`, `kind: latency, stage: kdca`, `faults[0].latency: a latency fault needs latency`},
		{`kind: latency`, `kind: meteor`, `faults[0].kind: unknown fault kind "meteor"`},
		{`at: "12:00:05"`, `at: "13:00"`, `faults[0].at: 13:00 is outside the window 12:00-12:00:15`},
		{`for: 5s, kind: latency`, `for: -5s, kind: latency`, `faults[0].for: must be a positive duration`},
		{`probability: 50%`, `probability: 150%`, `faults[0].probability: must be within 0% and 100%`},
		{`workers: 4`, `workers: -1`, `faults[1].workers: a capacity fault needs workers >= 0`},
		{`name: half`, `name: slow-kdca`, `faults[1].name: fault "slow-kdca" is defined twice`},
	}
	for _, c := range cases {
		src := strings.Replace(good, c.from, c.to, 1)
		if _, err := Parse("smoke.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	overlap := good + `  - {name: zero, at: "12:00:03", for: 5s, kind: capacity, stage: kdca, workers: 0}` + "\n"
	if _, err := Parse("smoke.yaml", []byte(overlap)); err == nil || !strings.Contains(err.Error(), `capacity fault "zero" overlaps capacity fault "half"`) {
		t.Errorf("overlap: %v", err)
	}
}

func TestClientSideFaultValidation(t *testing.T) {
	base, _ := os.ReadFile("smoke.yaml")
	for fault, want := range map[string]string{
		`{name: a, at: "12:00:01", for: 1s, kind: outage}`:                                "faults[0].stage: give a stage of the service",
		`{name: a, at: "12:00:01", for: 1s, kind: outage, stage: kdca, platform: naver}`:  "not both",
		`{name: a, at: "12:00:01", for: 1s, kind: outage, platform: cyworld}`:             `faults[0].platform: unknown platform "cyworld"`,
		`{name: a, at: "12:00:01", for: 1s, kind: outage, request: fax}`:                  `faults[0].request: unknown request "fax"`,
		`{name: a, at: "12:00:01", for: 1s, kind: capacity, platform: naver, workers: 1}`: "a capacity fault acts on a stage of the service, not on the client side",
	} {
		src := string(base) + "faults: [" + fault + "]\n"
		if _, err := Parse("smoke.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", fault, want, err)
		}
	}
	ok := string(base) + `faults: [{name: a, at: "12:00:01", for: 1s, kind: latency, platform: naver, request: qr, latency: 1s}]` + "\n"
	if _, err := Parse("smoke.yaml", []byte(ok)); err != nil {
		t.Error(err)
	}
}

func TestBandwidthFaultValidation(t *testing.T) {
	base, _ := os.ReadFile("smoke.yaml")
	for fault, want := range map[string]string{
		`{name: a, at: "12:00:01", for: 1s, kind: bandwidth, platform: naver}`:                  "faults[0].bandwidth: a bandwidth fault needs bytes per second",
		`{name: a, at: "12:00:01", for: 1s, kind: bandwidth, stage: kdca, bandwidth: 8k/s}`:     "a bandwidth fault acts on the proxy or the client side, not on a stage of the service",
		`{name: a, at: "12:00:01", for: 1s, kind: bandwidth, platform: naver, bandwidth: 8k/s}`: "",
	} {
		_, err := Parse("smoke.yaml", []byte(string(base)+"faults: ["+fault+"]\n"))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: want %q, got %v", fault, want, err)
		}
	}
}
