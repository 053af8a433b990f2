package scenarios

import (
	"reflect"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/spec"
)

// Schema is a JSON Schema (draft 2020-12) of the scenario format, built
// from the same types the strict decoder fills, so editors can complete and
// check scenario files. Values the decoder checks beyond their shape
// (shares adding up, journeys that exist) are left to `surge validate`.
func Schema() map[string]any {
	s := schemaOf(reflect.TypeOf(Scenario{}))
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "surge scenario"
	s["required"] = []string{"name", "scale", "arrivals", "platforms", "cohorts", "journeys"}
	return s
}

var notations = map[reflect.Type]map[string]any{
	reflect.TypeOf(time.Duration(0)): {"type": "string", "pattern": `^-?([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`, "description": "a Go duration such as 250ms or 1m30s"},
	reflect.TypeOf(Percent(0)):       {"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?%$`, "description": "a percentage with its sign, such as 35%"},
	reflect.TypeOf(Rate(0)):          {"type": "string", "pattern": `^[0-9.]+[kM]?/(s|min|m|h)$`, "description": "a rate with its period, such as 50/s or 3000/min"},
	reflect.TypeOf(Count(0)):         {"type": []string{"string", "number"}, "pattern": `^[0-9._]+[kM]?$`, "description": "a count such as 1500, 12k or 4.2M"},
	reflect.TypeOf(Fraction(0)):      {"type": []string{"string", "number"}, "description": "a scale such as 1/50"},
	reflect.TypeOf(Clock(0)):         {"type": "string", "pattern": `^[0-2][0-9]:[0-5][0-9](:[0-5][0-9])?$`, "description": "a time of day such as 11:45"},
	reflect.TypeOf(spec.Dist{}):      {"type": "string", "description": "a distribution: 20ms, exp(20ms), uniform(2s, 8s), lognormal(median=5m, p90=15m)"},
	reflect.TypeOf(Clause{}):         {"type": "string", "description": "[request] metric op value, such as \"qr p99 <= 2s\" or \"goodput >= 99%\""},
}

func schemaOf(t reflect.Type) map[string]any {
	if n, ok := notations[t]; ok {
		return n
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{} // any JSON (request bodies)
}
