package replay

import (
	"strings"
	"testing"

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
