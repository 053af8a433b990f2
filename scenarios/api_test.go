package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const apiBase = `name: t
target: {url: "http://127.0.0.1:1"}
scale: 1
arrivals: {start: "09:00", bucket: 10s, total: 10, profile: [100%]}
platforms: {web: 100%}
cohorts: [{name: a, share: 100%, journey: j}]
journeys: {j: [{request: r}]}
`

func TestAPIScenarioMistakesNameTheirLine(t *testing.T) {
	for _, c := range []struct{ extra, want string }{
		{"requests: {r: {method: POST, path: /, json: {a: 1}, form: {b: c}}}", "t.yaml:8: requests.r.form: a request has one body: json and form"},
		{"requests: {r: {method: POST, path: /, content_type: text/plain}}", "requests.r.content_type: content_type is the raw body's"},
		{"requests: {r: {method: POST, path: /, multipart: [{name: f}]}}", "requests.r.multipart[0]: a part is a value or a file"},
		{"requests: {r: {method: GET, path: /, extract: {x: {header: A, cookie: b}}}}", "requests.r.extract.x: give one of json, header, cookie or regex"},
		{"requests: {r: {method: GET, path: /, extract: {x: {heder: A}}}}", `requests.r.extract.x.heder: unknown key "heder" (known: cookie, header, json, regex)`},
		{"requests: {r: {method: GET, path: /, extract: {x: {regex: '('}}}}", "regex: error parsing regexp"},
		{"requests: {r: {method: GET, path: /, check: [{json: a}]}}", "requests.r.check[0]: a json check needs equals or matches"},
		{"requests: {r: {method: GET, path: /, check: [{body_contains: a}, {body_contains: b, kind: check_1}]}}", `requests.r.check[1].kind: two checks of this request fail as "check_1"`},
		{"requests: {r: {method: GET, path: '/${users.id}'}}", "request r uses ${users.id}, but the scenario has no data named users"},
		{"requests: {r: {method: GET, path: '/${users.id}'}}\ndata: {users: {file: u.csv}}", "data.users.policy: say how users get rows"},
		{"requests: {r: {method: GET, path: '/${users.id}'}}\ndata: {users: {file: u.csv, policy: twice}}", `data.users.policy: want once, cycle or random, have "twice"`},
		{"requests: {r: {method: GET, path: '/'}}\ndata: {env: {file: u.csv, policy: once}}", "data.env: env names the environment"},
	} {
		_, err := Parse("t.yaml", []byte(apiBase+c.extra+"\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n %v\nwant %q", c.extra, err, c.want)
		}
	}
	ok := apiBase + "requests: {r: {method: GET, path: '/${users.id}', headers: {Authorization: 'Bearer ${env.TOKEN}'}, check: [{body_contains: ok}]}}\n" +
		"data: {users: {file: u.jsonl, policy: random}}\nbehaviour: {retry: {attempts: 2, on: [check_1]}, cookies: true}\n"
	s, err := Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if uses := s.EnvUses(); len(uses) != 1 || uses[0] != [2]string{"TOKEN", "r"} {
		t.Errorf("env uses %v", uses)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "u.jsonl"), []byte("{\"id\": 1}\n{\"id\": \"two\"}\n\n{\"name\": 3}\n"), 0o644)
	if _, err := s.LoadData(dir); err == nil || !strings.Contains(err.Error(), `u.jsonl:4: no "id" in the object (the scenario reads ${users.id})`) {
		t.Errorf("a JSON-lines row without the column: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "u.jsonl"), []byte("{\"id\": 1}\n{\"id\": \"two\"}\n"), 0o644)
	d, err := s.LoadData(dir)
	if err != nil || len(d.Tables["users"].Rows) != 2 || string(d.Tables["users"].Rows[1][0]) != `"two"` {
		t.Errorf("rows %+v, %v", d, err)
	}
}

// TestDataFilesStayInTheScenariosTree: a relative data file that leaves
// the scenario's folder (by .. or a symbolic link) is refused without
// reading it; an absolute path is read where it says (not joined to the
// folder); and a file that is not a data file is never quoted back in the
// error, only counted.
func TestDataFilesStayInTheScenariosTree(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "scenarios", "mine")
	os.MkdirAll(dir, 0o755)
	secret := filepath.Join(root, "shadow")
	os.WriteFile(secret, []byte("root:$y$j9T$SECRETHASH:19000:0:99999:7:::\n"), 0o600)
	os.Symlink(secret, filepath.Join(dir, "link.csv"))
	table := filepath.Join(root, "elsewhere.csv")
	os.WriteFile(table, []byte("id,name\n1,a\n"), 0o644)
	load := func(file string) error {
		s, err := Parse("t.yaml", []byte(apiBase+"requests: {r: {method: GET, path: '/${users.id}'}}\ndata: {users: {file: '"+file+"', policy: cycle}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.LoadData(dir)
		return err
	}
	for _, file := range []string{"../../shadow", "link.csv", "../mine/../../shadow"} {
		err := load(file)
		if err == nil || !strings.Contains(err.Error(), "outside the document's folder") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: %v, want refused as outside the folder, quoting nothing", file, err)
		}
	}
	if err := load(secret); err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "does not read as a header") {
		t.Errorf("an absolute path to a file that is not a data file: %v, want its header counted, not quoted", err)
	}
	if err := load(table); err != nil {
		t.Errorf("an absolute path to a data file outside the folder: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "wide.csv"), []byte(strings.Repeat("c,", MaxColumns)+"id\n"), 0o644)
	if err := load("wide.csv"); err == nil || !strings.Contains(err.Error(), "more than the 1000 a data file may have") {
		t.Errorf("a header of %d columns: %v", MaxColumns+1, err)
	}
}
