// Package profile holds the capacity profile: the one declarative
// description of a service's stages (bounded worker pools with bounded
// queues and service-time distributions) and of the stages each endpoint
// visits. The reference server runs a profile for real and the simulator
// runs the same profile on a virtual clock ("one model, two worlds").
//
// A stage visit holds one of the stage's workers while it draws its own
// service time, then makes its nested calls in order, then does its named
// work, and only then releases the worker: a slow callee therefore ties up
// its callers' workers too, which is how an overloaded backend drags down
// every path that shares it. An async step is handed off and not waited for.
// A step with a share is made by that share of the requests passing it
// (drawn for each), the rest going on without it: a cache in front of a
// store, whose misses alone visit the store.
//
// A Profile is read-only after Load and safe for concurrent use.
package profile
