package scenarios

import (
	"reflect"

	"github.com/surgekit/surge/scenarios/fault"
	"github.com/surgekit/surge/scenarios/spec"
)

// Schema is a JSON Schema (draft 2020-12) of the scenario format, built
// from the same types the strict decoder fills, so editors can complete and
// check scenario files (the shipped ones name surge.schema.json in their
// first line, as YAML language servers read). Values the decoder checks
// beyond their shape (shares adding up, journeys that exist) are left to
// `surge validate`.
func Schema() map[string]any {
	kinds := Enum{Values: ErrorKinds, Open: true} // requests add their own kinds
	var faults []string
	for _, k := range fault.Kinds(0) {
		faults = append(faults, string(k))
	}
	span := spec.Schema(Span{}, "", nil, nil)
	delete(span, "$schema")
	delete(span, "title")
	s := spec.Schema(Scenario{}, "surge scenario", map[reflect.Type]map[string]any{
		reflect.TypeOf(Clause{}): {"anyOf": []any{
			map[string]any{"type": "string", "description": "[request] metric op value, such as \"qr p99 <= 2s\" or \"goodput >= 99%\""},
			map[string]any{"type": "object", "additionalProperties": false, "required": []string{"clause"}, "properties": map[string]any{
				"clause": map[string]any{"type": "string"}, "at": map[string]any{"type": "string", "description": "a period, or a span such as 17:00-21:00"}}},
		}},
		reflect.TypeOf(Status(0)): {"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 100, "maximum": 599, "description": "an HTTP status"},
			map[string]any{"enum": GRPCCodes, "description": "a gRPC code, for a grpc: call"},
		}},
		reflect.TypeOf(Spans{}): {"anyOf": []any{span, map[string]any{"type": "array", "items": span}}},
		reflect.TypeOf(Extraction{}): {"anyOf": []any{
			map[string]any{"type": "string", "description": "a JSON path of the answer, such as session or items.0.id"},
			map[string]any{"type": "object", "additionalProperties": false, "minProperties": 1, "maxProperties": 1, "properties": map[string]any{
				"json": map[string]any{"type": "string"}, "header": map[string]any{"type": "string"},
				"cookie": map[string]any{"type": "string"}, "regex": map[string]any{"type": "string"}}},
		}},
	}, spec.Enums{
		"Arrivals.process":  {Values: []string{ProcessPoisson, ProcessUniform}},
		"Stream.process":    {Values: []string{ProcessPoisson, ProcessUniform}},
		"Target.via":        {Values: []string{ViaProxy}},
		"Target.protocol":   {Values: []string{"h2", "http/1.1"}},
		"Feeder.policy":     {Values: []string{PolicyOnce, PolicyCycle, PolicyRandom}},
		"Feeder.format":     {Values: []string{"csv", "jsonl"}},
		"Request.method":    {Values: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}},
		"Retry.on":          kinds,
		"Step.restart_from": kinds,
		"Params.kind":       {Values: faults},
		"Behaviour.give_up": {Values: giveUpOrder},
	})
	s["required"] = []string{"name", "scale", "arrivals", "platforms", "cohorts", "journeys"}
	return s
}

// Enum is spec.Enum, for the enums above.
type Enum = spec.Enum
