package profile

import (
	"strings"
	"testing"
	"time"
)

const minimal = `name: t
platforms:
  kakao: {proof: wallet}
  naver: {proof: fetch}
stages:
  relay.kakao: {workers: 2, queue: 4, service: 5ms}
  relay.naver: {workers: 2, queue: 4, service: 5ms}
  kdca: {workers: 8, queue: 16, service: "uniform(10ms, 30ms)"}
routes:
  qr.fetch:
    - stage: relay.{platform}
      calls: [{stage: kdca}]
  qr.wallet:
    - {stage: "relay.{platform}"}
  checkin:
    - {stage: kdca}
`

func TestParseMinimalAndRoutes(t *testing.T) {
	p, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.RouteName("qr", "naver"); got != "qr.fetch" {
		t.Errorf("RouteName(qr, naver) = %q", got)
	}
	if got := p.RouteName("qr", "kakao"); got != "qr.wallet" {
		t.Errorf("RouteName(qr, kakao) = %q", got)
	}
	if got := p.RouteName("checkin", "kakao"); got != "checkin" {
		t.Errorf("RouteName(checkin, kakao) = %q", got)
	}
	steps, _ := p.Route("qr", "naver")
	var seen []string
	Walk(steps, "routes.qr.fetch", func(s Step, path string, held []string) {
		seen = append(seen, path+"="+StageName(s.Stage, "naver")+"/"+strings.Join(held, ","))
	})
	want := "routes.qr.fetch[0]=relay.naver/ routes.qr.fetch[0].calls[0]=kdca/relay.{platform}"
	if strings.Join(seen, " ") != want {
		t.Errorf("walk = %q, want %q", strings.Join(seen, " "), want)
	}
	if s := p.Stages["kdca"]; s.Service.Mean() != 20*time.Millisecond {
		t.Errorf("kdca mean %v", s.Service.Mean())
	}
}

