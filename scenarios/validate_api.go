package scenarios

import (
	"path/filepath"
	"strings"

	"github.com/surgekit/surge/scenarios/spec"
)

// validateBody checks that a request has at most one body and that its
// parts make sense.
func validateBody(p *spec.Problems, path string, r Request) {
	var bodies []string
	for _, b := range []struct {
		key string
		set bool
	}{{"json", r.JSON != nil}, {"form", r.Form != nil}, {"body", r.Body != ""}, {"multipart", r.Multipart != nil}} {
		if b.set {
			bodies = append(bodies, b.key)
		}
	}
	if len(bodies) > 1 {
		p.Addf(spec.Join(path, bodies[1]), "a request has one body: %s", strings.Join(bodies, " and "))
	}
	if r.ContentType != "" && r.Body == "" {
		p.Addf(spec.Join(path, "content_type"), "content_type is the raw body's: set body, or a Content-Type header")
	}
	if r.ContentType != "" && r.SetsHeader("Content-Type") {
		p.Addf(spec.Join(path, "content_type"), "give the content type once: content_type or the Content-Type header")
	}
	for i, part := range r.Multipart {
		pp := spec.Join(path, "multipart", i)
		if part.Name == "" {
			p.Addf(spec.Join(pp, "name"), "a part needs its field name")
		}
		if (part.Value == "") == (part.File == "") {
			p.Addf(pp, "a part is a value or a file")
		}
		if part.File == "" && (part.Filename != "" || part.ContentType != "") {
			p.Addf(pp, "filename and content_type go with a file")
		}
		if filepath.IsAbs(part.File) {
			p.Addf(spec.Join(pp, "file"), "give the file relative to the scenario file")
		}
	}
}

// validateAnswer checks a request's extractions and checks.
func validateAnswer(p *spec.Problems, path string, r Request) {
	for _, name := range spec.SortedKeys(r.Extract) {
		x := r.Extract[name]
		n := 0
		for _, set := range []bool{x.JSON != "", x.Header != "", x.Cookie != "", x.Regex != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			p.Addf(spec.Join(path, "extract", name), "give one of json, header, cookie or regex")
		}
		if x.Header != "" && !ValidHeaderName(x.Header) {
			p.Addf(spec.Join(path, "extract", name, "header"), "not a valid header name")
		}
		if strings.Contains(name, ".") {
			p.Addf(spec.Join(path, "extract", name), "a variable's name has no dot (dots name data columns and env)")
		}
	}
	kinds := map[string]bool{}
	for i, c := range r.Check {
		cp := spec.Join(path, "check", i)
		switch {
		case c.BodyContains != "" && (c.JSON != "" || c.Equals != nil || c.Matches != ""):
			p.Addf(cp, "a check is body_contains, or json with equals or matches")
		case c.BodyContains == "" && c.JSON == "":
			p.Addf(cp, "a check needs json (with equals or matches) or body_contains")
		case c.JSON != "" && (c.Equals == nil) == (c.Matches == ""):
			p.Addf(cp, "a json check needs equals or matches (one of them)")
		}
		k := r.CheckKind(i)
		if kinds[k] {
			p.Addf(spec.Join(cp, "kind"), "two checks of this request fail as %q: name them apart", k)
		}
		kinds[k] = true
	}
}

// validateData checks the data feeders (their files are read when a run
// starts: LoadData).
func (s *Scenario) validateData(p *spec.Problems) {
	for _, name := range spec.SortedKeys(s.Data) {
		f, path := s.Data[name], spec.Join("data", name)
		switch {
		case name+"." == EnvPrefix:
			p.Addf(path, "env names the environment: give the data another name")
		case !isIdent(name):
			p.Addf(path, "a data name is letters, digits and _ (it is the prefix of ${%s.column})", name)
		}
		if f.File == "" {
			p.Addf(spec.Join(path, "file"), "name the data file (CSV with a header row, or JSON lines)")
		}
		switch f.Format {
		case "", "csv", "jsonl":
		default:
			p.Addf(spec.Join(path, "format"), "want csv or jsonl, have %q", f.Format)
		}
		switch f.Policy {
		case PolicyOnce, PolicyCycle, PolicyRandom:
		case "":
			p.Addf(spec.Join(path, "policy"), "say how users get rows: once (each row to one user), cycle or random")
		default:
			p.Addf(spec.Join(path, "policy"), "want once, cycle or random, have %q", f.Policy)
		}
	}
	if t := s.Target.TLS; t != nil {
		if (t.Cert == "") != (t.Key == "") {
			p.Addf("target.tls", "a client certificate needs both cert and key")
		}
		if s.Target.URL != "" && !strings.HasPrefix(s.Target.URL, "https://") {
			p.Addf("target.tls", "the target %s is not https (an h2c:// target is HTTP/2 without TLS)", s.Target.URL)
		}
	}
}

func isIdent(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// known says whether a journey may read v at a step: extracted earlier,
// built in, the environment's, or a data column.
func (s *Scenario) known(v string, have map[string]bool) bool {
	if have[v] || strings.HasPrefix(v, EnvPrefix) {
		return true
	}
	f, _, ok := strings.Cut(v, ".")
	_, isData := s.Data[f]
	return ok && isData
}
