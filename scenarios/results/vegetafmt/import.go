package vegetafmt

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

// MaxImported is how many vegeta results Import reads at most.
const MaxImported = 100_000_000

// Import turns a vegeta attack's results into a surge run of the
// scenario's request name request (each result one first attempt, at its
// timestamp from the earliest), so surge report and the scenario's gate
// judge a run vegeta made. A result is a success when its status is one
// the request expects (as surge's own classification says) and vegeta saw
// no error; a failure's kind is surge's for that status (5xx, 4xx, shed
// ...), or vegeta's error as a transport failure. The latency is vegeta's,
// from each actual send: Meta.Source says so, and the report flags it.
func Import(dec vegeta.Decoder, s *scenarios.Scenario, request string) (*results.Run, error) {
	t, ok := s.Request(request)
	if !ok {
		return nil, fmt.Errorf("import: the scenario has no request %q", request)
	}
	all, kinds, first, last, err := readResults(dec, &t)
	if err != nil {
		return nil, err
	}
	span := last.Sub(first)
	run := results.New(results.Meta{Scenario: s.Name, Kind: "run", Started: first.UTC(), Bucket: results.BucketFor(span),
		Planned: span, Elapsed: span, Complete: true, Ended: "done", Shards: 1, Source: results.SourceVegeta})
	for _, r := range all {
		lat := time.Duration(r.latency)
		o := results.Outcome{At: time.Duration(r.at - first.UnixNano()), First: true, Corrected: lat, Service: lat, Err: kinds[r.kind]}
		run.Record(request, o)
		u := results.Users{Arrived: 1, Completed: 1} // each result is one user's one request
		if o.Err != "" {
			u.Completed, u.Abandoned = 0, 1
		}
		run.Count(o.At, u)
	}
	return run, nil
}

// kept is what a run needs of one vegeta result (24 bytes, not vegeta's
// Result): its send time (Unix ns), its latency and its kind's index.
type kept struct {
	at, latency int64
	kind        uint8
}

// readResults reads every result of dec, each classified as request t's
// answer. Results come in the order vegeta's requests ended, not their
// sends': the earliest send is known only at the end, so each is kept
// until then.
func readResults(dec vegeta.Decoder, t *scenarios.Request) (all []kept, kinds []string, first, last time.Time, err error) {
	kinds, kindIndex := []string{""}, map[string]uint8{"": 0}
	for {
		var r vegeta.Result
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, first, last, fmt.Errorf("import: vegeta result %d: %w", len(all)+1, err)
		}
		if len(all) == MaxImported {
			return nil, nil, first, last, fmt.Errorf("import: more than %d results", MaxImported)
		}
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.End().After(last) {
			last = r.End()
		}
		kind := t.Classify(int(r.Code), noCode)
		if r.Code == 0 || r.Error != "" && r.Code < 200 {
			kind = vegetaErrorKind(r.Error)
		}
		i, ok := kindIndex[kind]
		if !ok { // a handful: the kinds are surge's names, not vegeta's texts
			i = uint8(len(kinds))
			kinds, kindIndex[kind] = append(kinds, kind), i
		}
		all = append(all, kept{at: r.Timestamp.UnixNano(), latency: int64(r.Latency), kind: i})
	}
	if len(all) == 0 {
		return nil, nil, first, last, fmt.Errorf("import: no vegeta results in the input")
	}
	return all, kinds, first, last, nil
}

// noCode is the error code of an answer whose body vegeta did not keep.
func noCode() string { return "" }

// vegetaErrorKind is surge's error kind for a vegeta result without an
// answer, from vegeta's error text (Go's net errors), named as the live engine names its own.
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
