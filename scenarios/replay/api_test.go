package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/surgekit/surge/scenarios"
)

func parseRequest(t *testing.T, yaml string) scenarios.Request {
	t.Helper()
	src := `name: t
target: {url: "http://127.0.0.1:1"}
scale: 1
arrivals: {start: "09:00", bucket: 10s, total: 10, profile: [100%]}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys: {j: [{request: r}]}
requests:
  r:
` + yaml
	s, err := scenarios.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := s.Request("r")
	return r
}

func TestChecksFailAsTheirOwnKinds(t *testing.T) {
	r := parseRequest(t, `    method: GET
    path: /
    check:
      - {json: status, equals: ok, kind: not_ok}
      - {json: items.0.n, equals: 3}
      - {json: id, matches: "^[a-f0-9]{4}$"}
      - {body_contains: "done"}
`)
	for _, c := range []struct{ body, kind string }{
		{`{"status": "ok", "items": [{"n": 3}], "id": "beef", "x": "done"}`, ""},
		{`{"status": "no", "items": [{"n": 3}], "id": "beef", "x": "done"}`, "not_ok"},
		{`{"status": "ok", "items": [{"n": 4}], "id": "beef", "x": "done"}`, "check_2"},
		{`{"status": "ok", "items": [{"n": 3}], "id": "BEEF", "x": "done"}`, "check_3"},
		{`{"status": "ok", "items": [{"n": 3}], "id": "beef"}`, "check_4"},
		{`not json`, "not_ok"},
	} {
		if got := checkAnswer(&r, []byte(c.body)); got != c.kind {
			t.Errorf("%s: %q, want %q", c.body, got, c.kind)
		}
	}
}

func TestExtractionsFromHeadersCookiesAndExpressions(t *testing.T) {
	r := parseRequest(t, `    method: GET
    path: /
    extract:
      trace: {header: x-request-id}
      sid: {cookie: sid}
      code: {regex: 'code=([0-9]+)'}
      whole: {regex: 'ab+'}
      n: items.1
`)
	head := []byte("HTTP/1.1 200 OK\r\nX-Request-Id: r-7\r\nSet-Cookie: theme=dark; Path=/\r\nSet-Cookie: sid=s42; HttpOnly\r\n")
	v := vars{}
	if !extract(&r, &answer{head: head, body: []byte(`{"items": [1, 2], "t": "code=123 abbb"}`)}, v) {
		t.Fatal("extract failed")
	}
	for name, want := range map[string]string{"trace": `"r-7"`, "sid": `"s42"`, "code": `"123"`, "whole": `"abbb"`, "n": "2"} {
		if string(v[name]) != want {
			t.Errorf("%s = %s, want %s", name, v[name], want)
		}
	}
	if extract(&r, &answer{head: []byte("HTTP/1.1 200 OK\r\n"), body: []byte(`{"items": [1, 2], "t": "code=1 ab"}`)}, vars{}) {
		t.Error("an answer without the header extracted")
	}
}

func TestCookieJarKeepsAndDeletes(t *testing.T) {
	jar := setCookies(nil, []byte("HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\n"))
	jar = setCookies(jar, []byte("HTTP/1.1 200 OK\r\nSet-Cookie: a=3\r\nSet-Cookie: b=; Max-Age=0\r\n"))
	if got := cookieHeader(jar); got != "a=3" {
		t.Errorf("jar %q, want a=3 (b deleted, a replaced)", got)
	}
}

func TestBodiesRender(t *testing.T) {
	e := &engine{cfg: Config{Data: &scenarios.Data{Files: map[string][]byte{"f.txt": []byte("FILE")}}}}
	v := vars{}
	v.set("user", "u 1")
	for _, c := range []struct{ yaml, body, ctype string }{
		{"    method: POST\n    path: /\n    form: {name: \"${user}\", b: x&y}\n", "b=x%26y&name=u+1", "application/x-www-form-urlencoded"},
		{"    method: POST\n    path: /\n    body: \"hi ${user}\"\n    content_type: text/csv\n", "hi u 1", "text/csv"},
		{"    method: POST\n    path: /\n    multipart: [{name: t, value: \"${user}\"}, {name: f, file: f.txt}]\n", "FILE", "multipart/form-data; boundary=" + multipartBoundary},
	} {
		r := parseRequest(t, c.yaml)
		body, ctype, err := e.bodyOf(&r, v)
		if err != nil || ctype != c.ctype || !strings.Contains(string(body), c.body) {
			t.Errorf("%s: %q (%s, %v), want %q of %s", c.yaml, body, ctype, err, c.body, c.ctype)
		}
	}
}

// BenchmarkTemplates: the engine's CPU per request (this process's: the
// generator and the loopback server it talks to) for a request built from
// the built-in variables, and for one that reads a CSV row and extracts a
// header from its answer. Each iteration plays both, alternately, on the
// same schedule (3,000 requests at 1,500/s): the machine's noise falls on
// both; csv/builtin is their ratio.
func BenchmarkTemplates(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Trace", "t-1")
		w.Write([]byte(`{"ok": true}`))
	}))
	defer srv.Close()
	dir := b.TempDir()
	var csvRows strings.Builder
	csvRows.WriteString("id,email\n")
	for i := range 1000 {
		fmt.Fprintf(&csvRows, "%d,m%d@shop.example\n", i, i)
	}
	os.WriteFile(filepath.Join(dir, "users.csv"), []byte(csvRows.String()), 0o644)
	base := "name: t\nscale: 1\ntarget: {url: %q}\narrivals: {start: \"00:00\", bucket: 2s, total: 3000, profile: [100%%], process: uniform}\n" +
		"platforms: {web: 100%%}\ncohorts: [{name: a, share: 100%%, journey: j}]\njourneys: {j: [{request: hit}]}\n%s"
	variants := []string{
		"requests: {hit: {method: GET, path: '/u/${user}/${platform}'}}\n",
		"data: {users: {file: users.csv, policy: cycle}}\n" +
			"requests: {hit: {method: GET, path: '/u/${users.id}/${users.email}', extract: {trace: {header: X-Trace}}}}\n",
	}
	var cpu [2]time.Duration
	var requests [2]int64
	for b.Loop() {
		for i, extra := range variants {
			s, err := scenarios.Parse(filepath.Join(dir, "t.yaml"), []byte(fmt.Sprintf(base, srv.URL, extra)))
			if err != nil {
				b.Fatal(err)
			}
			data, err := s.LoadData(dir)
			if err != nil {
				b.Fatal(err)
			}
			before := cpuTime()
			run, err := Run(context.Background(), Config{Scenario: s, Target: srv.URL, Seed: 1, Data: data, SendSlack: DefaultSendSlack})
			if err != nil {
				b.Fatal(err)
			}
			cpu[i] += cpuTime() - before
			requests[i] += run.Endpoints["hit"].Total.Succeeded
		}
	}
	if requests[0] == 0 || requests[1] == 0 {
		b.Fatal("no request succeeded")
	}
	per := func(i int) float64 { return float64(cpu[i].Microseconds()) / float64(requests[i]) }
	b.ReportMetric(per(0), "builtin-cpu-µs/req")
	b.ReportMetric(per(1), "csv-cpu-µs/req")
	b.ReportMetric(per(1)/per(0), "csv/builtin")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
