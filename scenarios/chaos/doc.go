// Package chaos injects faults into HTTP traffic for targets surge does not
// run itself: a Fault wraps an http.Handler (toxiproxy's shape, but at the
// HTTP level, so it can answer with a status), and a Proxy is a reverse
// proxy that applies a schedule of faults in front of any service.
//
// A schedule's windows are offsets from the proxy's start, read from an
// injected clock, so tests are exact. Random draws come from a seeded
// source. A Proxy is safe for concurrent use.
package chaos
