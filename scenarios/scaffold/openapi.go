package scaffold

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// methods in the order a scaffold lists an operation's.
var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

// FromOpenAPI reads an OpenAPI 3 document (YAML or JSON) and scaffolds one
// request per operation and a single-step journey for each. A document
// that does not load or validate is an error naming the place in it.
func FromOpenAPI(path string) (*Scaffold, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("%s: not a valid OpenAPI 3 document: %w", path, err)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return nil, fmt.Errorf("%s: paths: the document has no operations", path)
	}
	sc := &Scaffold{Source: path, Target: "http://127.0.0.1:8080"}
	if doc.Info != nil {
		sc.Name, sc.Description = slug(doc.Info.Title), strings.TrimSpace(doc.Info.Title)
	}
	if len(doc.Servers) > 0 {
		if u, err := url.Parse(doc.Servers[0].URL); err == nil && u.IsAbs() {
			sc.Target = strings.TrimSuffix(doc.Servers[0].URL, "/")
		}
	}
	seen, params := map[string]bool{}, map[string]string{}
	for _, p := range sortedKeys(doc.Paths.Map()) {
		item := doc.Paths.Value(p)
		ops := item.Operations()
		for _, m := range methods {
			op := ops[m]
			if op == nil {
				continue
			}
			r := operation(m, p, op, item.Parameters, params)
			r.Name = unique(requestName(firstNonEmpty(op.OperationID, strings.ToLower(m)+" "+p)), seen)
			sc.Requests = append(sc.Requests, r)
			sc.Journeys = append(sc.Journeys, Journey{Name: r.Name, Steps: []Step{{Request: r.Name}}})
		}
	}
	for _, n := range sortedKeys(params) {
		sc.Params = append(sc.Params, Param{n, params[n]})
	}
	return sc, nil
}

var (
	pathParamRE = regexp.MustCompile(`\{([^}/]+)\}`)
	columnRE    = regexp.MustCompile(`[^A-Za-z0-9_]+`)
)

// operation is one operation's request: its path with its parameters as
// ${params.<name>} (their examples into params), an example JSON body, the
// first 2xx status it documents.
func operation(method, path string, op *openapi3.Operation, shared openapi3.Parameters, params map[string]string) Request {
	r := Request{Method: method, Expect: 200, Comment: strings.TrimSpace(firstNonEmpty(op.Summary, op.OperationID))}
	examples := map[string]string{}
	for _, ps := range []openapi3.Parameters{shared, op.Parameters} {
		for _, pr := range ps {
			if p := pr.Value; p != nil && p.In == openapi3.ParameterInPath {
				examples[p.Name] = paramExample(p)
			}
		}
	}
	r.Path = pathParamRE.ReplaceAllStringFunc(path, func(m string) string {
		name := m[1 : len(m)-1]
		col := strings.Trim(columnRE.ReplaceAllString(name, "_"), "_")
		if _, ok := params[col]; !ok {
			params[col] = firstNonEmpty(examples[name], "1")
		}
		return "${params." + col + "}"
	})
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil {
			r.JSON = exampleOf(mt.Example, mt.Schema, 0)
			if r.JSON == nil {
				r.JSON = map[string]any{}
			}
		}
	}
	if op.Responses != nil {
		for _, code := range sortedKeys(op.Responses.Map()) {
			if n, err := strconv.Atoi(code); err == nil && n/100 == 2 {
				r.Expect = n
				break
			}
		}
	}
	return r
}

func paramExample(p *openapi3.Parameter) string {
	v := p.Example
	if v == nil {
		v = exampleOf(nil, p.Schema, 0)
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// exampleOf is an example value: the one given, else the schema's example,
// default or first enum value, else one made from its type (objects to a
// depth of 4).
func exampleOf(given any, ref *openapi3.SchemaRef, depth int) any {
	if given != nil {
		return given
	}
	if ref == nil || ref.Value == nil || depth > 4 {
		return nil
	}
	s := ref.Value
	switch {
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		out := map[string]any{}
		for name, p := range s.Properties {
			if v := exampleOf(nil, p, depth+1); v != nil {
				out[name] = v
			}
		}
		return out
	case s.Type.Is("array"):
		if v := exampleOf(nil, s.Items, depth+1); v != nil {
			return []any{v}
		}
		return []any{}
	case s.Type.Is("integer"), s.Type.Is("number"):
		return 1
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("string"):
		return "example"
	}
	return nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
