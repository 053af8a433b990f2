package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgekit/surge/scenarios"
)

const petstore = `openapi: 3.0.3
info: {title: Pet Store, version: "1.0"}
servers: [{url: "http://127.0.0.1:9090/v1"}]
paths:
  /pets:
    get:
      operationId: listPets
      responses: {"200": {description: ok}}
    post:
      operationId: createPet
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string, example: Rex}
                age: {type: integer}
      responses: {"201": {description: created}}
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: integer, example: 42}}
    get:
      summary: Info for a pet
      responses: {"200": {description: ok}, "404": {description: none}}
    delete:
      responses: {"204": {description: gone}}
`

func TestInitFromOpenAPIValidatesAsWritten(t *testing.T) {
	dir := t.TempDir()
	api := filepath.Join(dir, "api.yaml")
	os.WriteFile(api, []byte(petstore), 0o644)
	if code, _, errs := runSurge("init", "--openapi", api); code != 1 || !strings.Contains(errs, "-o: the API's paths have parameters (petId") {
		t.Errorf("path parameters without -o: exit %d, %s", code, errs)
	}
	out := filepath.Join(dir, "pets.yaml")
	if code, _, errs := runSurge("init", "--openapi", api, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if code, out, errs := runSurge("validate", out); code != 0 {
		t.Fatalf("the scaffold does not validate: %s%s", out, errs)
	}
	s, err := scenarios.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"list_pets": "GET /pets 200", "create_pet": "POST /pets 201",
		"get_pets_pet_id": "GET /pets/${params.petId} 200", "delete_pets_pet_id": "DELETE /pets/${params.petId} 204"} {
		r, ok := s.Requests[name]
		if !ok || fmt.Sprint(r.Method, " ", r.Path, " ", r.Expect[0]) != want {
			t.Errorf("%s: %+v, want %s", name, r, want)
		}
		if len(s.Journeys[name]) != 1 {
			t.Errorf("journey %s: %v", name, s.Journeys[name])
		}
	}
	if body := s.Requests["create_pet"].JSON; body["name"] != "Rex" || body["age"] != 1 {
		t.Errorf("the example body %v", body)
	}
	params, _ := os.ReadFile(filepath.Join(dir, "pets-params.csv"))
	if string(params) != "petId\n42\n" || s.Target.URL != "http://127.0.0.1:9090/v1" || s.Data["params"].File != "pets-params.csv" {
		t.Errorf("params file %q, target %s, data %+v", params, s.Target.URL, s.Data)
	}
	src, _ := os.ReadFile(out)
	if !strings.Contains(string(src), "TODO: the people your forecast expects") {
		t.Error("the scaffold says nothing of what to fill in")
	}
}

const recording = `{"log": {"version": "1.2", "entries": [
 {"startedDateTime": "2026-12-13T11:58:00.000Z", "request": {"method": "GET", "url": "https://shop.example/login?next=%2Fcart",
   "headers": [{"name": "Accept", "value": "text/html"}, {"name": "Cookie", "value": "tracking=abc"}, {"name": "User-Agent", "value": "Firefox"}]}, "response": {"status": 200}},
 {"startedDateTime": "2026-12-13T11:58:02.500Z", "request": {"method": "POST", "url": "https://shop.example/api/session",
   "headers": [{"name": "Authorization", "value": "Bearer s3cr3t-recorded-token"}, {"name": "Content-Type", "value": "application/json"}],
   "postData": {"mimeType": "application/json", "text": "{\"user\": \"amy\", \"remember\": true}"}}, "response": {"status": 201}},
 {"startedDateTime": "2026-12-13T11:58:03.000Z", "request": {"method": "GET", "url": "https://cdn.example/logo.png", "headers": []}, "response": {"status": 200}},
 {"startedDateTime": "2026-12-13T11:58:04.000Z", "request": {"method": "POST", "url": "https://shop.example/cart",
   "headers": [], "postData": {"mimeType": "application/x-www-form-urlencoded", "text": "item=coffee&qty=2"}}, "response": {"status": 303}}
]}}`

func TestInitFromHARKeepsTheOrderAndNoSecret(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "shop.har")
	os.WriteFile(rec, []byte(recording), 0o644)
	code, out, errs := runSurge("init", "--har", rec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, "s3cr3t-recorded-token") || strings.Contains(out, "tracking=abc") {
		t.Error("a recorded credential is in the scaffold")
	}
	path := filepath.Join(dir, "shop.yaml")
	os.WriteFile(path, []byte(out), 0o644)
	if code, o, e := runSurge("validate", path); code != 0 {
		t.Fatalf("the scaffold does not validate: %s%s", o, e)
	}
	s, _ := scenarios.Load(path)
	var order []string
	for _, st := range s.Journeys["recorded"] {
		if st.Request != "" {
			order = append(order, st.Request)
		} else {
			order = append(order, "think "+st.Think.String())
		}
	}
	if strings.Join(order, ", ") != "get_login, think 2.5s, post_api_session, think 1.5s, post_cart" {
		t.Errorf("the journey %v", order)
	}
	if r := s.Requests["get_login"]; r.Path != "/login?next=%2Fcart" || r.Headers["Accept"] != "text/html" || len(r.Headers) != 1 {
		t.Errorf("get_login: %+v", r)
	}
	if r := s.Requests["post_api_session"]; r.Headers["Authorization"] != "Bearer ${env.API_TOKEN}" || r.JSON["user"] != "amy" || r.Expect[0] != 201 {
		t.Errorf("post_api_session: %+v", r)
	}
	if r := s.Requests["post_cart"]; r.Form["qty"] != "2" || r.Expect[0] != 303 {
		t.Errorf("post_cart: %+v", r)
	}
	if s.Target.URL != "https://shop.example" || !strings.Contains(s.Description, "1 requests to other hosts left out") {
		t.Errorf("target %s, description %q", s.Target.URL, s.Description)
	}
}

func TestInitBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"init"}, "--openapi, --har, --proto or --grpc: give one"},
		{[]string{"init", "--grpc", "http://127.0.0.1:1"}, `--grpc: want grpc://HOST:PORT or grpcs://HOST:PORT, have "http://127.0.0.1:1"`},
		{[]string{"init", "--proto", write("f.proto", "syntax = \"proto3\";\nmessage A { strin x = 1; }\n")}, "f.proto:2:13: field A.x: unknown type strin"},
		{[]string{"init", "--openapi", write("a.yaml", "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses: 12\n")}, "a.yaml"},
		{[]string{"init", "--openapi", write("b.yaml", "openapi: 3.0.3\ninfo: {version: '1'}\npaths: {/a: {get: {responses: {'200': {description: ok}}}}}\n")}, "b.yaml: not a valid OpenAPI 3 document"},
		{[]string{"init", "--openapi", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{[]string{"init", "--har", write("c.har", "{\"log\": {\"entries\": [\n{\"request\": }]}}")}, "c.har: not a HAR file: line 2"},
		{[]string{"init", "--har", write("d.har", `{"log": {"entries": [{"request": {"method": "GET", "url": "https://a.example/"}}, {"request": {"method": "GET", "url": "/x"}}]}}`)}, "d.har: log.entries[1].request.url: want an absolute URL"},
		{[]string{"init", "--har", write("e.har", `{"log": {"entries": []}}`)}, "e.har: log.entries: the recording has no requests"},
	} {
		code, _, errs := runSurge(c.args...)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("surge %v: exit %d, %q; want exit 1 saying %q", c.args, code, errs, c.want)
		}
	}
}
