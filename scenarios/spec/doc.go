// Package spec holds the notation shared by every surge YAML file: strict
// decoding whose errors name the file, line and key path, and the
// service-time distribution notation (exp(20ms), uniform(2s, 8s), ...).
//
// It is a leaf: the scenario model, the capacity profile, the simulator and
// the reference server all import it, and it imports only the standard
// library and yaml.v3. Every value here is safe for concurrent reads; a
// Dist draws from the *rand.Rand its caller passes, so callers own the
// seeding and the locking of their random sources.
package spec