func TestInvalidProfilesNameFileLineAndKey(t *testing.T) {
	cases := []struct{ name, from, to, want string }{
		{"zero workers", "kdca: {workers: 8", "kdca: {workers: 0", "bad.yaml:8: stages.kdca.workers: must be at least 1, have 0"},
		{"unknown stage", "calls: [{stage: kdca}]", "calls: [{stage: kdcaa}]", `bad.yaml:12: routes.qr.fetch[0].calls[0].stage: unknown stage "kdcaa"`},
		{"platform stage missing", "  relay.naver: {workers: 2, queue: 4, service: 5ms}\n", "", `bad.yaml:10: routes.qr.fetch[0].stage: unknown stage "relay.naver"`},
		{"bad proof", "naver: {proof: fetch}", "naver: {proof: carrier-pigeon}", `bad.yaml:4: platforms.naver.proof: want "fetch" or "wallet", have "carrier-pigeon"`},
		{"unknown key", "kdca: {workers: 8,", "kdca: {wrokers: 8,", `bad.yaml:8: stages.kdca.wrokers: unknown key "wrokers"`},
		{"wait without timeout", "kdca: {workers: 8, queue: 16,", "kdca: {workers: 8, queue: 16, when_full: wait,", "bad.yaml:8: stages.kdca.queue_timeout: when_full: wait needs a queue_timeout"},
		{"bad policy", "kdca: {workers: 8, queue: 16,", "kdca: {workers: 8, queue: 16, when_full: panic,", `bad.yaml:8: stages.kdca.when_full: want "shed" or "wait"`},
		{"timeout status", "name: t\n", "name: t\nserver: {timeout_status: 500}\n", "bad.yaml:2: server.timeout_status: want 504 (the default) or 503, have 500"},
		{"negative rate limit", "kdca: {workers: 8, queue: 16,", "kdca: {workers: 8, queue: 16, rate_limit: -5,", "bad.yaml:8: stages.kdca.rate_limit: want visits a second, at least 0"},
		{"burst without a rate", "kdca: {workers: 8, queue: 16,", "kdca: {workers: 8, queue: 16, burst: 10,", "bad.yaml:8: stages.kdca.burst: want a number of tokens, at least 1, with a rate_limit"},
		{"negative queue", "kdca: {workers: 8, queue: 16", "kdca: {workers: 8, queue: -1", "bad.yaml:8: stages.kdca.queue: must not be negative"},
		{"self call", "calls: [{stage: kdca}]", `calls: [{stage: "relay.{platform}"}]`, "bad.yaml:12: routes.qr.fetch[0].calls[0].stage: stage \"relay.{platform}\" is called while its caller already holds"},
		{"share above 100%", "calls: [{stage: kdca}]", "calls: [{stage: kdca, share: 120%}]", "bad.yaml:12: routes.qr.fetch[0].calls[0].share: want the share of requests that make this visit, above 0% and at most 100%; have 120%"},
		{"share of none", "calls: [{stage: kdca}]", "calls: [{stage: kdca, share: 0%}]", "bad.yaml:12: routes.qr.fetch[0].calls[0].share: want the share of requests that make this visit, above 0% and at most 100%; have 0%"},
		{"share without its sign", "calls: [{stage: kdca}]", "calls: [{stage: kdca, share: 0.2}]", "bad.yaml:12: routes.qr.fetch[0].calls[0].share: \"0.2\": write percentages with their sign"},
		{"nested async", "calls: [{stage: kdca}]", "calls: [{stage: kdca, async: true}]", "bad.yaml:12: routes.qr.fetch[0].calls[0].async: only a top-level step"},
		{"bad distribution", `"uniform(10ms, 30ms)"`, `"uniform(30ms, 10ms)"`, "bad.yaml:8: stages.kdca.service: distribution \"uniform(30ms, 10ms)\": hi 10ms is below lo 30ms"},
		{"no name", "name: t\n", "", "bad.yaml: name: required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(minimal, c.from, c.to, 1)
			if src == minimal {
				t.Fatalf("case does not change the profile")
			}
			_, err := Parse("bad.yaml", []byte(src))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestRateWindow(t *testing.T) {
	var w RateWindow
	for range 7 {
		w.Add(10)
	}
	if w.Rate(10) != 7 || w.Rate(11) != 7 || w.Rate(12) != 0 {
		t.Errorf("rates %v %v %v, want 7 7 0", w.Rate(10), w.Rate(11), w.Rate(12))
	}
	w.Add(11)
	if w.Rate(11) != 7 { // the previous whole second still counts
		t.Errorf("rate %v, want 7", w.Rate(11))
	}
	w.Add(20)
	if w.Rate(20) != 1 {
		t.Errorf("after a gap: %v, want 1", w.Rate(20))
	}
}

func TestCalls(t *testing.T) {
	p, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Calls()
	if len(got) != 1 || strings.Join(got["relay.naver"], ",") != "kdca" {
		t.Errorf("calls %v, want relay.naver calling kdca (qr.fetch, which kakao's wallet platform does not take)", got)
	}
}

func TestRules(t *testing.T) {
	src := minimal + `rules:
  - {name: qr-expiry, expires: qr, after: 15s, answer: {status: 403, code: qr_expired}}
  - {name: checkin-limit, limit: checkin, requests: 2, per: 1m, answer: {status: 429, code: slow_down}}
`
	p, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := p.Expiry("qr"); !ok || r.After != 15*time.Second || r.Answer.Code != "qr_expired" {
		t.Errorf("expiry %+v %v", r, ok)
	}
	if r, ok := p.LimitOf("checkin"); !ok || r.Requests != 2 {
		t.Errorf("limit %+v %v", r, ok)
	}
	for _, c := range []struct{ from, to, want string }{
		{"expires: qr,", "expires: qrr,", `rules[0].expires: unknown endpoint "qrr"`},
		{"after: 15s", "after: 0s", "rules[0].after: an expiry needs a positive duration"},
		{"requests: 2", "requests: 0", "rules[1].requests: must be at least 1"},
		{"status: 403", "status: 200", "rules[0].answer.status: the refusal's HTTP status, 4xx or 5xx"},
		{"{name: checkin-limit, limit: checkin", "{name: qr-expiry, expires: qr, limit: checkin", "rules[1]: a rule is either an expiry"},
	} {
		bad := strings.Replace(src, c.from, c.to, 1)
		if _, err := Parse("t.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.want, err, c.want)
		}
	}
}
