package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/surgekit/surge/scenarios"
)

// writeAndParse writes a scaffold beside its data file and parses it as
// surge would: a scaffold validates as written.
func writeAndParse(t *testing.T, sc *Scaffold) (*scenarios.Scenario, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.yaml")
	var b strings.Builder
	if err := sc.Write(&b, filepath.Base(ParamsFile(path))); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	if len(sc.Params) > 0 {
		var names, values []string
		for _, p := range sc.Params {
			names, values = append(names, p.Name), append(values, p.Example)
		}
		os.WriteFile(ParamsFile(path), []byte(strings.Join(names, ",")+"\n"+strings.Join(values, ",")+"\n"), 0o644)
	}
	s, err := scenarios.Load(path)
	if err != nil {
		t.Fatalf("the scaffold does not validate: %v\n%s", err, b.String())
	}
	return s, b.String()
}

// An OpenAPI document gives a request per operation (named by its
// operationId, else method and path), its path parameters from the data
// file, its example body, and a journey each.
func TestFromOpenAPI(t *testing.T) {
	sc, err := FromOpenAPI("../examples/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, text := writeAndParse(t, sc)
	for _, name := range []string{"list_pets", "create_pet"} {
		if _, ok := s.Requests[name]; !ok {
			t.Errorf("no request %s (have %v)", name, keys(s.Requests))
		}
	}
	if len(s.Requests) != 4 || len(s.Journeys) != 4 {
		t.Errorf("%d requests and %d journeys, want one of each per operation (4)", len(s.Requests), len(s.Journeys))
	}
	if !strings.Contains(text, "${params.petId}") || len(sc.Params) != 1 || sc.Params[0].Example != "42" {
		t.Errorf("the path parameter: %+v\n%s", sc.Params, text)
	}
	if !strings.Contains(text, "Rex") {
		t.Errorf("createPet's example body is not in the scaffold:\n%s", text)
	}
}

// A HAR recording gives its requests in the order recorded, one journey,
// its pauses as think times, and never its credentials.
func TestFromHAR(t *testing.T) {
	har := `{"log": {"entries": [
 {"startedDateTime": "2021-12-13T12:00:00.000Z", "time": 120,
  "request": {"method": "GET", "url": "https://api.example.com/v1/items?limit=5",
   "headers": [{"name": "Authorization", "value": "Bearer secret-token"}, {"name": "Accept", "value": "application/json"}]},
  "response": {"status": 200}},
 {"startedDateTime": "2021-12-13T12:00:03.000Z", "time": 80,
  "request": {"method": "POST", "url": "https://api.example.com/v1/orders",
   "headers": [{"name": "Cookie", "value": "session=abc"}, {"name": "Content-Type", "value": "application/json"}],
   "postData": {"mimeType": "application/json", "text": "{\"item\": 7}"}},
  "response": {"status": 201}}]}}`
	path := filepath.Join(t.TempDir(), "r.har")
	os.WriteFile(path, []byte(har), 0o644)
	sc, err := FromHAR(path)
	if err != nil {
		t.Fatal(err)
	}
	s, text := writeAndParse(t, sc)
	if len(s.Requests) != 2 || len(s.Journeys) != 1 {
		t.Errorf("%d requests, %d journeys; want the 2 recorded, in one journey", len(s.Requests), len(s.Journeys))
	}
	for _, secret := range []string{"secret-token", "session=abc"} {
		if strings.Contains(text, secret) {
			t.Errorf("the scaffold copied a credential (%s):\n%s", secret, text)
		}
	}
	for _, steps := range s.Journeys {
		if len(steps) != 3 || steps[0].Request == "" || steps[1].Think == nil || steps[1].Think.String() != "3s" || steps[2].Request == "" {
			t.Errorf("the journey %+v: want the two requests with the recorded 3 s pause between them", steps)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
