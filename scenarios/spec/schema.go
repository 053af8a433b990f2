package spec

import (
	"maps"
	"reflect"
	"strings"
	"time"
)

// Enum is the values a field takes: Open enums are suggestions (an editor
// completes them; other values are allowed, such as a scenario's own
// error kinds), closed ones the only values.
type Enum struct {
	Values []string
	Open   bool
}

// Enums name fields by "GoType.yaml_key" (a map field's enum is of its
// keys, a list's of its items).
type Enums map[string]Enum

// notations are the schemas of this package's notation values.
var notations = map[reflect.Type]map[string]any{
	reflect.TypeOf(time.Duration(0)): {"type": "string", "pattern": `^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`, "description": "a Go duration such as 250ms or 1m30s"},
	reflect.TypeOf(Percent(0)):       {"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?%$`, "description": "a percentage with its sign, such as 35%"},
	reflect.TypeOf(Rate(0)):          {"type": "string", "pattern": `^[0-9.]+[kM]?/(s|min|m|h)$`, "description": "a rate with its period, such as 50/s or 3000/min"},
	reflect.TypeOf(Count(0)):         {"type": []string{"string", "number"}, "pattern": `^[0-9._]+[kM]?$`, "description": "a count such as 1500, 12k or 4.2M"},
	reflect.TypeOf(Fraction(0)):      {"type": []string{"string", "number"}, "description": "a scale such as 1/50"},
	reflect.TypeOf(Clock(0)):         {"type": "string", "pattern": `^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$`, "description": "a time of day such as 11:45"},
	reflect.TypeOf(Dist{}):           {"type": "string", "description": "a distribution: 20ms, exp(20ms), uniform(2s, 8s), lognormal(median=5m, p90=15m)"},
}

// Schema is a JSON Schema (draft 2020-12) of what the strict decoder reads
// into a value of v's type: objects with their keys and no others, the
// notations' patterns, enums. extra gives the schemas of other types that
// read themselves.
func Schema(v any, title string, extra map[reflect.Type]map[string]any, enums Enums) map[string]any {
	g := &schemaGen{extra: extra, enums: enums, visiting: map[reflect.Type]bool{}, recursive: map[reflect.Type]bool{}, defs: map[string]any{}}
	s := g.of(reflect.TypeOf(v))
	if len(g.defs) > 0 {
		s["$defs"] = g.defs
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = title
	return s
}

type schemaGen struct {
	extra map[reflect.Type]map[string]any
	enums Enums
	// A struct type met again inside itself (a step's calls are steps)
	// goes into $defs and is referred to.
	visiting, recursive map[reflect.Type]bool
	defs                map[string]any
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	if n, ok := notations[t]; ok {
		return n
	}
	if n, ok := g.extra[t]; ok {
		return n
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Struct:
		ref := map[string]any{"$ref": "#/$defs/" + t.Name()}
		if g.visiting[t] {
			g.recursive[t] = true
			return ref
		}
		g.visiting[t] = true
		props := map[string]any{}
		g.fields(t, props)
		delete(g.visiting, t)
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if g.recursive[t] {
			g.defs[t.Name()] = s
			return ref
		}
		return s
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{} // any JSON (request bodies)
}

// fields adds the schemas of struct t's keys to props, an inline field's
// keys as its own.
func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props)
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		s := g.of(f.Type)
		if e, ok := g.enums[t.Name()+"."+name]; ok {
			s = withEnum(s, e)
		}
		props[name] = withMax(s, f)
	}
}

// withMax puts a field's max and maxeach tags (checkLengths) on its schema.
func withMax(s map[string]any, f reflect.StructField) map[string]any {
	bound := func(s map[string]any, n int) map[string]any {
		out := maps.Clone(s)
		if s["type"] == "array" {
			out["maxItems"] = n
		} else if s["type"] == "object" {
			out["maxProperties"] = n
		}
		return out
	}
	if n, ok := maxEntries(f, "max"); ok {
		s = bound(s, n)
	}
	if n, ok := maxEntries(f, "maxeach"); ok {
		for _, k := range []string{"items", "additionalProperties"} {
			if inner, ok := s[k].(map[string]any); ok {
				s = maps.Clone(s)
				s[k] = bound(inner, n)
			}
		}
	}
	return s
}

// withEnum puts e on a string schema, a map's keys or a list's items.
func withEnum(s map[string]any, e Enum) map[string]any {
	values := map[string]any{"enum": e.Values}
	if e.Open {
		values = map[string]any{"anyOf": []any{map[string]any{"enum": e.Values}, map[string]any{"type": "string"}}}
	}
	out := map[string]any{}
	for k, v := range s {
		out[k] = v
	}
	switch s["type"] {
	case "object":
		out["propertyNames"] = values
	case "array":
		out["items"] = withEnum(s["items"].(map[string]any), e)
	default:
		for k, v := range values {
			out[k] = v
		}
	}
	return out
}
