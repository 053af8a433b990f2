package replay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/arrival"
)

// Secrets: a template's ${env.NAME} is read from the environment when the
// run starts (an unset one fails the run before any load is sent) and
// given to every user. Its value is sent to the target and nowhere else:
// the scenario as run keeps the reference, and any failure sample, event
// or error message that would hold the value holds [redacted env.NAME]
// instead (the target may echo what it was sent).

// bound is a data table as the engine gives it out: the variable names of
// its columns, and its policy.
type bound struct {
	t    *scenarios.Table
	keys []string // "name.column", as Columns
	salt uint64   // the random policy's stream
}

// secret is an environment variable's value and what replaces it in
// anything recorded.
type secret struct{ value, mark string }

// setupData reads the environment variables the scenario's requests use,
// binds its data tables, and checks that a table given out once has a row
// for every user of the whole run (all shards).
func (e *engine) setupData(plan *arrival.Plan) error {
	lookup := e.cfg.Env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	e.env = map[string]json.RawMessage{}
	for _, use := range e.cfg.Scenario.EnvUses() {
		name, request := use[0], use[1]
		v, ok := lookup(name)
		if !ok {
			return fmt.Errorf("replay: requests.%s reads ${%s%s}: the environment variable %s is not set", request, scenarios.EnvPrefix, name, name)
		}
		raw, _ := json.Marshal(v)
		e.env[scenarios.EnvPrefix+name] = raw
		if len(v) >= 4 { // shorter values would redact ordinary text
			e.secrets = append(e.secrets, secret{v, "[redacted " + scenarios.EnvPrefix + name + "]"})
		}
	}
	sort.Slice(e.secrets, func(i, j int) bool { return len(e.secrets[i].value) > len(e.secrets[j].value) })
	if len(e.cfg.Scenario.Data) > 0 && e.cfg.Data == nil {
		return fmt.Errorf("replay: the scenario has data files, and the run was given none (Config.Data: scenarios.LoadData)")
	}
	once := false
	for i, name := range sortedTables(e.cfg.Data) {
		t := e.cfg.Data.Tables[name]
		b := bound{t: t, salt: uint64(i) + 1}
		for _, c := range t.Columns {
			b.keys = append(b.keys, name+"."+c)
		}
		e.tables = append(e.tables, b)
		once = once || t.Policy == scenarios.PolicyOnce
	}
	if !once {
		return nil
	}
	people := plan.People(e.cfg.Seed)
	for _, b := range e.tables {
		if b.t.Policy == scenarios.PolicyOnce && uint64(len(b.t.Rows)) < people {
			return fmt.Errorf("replay: data.%s: policy once gives each row to one user, and the run has %d users (over all its shards); %s has %d rows (add rows, or use policy cycle or random)",
				b.t.Name, people, b.t.File, len(b.t.Rows))
		}
	}
	return nil
}

func sortedTables(d *scenarios.Data) []string {
	if d == nil {
		return nil
	}
	names := make([]string, 0, len(d.Tables))
	for n := range d.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// bind gives a user its environment variables and its row of each table:
// person n of the run (numbered across every shard) gets row n (once),
// row n modulo the rows (cycle), or a row drawn from its own stream of the
// run's seed (random: the user's decisions draw from another).
func (u *user) bind(a arrival.Arrival, person int) {
	e := u.e
	for k, v := range e.env {
		u.vars[k] = v
	}
	n := a.People + uint64(person)
	for _, b := range e.tables {
		rows := uint64(len(b.t.Rows))
		i := n % rows
		if b.t.Policy == scenarios.PolicyRandom {
			var pcg rand.PCG
			pcg.Seed(e.cfg.Seed^0xda7a, n<<8|b.salt)
			i = pcg.Uint64() % rows
		}
		row := b.t.Rows[i]
		for j, k := range b.keys {
			u.vars[k] = row[j]
		}
	}
}

// redact replaces the environment's secret values in s.
func (e *engine) redact(s string) string {
	for _, sc := range e.secrets {
		if strings.Contains(s, sc.value) {
			s = strings.ReplaceAll(s, sc.value, sc.mark)
		}
	}
	return s
}

// redactRecorded takes the secrets out of the run's samples and events.
func (e *engine) redactRecorded() {
	if len(e.secrets) == 0 {
		return
	}
	for i := range e.run.Failures {
		f := &e.run.Failures[i]
		f.Headers, f.Body, f.Error = e.redact(f.Headers), e.redact(f.Body), e.redact(f.Error)
	}
	for i := range e.run.Events {
		e.run.Events[i].Detail = e.redact(e.run.Events[i].Detail)
	}
}

// multipartBoundary separates the parts of a multipart body: fixed, so
// that a request's bytes depend on the scenario and the user alone.
const multipartBoundary = "surge-part-7d1f03a9c2b84e56"

// bodyOf renders a template's body and its content type.
func (e *engine) bodyOf(t *scenarios.Request, v vars) ([]byte, string, error) {
	plain := func(s string) string { return s }
	switch {
	case t.JSON != nil:
		b, err := json.Marshal(v.body(t.JSON))
		return b, "application/json", err
	case t.Form != nil:
		form := url.Values{}
		for k, x := range t.Form {
			form.Set(k, v.expand(x, plain))
		}
		return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
	case t.Body != "":
		return []byte(v.expand(t.Body, plain)), firstOf(t.ContentType, "text/plain; charset=utf-8"), nil
	case t.Multipart != nil:
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.SetBoundary(multipartBoundary)
		for _, p := range t.Multipart {
			if p.File == "" {
				w.WriteField(p.Name, v.expand(p.Value, plain))
				continue
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.Name, firstOf(p.Filename, filepath.Base(p.File))))
			h.Set("Content-Type", firstOf(p.ContentType, "application/octet-stream"))
			pw, _ := w.CreatePart(h)
			pw.Write(e.cfg.Data.Files[p.File])
		}
		w.Close()
		return b.Bytes(), w.FormDataContentType(), nil
	}
	return nil, "", nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// headerValues calls f with each value of the answer's header name (the
// head is the status line and the header lines), until f returns false.
// It allocates only the values it hands over.
func headerValues(head []byte, name string, f func(string) bool) {
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && len(bytes.TrimSpace(k)) == len(name) && bytes.EqualFold(bytes.TrimSpace(k), []byte(name)) {
			if !f(string(bytes.TrimSpace(v))) {
				return
			}
		}
	}
}

