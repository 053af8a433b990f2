// Package scaffold starts a scenario from what a team already has: an
// OpenAPI 3 document (one request template per operation, its path
// parameters read from a data file of example values, example bodies, a
// single-step journey per operation), a HAR recording (the requests in
// the order recorded, one journey, the recorded pauses as think times), or
// a gRPC service's methods (FromCalls: a call per unary method, with an
// example message, and a single-step journey each).
// The scenario it writes validates as written; its comments say what to
// fill in: the forecast, the SLOs, the cohorts' shares.
//
// Secrets: a recording's Authorization and Cookie headers are not copied;
// the scaffold reads the authorization from ${env.API_TOKEN} instead.
package scaffold

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Scaffold is a scenario to write, and the data file its path parameters
// read (nil without any).
type Scaffold struct {
	Name, Description, Target, Source string
	Requests                          []Request
	// Protos are the .proto files of the calls' methods (target.protos).
	Protos []string
	// Journeys are the journeys in order, each a list of request names
	// with the think time before each (0: none).
	Journeys []Journey
	// Params are the path parameters' names and example values (one row).
	Params []Param
}

// Request is one request template.
type Request struct {
	Name, Method, Path string
	Headers            [][2]string
	JSON               any // a JSON body
	Form               [][2]string
	Body, ContentType  string
	Expect             int
	Comment            string
	// GRPC makes it a call of this method (package.Service/Method), with
	// Message its example request; Method, Path, bodies and Expect unused.
	GRPC    string
	Message map[string]any
}

// Journey is a named journey.
type Journey struct {
	Name  string
	Steps []Step
}

// Step is a request after a pause.
type Step struct {
	Request string
	Think   string // a duration, "" for none
}

// Param is a path parameter and its example value.
type Param struct{ Name, Example string }

// ParamsFile is the data file the path parameters are read from, beside
// the scenario.
func ParamsFile(scenario string) string {
	return strings.TrimSuffix(scenario, ".yaml") + "-params.csv"
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// slug is s as a name: lower case, words joined by '-'.
func slug(s string) string {
	s = strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		return "api"
	}
	return s
}

var camelRE = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// requestName is an identifier for a request: listPets and "get /pets/{id}"
// become list_pets and get_pets_id.
func requestName(s string) string {
	return strings.ReplaceAll(slug(camelRE.ReplaceAllString(s, "${1}_${2}")), "-", "_")
}

// unique makes names unique by suffixes _2, _3 ...
func unique(name string, seen map[string]bool) string {
	out := name
	for i := 2; seen[out]; i++ {
		out = fmt.Sprintf("%s_%d", name, i)
	}
	seen[out] = true
	return out
}

// Write writes the scenario as YAML, with comments, and (when it has path
// parameters) dataFile's name in its data section.
func (sc *Scaffold) Write(w io.Writer, dataFile string) error {
	doc := mapping()
	add(doc, "name", scalar(sc.Name), "")
	add(doc, "description", scalar(sc.Description), "")
	add(doc, "target", sc.target(), "")
	add(doc, "scale", scalar("1"), "your own figures, not national ones")
	arrivals := mapping()
	add(arrivals, "start", quoted("09:00"), "")
	add(arrivals, "bucket", scalar("15m"), "")
	add(arrivals, "total", scalar("1000"), "TODO: the people your forecast expects over the window")
	add(arrivals, "profile", flow(scalar("25%"), scalar("50%"), scalar("25%")), "TODO: the share per bucket, your forecast's shape")
	add(arrivals, "process", scalar("poisson"), "")
	add(doc, "arrivals", arrivals, "")
	add(doc, "platforms", flowMap("web", "100%"), "client platforms; ${platform} is one of them")
	sc.writeCohorts(doc)
	if len(sc.Params) > 0 {
		params := mapping()
		add(params, "file", scalar(dataFile), "")
		add(params, "policy", scalar("cycle"), "the example values, in turn: add rows, or use policy once for one row per user")
		data := mapping()
		add(data, "params", params, "")
		add(doc, "data", data, "the path parameters, ${params.<name>}")
	}
	sc.writeRequests(doc)
	journeys := mapping()
	for _, j := range sc.Journeys {
		steps := sequence()
		for _, st := range j.Steps {
			if st.Think != "" {
				steps.Content = append(steps.Content, flowMap("think", st.Think))
			}
			steps.Content = append(steps.Content, flowMap("request", st.Request))
		}
		add(journeys, j.Name, steps, "")
	}
	add(doc, "journeys", journeys, "")
	behaviour := mapping()
	add(behaviour, "timeout", scalar("10s"), "TODO: how long your clients wait")
	add(behaviour, "retry", flowMap("attempts", "2", "backoff", "uniform(500ms, 2s)"), "")
	add(doc, "behaviour", behaviour, "")
	slo := sequence()
	for _, r := range sc.Requests {
		slo.Content = append(slo.Content, scalar(r.Name+" p99 <= 1s"))
	}
	slo.Content = append(slo.Content, scalar("errors <= 1%"))
	add(doc, "slo", slo, "TODO: what must hold for each request (surge capacity searches against these)")
	root := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc},
		HeadComment: "yaml-language-server: $schema=surge.schema.json\n" +
			sc.Name + ": a scaffold from " + sc.Source + " (surge init). Fill in the TODOs, then: surge validate, surge run.\n" +
			"Editors complete and check it with the schema beside it: surge schema > surge.schema.json"}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	return enc.Close()
}

