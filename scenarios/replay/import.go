package replay

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/results"
)

// MaxImported is how many vegeta results ImportVegeta reads at most.
const MaxImported = 100_000_000

// ImportVegeta turns a vegeta attack's results into a surge run of the
// scenario's request name request (each result one first attempt, at its
// timestamp from the earliest), so surge report and the scenario's gate
// judge a run vegeta made. A result is a success when its status is one
// the request expects (as surge's own classification says) and vegeta saw
// no error; a failure's kind is surge's for that status (5xx, 4xx, shed
// ...), or vegeta's error as a transport failure. The latency is vegeta's,
// from each actual send: Meta.Source says so, and the report flags it.
func ImportVegeta(dec vegeta.Decoder, s *scenarios.Scenario, request string) (*results.Run, error) {
	t, ok := s.Request(request)
	if !ok {
		return nil, fmt.Errorf("import: the scenario has no request %q", request)
	}
	var all []vegeta.Result
	var first, last time.Time
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("import: vegeta result %d: %w", len(all)+1, err)
		}
		if len(all) == MaxImported {
			return nil, fmt.Errorf("import: more than %d results", MaxImported)
		}
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.End().After(last) {
			last = r.End()
		}
		r.Body, r.Headers = nil, nil // not kept: they may hold credentials
		all = append(all, r)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("import: no vegeta results in the input")
	}
	span := last.Sub(first)
	run := results.New(results.Meta{Scenario: s.Name, Kind: "run", Started: first.UTC(), Bucket: results.BucketFor(span),
		Planned: span, Elapsed: span, Complete: true, Ended: "done", Shards: 1, Source: results.SourceVegeta})
	for _, r := range all {
		o := results.Outcome{At: r.Timestamp.Sub(first), First: true, Corrected: r.Latency, Service: r.Latency}
		if r.Code == 0 || r.Error != "" && r.Code < 200 {
			o.Err = vegetaErrorKind(r.Error)
		} else {
			o.Err = classify(&t, int(r.Code), nil)
		}
		run.Record(request, o)
		u := results.Users{Arrived: 1, Completed: 1} // each result is one user's one request
		if o.Err != "" {
			u.Completed, u.Abandoned = 0, 1
		}
		run.Count(o.At, u)
	}
	return run, nil
}

// vegetaErrorKind is surge's error kind for a vegeta result without an
// answer, from vegeta's error text (Go's net errors), named as
// transportKind names the live engine's.
func vegetaErrorKind(msg string) string {
	switch m := strings.ToLower(msg); {
	case strings.Contains(m, "timeout"), strings.Contains(m, "deadline exceeded"):
		return "timeout"
	case strings.Contains(m, "connection refused"):
		return "refused"
	case strings.Contains(m, "tls"), strings.Contains(m, "certificate"):
		return "tls"
	}
	return "reset" // as transportKind names any other failed exchange
}