// cookie is one cookie of a user's jar.
type cookie struct{ name, value string }

// setCookies reads an answer's Set-Cookie headers into jar (a cookie
// with Max-Age 0 or less, or an empty value, is deleted) and returns it.
func setCookies(jar []cookie, head []byte) []cookie {
	headerValues(head, "Set-Cookie", func(v string) bool {
		pair, attrs, _ := strings.Cut(v, ";")
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || name == "" {
			return true
		}
		gone := value == ""
		for _, a := range strings.Split(attrs, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(a), "=")
			if strings.EqualFold(k, "Max-Age") && (strings.HasPrefix(val, "-") || val == "0") {
				gone = true
			}
		}
		jar = slicesDeleteCookie(jar, name)
		if !gone {
			jar = append(jar, cookie{name, value})
		}
		return true
	})
	return jar
}

func slicesDeleteCookie(jar []cookie, name string) []cookie {
	out := jar[:0]
	for _, c := range jar {
		if c.name != name {
			out = append(out, c)
		}
	}
	return out
}

// cookieHeader is the Cookie header of a jar.
func cookieHeader(jar []cookie) string {
	var b strings.Builder
	for i, c := range jar {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(c.name)
		b.WriteByte('=')
		b.WriteString(c.value)
	}
	return b.String()
}

// checkAnswer applies the template's checks to a successful answer; it
// returns the kind of the first that fails, "" if all hold.
func checkAnswer(t *scenarios.Request, body []byte) string {
	var doc any
	parsed := false
	for i, c := range t.Check {
		if !holds(c, body, &doc, &parsed) {
			return t.CheckKind(i)
		}
	}
	return ""
}

// passes says a body (a held connection's message) passes one check.
func passes(c scenarios.Check, body []byte) bool {
	var doc any
	parsed := false
	return holds(c, body, &doc, &parsed)
}

// holds applies a check to a body, parsing its JSON once into *doc.
func holds(c scenarios.Check, body []byte, doc *any, parsed *bool) bool {
	if c.BodyContains != "" {
		return bytes.Contains(body, []byte(c.BodyContains))
	}
	if !*parsed {
		*parsed = true
		if json.Unmarshal(body, doc) != nil {
			*doc = errNotJSON{}
		}
	}
	if _, bad := (*doc).(errNotJSON); bad {
		return false
	}
	val, ok := lookup(*doc, c.JSON)
	return ok && checkValue(c, val)
}

// errNotJSON marks a body that did not parse.
type errNotJSON struct{}

// checkValue: equals compares the JSON values (the YAML value as JSON);
// matches applies the expression to a string, or to a value's JSON text.
func checkValue(c scenarios.Check, val any) bool {
	if re := c.Pattern(); re != nil {
		s, isString := val.(string)
		if !isString {
			b, _ := json.Marshal(val)
			s = string(b)
		}
		return re.MatchString(s)
	}
	want, err1 := json.Marshal(c.Equals)
	have, err2 := json.Marshal(val)
	if err1 != nil || err2 != nil {
		return false
	}
	var w, h any
	json.Unmarshal(want, &w)
	json.Unmarshal(have, &h)
	wb, _ := json.Marshal(w)
	hb, _ := json.Marshal(h)
	return bytes.Equal(wb, hb)
}