func (sc *Scaffold) target() *yaml.Node {
	target := mapping()
	add(target, "url", scalar(sc.Target), "the service's base URL (check it)")
	if len(sc.Protos) > 0 {
		var files []*yaml.Node
		for _, f := range sc.Protos {
			files = append(files, scalar(f))
		}
		add(target, "protos", flow(files...), "the calls' methods, relative to this file")
	}
	return target
}

// writeCohorts gives each journey a cohort, in shares adding up to 100%.
func (sc *Scaffold) writeCohorts(doc *yaml.Node) {
	cohorts := sequence()
	n := len(sc.Journeys)
	left := 10000 // hundredths of a percent
	for i, j := range sc.Journeys {
		share := 10000 / n
		if i == n-1 {
			share = left
		}
		left -= share
		cohorts.Content = append(cohorts.Content, flowMap("name", j.Name, "share", fmt.Sprintf("%d.%02d%%", share/100, share%100), "journey", j.Name))
	}
	add(doc, "cohorts", cohorts, "TODO: the share of people on each journey")
}

func (sc *Scaffold) writeRequests(doc *yaml.Node) {
	reqs := mapping()
	for _, r := range sc.Requests {
		m := mapping()
		if r.GRPC != "" {
			add(m, "grpc", scalar(r.GRPC), "")
			var n yaml.Node
			n.Encode(r.Message)
			add(m, "message", &n, "an example message: vary it with ${variables}")
			add(m, "expect", flow(scalar("OK")), "")
			add(reqs, r.Name, m, r.Comment)
			continue
		}
		add(m, "method", scalar(r.Method), "")
		add(m, "path", quoted(r.Path), "")
		if len(r.Headers) > 0 {
			h := mapping()
			for _, kv := range r.Headers {
				add(h, kv[0], quoted(kv[1]), "")
			}
			add(m, "headers", h, "")
		}
		switch {
		case r.JSON != nil:
			var n yaml.Node
			n.Encode(r.JSON)
			add(m, "json", &n, "an example body: vary it with ${variables}")
		case r.Form != nil:
			f := mapping()
			for _, kv := range r.Form {
				add(f, kv[0], quoted(kv[1]), "")
			}
			add(m, "form", f, "")
		case r.Body != "":
			add(m, "body", quoted(r.Body), "")
			add(m, "content_type", scalar(r.ContentType), "")
		}
		add(m, "expect", flow(scalar(fmt.Sprint(r.Expect))), "")
		add(reqs, r.Name, m, r.Comment)
	}
	add(doc, "requests", reqs, "")
}

// YAML node helpers.
func mapping() *yaml.Node  { return &yaml.Node{Kind: yaml.MappingNode} }
func sequence() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode} }
func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}
func quoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Style: yaml.DoubleQuotedStyle}
}

func flow(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: items}
}

// flowMap is {k: v, ...} on one line; values that are not plain are quoted.
func flowMap(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for i := 0; i+1 < len(kv); i += 2 {
		v := scalar(kv[i+1])
		if strings.ContainsAny(kv[i+1], "(),: ") {
			v = quoted(kv[i+1])
		}
		m.Content = append(m.Content, scalar(kv[i]), v)
	}
	return m
}

func add(m *yaml.Node, key string, v *yaml.Node, comment string) {
	k := scalar(key)
	if comment != "" {
		if v.Kind == yaml.ScalarNode || v.Style == yaml.FlowStyle {
			v.LineComment = comment
		} else {
			k.LineComment = comment
		}
	}
	m.Content = append(m.Content, k, v)
}

// sortedKeys is m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FromCalls is a scaffold of calls: one per method (name and example
// message), each its own single-step journey.
func FromCalls(source, target string, protos []string, methods []Call) *Scaffold {
	sc := &Scaffold{Name: "calls", Target: target, Source: source, Protos: protos,
		Description: "TODO: what this load is: the calls of " + source}
	seen := map[string]bool{}
	for _, m := range methods {
		_, method, _ := strings.Cut(m.Method, "/")
		name := unique(requestName(method), seen)
		sc.Requests = append(sc.Requests, Request{Name: name, GRPC: m.Method, Message: m.Message})
		sc.Journeys = append(sc.Journeys, Journey{Name: name, Steps: []Step{{Request: name}}})
	}
	return sc
}

// Call is a gRPC method and an example of its request message.
type Call struct {
	Method  string
	Message map[string]any
}
