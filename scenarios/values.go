package scenarios

import "github.com/surgekit/surge/scenarios/spec"

// The notation's values live in spec, a leaf the capacity profile and the
// faults share; a scenario names them here too.
type (
	Percent  = spec.Percent
	Fraction = spec.Fraction
	Count    = spec.Count
	Rate     = spec.Rate
	Clock    = spec.Clock
)

// Parsers of the notation (see spec).
var (
	ParsePercent  = spec.ParsePercent
	ParseFraction = spec.ParseFraction
	ParseCount    = spec.ParseCount
	ParseRate     = spec.ParseRate
	ParseClock    = spec.ParseClock
)
