package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/surgekit/surge/scenarios/spec"
)

// FileName is the results file inside a run directory.
const FileName = "results.json"

// MaxFile is the largest results file ReadFile reads. 200 requests over an
// hour's 720 time buckets take 114 MB, and the run read back about 700 MB
// of memory (its sparse histograms: three per request per bucket); surge
// report of it peaks at 1.3 GB (text) to 1.6 GB (HTML) of RSS
// (ci/bench/report-memory.sh).
const MaxFile = 256 << 20

// ErrFormat is wrapped by every error about a file that is not readable results.
var ErrFormat = errors.New("results: not a surge results file")

// Encode writes r as JSON.
func (r *Run) Encode() ([]byte, error) {
	r.Format = Format
	if r.Version == 0 {
		r.Version = Version // (a run read from an older file keeps its version: see MixedLatency)
	}
	return json.MarshalIndent(r, "", " ")
}

// Decode reads results JSON of this or an earlier version. A run read from
// a version-1 file keeps Version 1 until it is encoded again: its latency
// histograms hold failed answers too (MixedLatency).
func Decode(data []byte) (*Run, error) {
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if head.Format != Format {
		return nil, fmt.Errorf("%w: format %q", ErrFormat, head.Format)
	}
	if head.Version < 1 || head.Version > Version {
		return nil, fmt.Errorf("%w: version %d (this surge reads 1 to %d; a newer surge wrote it?)", ErrFormat, head.Version, Version)
	}
	r := New(Meta{})
	if err := json.Unmarshal(data, r); err != nil { // in place: a Decoder would copy the file into its buffer
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	for name, e := range r.Endpoints {
		if e == nil || e.Total == nil || e.Total.Latency == nil || e.Total.Service == nil {
			return nil, fmt.Errorf("%w: endpoint %q has no totals", ErrFormat, name)
		}
		fill := func(s *Series) {
			if s != nil && s.FailedLatency == nil { // version 1: Latency holds every answer
				s.FailedLatency = NewHistogram(s.Latency.Digits())
			}
		}
		fill(e.Total)
		for _, s := range e.Buckets {
			if s != nil && (s.Latency == nil || s.Service == nil) {
				return nil, fmt.Errorf("%w: endpoint %q has a bucket without histograms", ErrFormat, name)
			}
			fill(s)
		}
	}
	if r.Generator.Late == nil {
		r.Generator.Late = NewHistogram(BucketDigits)
	}
	return r, nil
}

// WriteFile writes r into dir/results.json atomically (a temporary file,
// synced, then renamed), so a reader never sees half a file.
func (r *Run) WriteFile(dir string) error {
	data, err := r.Encode()
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".results-*.json")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, FileName))
}

// ReadFile reads dir/results.json.
func ReadFile(dir string) (*Run, error) {
	path := filepath.Join(dir, FileName)
	data, err := spec.ReadFile(path, MaxFile)
	if err != nil {
		if errors.Is(err, spec.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
		return nil, fmt.Errorf("results: %w", err)
	}
	r, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	return r, nil
}

// MixedLatency says the run's latency histograms hold failed answers as
// well as successful ones: it was read from a version-1 file.
func (r *Run) MixedLatency() bool { return r.Version < 2 }
