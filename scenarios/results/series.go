package results

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: microseconds from 1 us to 1 h; longer values are clamped to 1 h.
const (
	lowestUs  = 1
	highestUs = int64(time.Hour / time.Microsecond)
	// TotalDigits and BucketDigits are the significant digits of whole-run and
	// per-bucket histograms (per-bucket ones are many, and plotted).
	TotalDigits  = 3
	BucketDigits = 2
)

// Histogram is an HDR histogram of microseconds that encodes as a base64
// HDR V2 compressed string in JSON. It is sparse (hdrhistogram's packed
// form): it holds only the buckets that have counts, a few hundred bytes
// for a bucket of a run, where the dense form holds every bucket of the
// 1 us..1 h range (25 KB at 2 digits, 190 KB at 3) whether used or not. A
// run keeps three per request per time bucket, so dense, a report of 1,000
// requests over 200 buckets needed 15 GB.
type Histogram struct{ h *hdrhistogram.PackedHistogram }

// NewHistogram makes an empty histogram with the given significant digits.
func NewHistogram(digits int) *Histogram {
	return &Histogram{hdrhistogram.NewPacked(lowestUs, highestUs, digits)}
}

// Digits is the histogram's significant digits.
func (h *Histogram) Digits() int { return int(h.h.SignificantFigures()) }

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	us := min(max(d.Microseconds(), lowestUs), highestUs)
	h.h.RecordValue(us)
}

// RecordN adds n durations d.
func (h *Histogram) RecordN(d time.Duration, n int64) {
	us := min(max(d.Microseconds(), lowestUs), highestUs)
	h.h.RecordValues(us, n)
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) { h.h.Merge(o.h) }

// Count is how many values were recorded.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Percentile is the duration at percentile p (0..100, as HDR takes it:
// 99.9). Named for its scale: every Quantile in surge (spec.Dist's) takes
// 0..1.
func (h *Histogram) Percentile(q float64) time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.h.ValueAtPercentile(q)) * time.Microsecond
}

// Max is the largest recorded duration (at the histogram's precision).
func (h *Histogram) Max() time.Duration { return time.Duration(h.h.Max()) * time.Microsecond }

// Mean is the mean duration.
func (h *Histogram) Mean() time.Duration {
	return time.Duration(h.h.Mean() * float64(time.Microsecond))
}

// Each calls f with every recorded value (at the histogram's precision:
// its bucket's lowest value) and how many times it was recorded, ascending.
func (h *Histogram) Each(f func(d time.Duration, n int64)) {
	h.h.ForEachBucket(func(us, n int64) bool {
		f(time.Duration(us)*time.Microsecond, n)
		return true
	})
}

// Cumulative counts the values at or below each bound (bounds ascending),
// as a Prometheus histogram's buckets do, and sums them (at the
// histogram's precision: each bucket counts at its lowest value).
func (h *Histogram) Cumulative(bounds []time.Duration) (counts []uint64, sum time.Duration) {
	counts = make([]uint64, len(bounds))
	h.Each(func(d time.Duration, n int64) {
		sum += time.Duration(n) * d
		for i := len(bounds) - 1; i >= 0 && d <= bounds[i]; i-- {
			counts[i] += uint64(n)
		}
	})
	return counts, sum
}

// Equal reports whether both hold the same values at the same precision.
func (h *Histogram) Equal(o *Histogram) bool {
	if h.Digits() != o.Digits() || h.Count() != o.Count() {
		return false
	}
	type bar struct{ v, n int64 }
	var a, b []bar
	h.h.ForEachBucket(func(v, n int64) bool { a = append(a, bar{v, n}); return true })
	o.h.ForEachBucket(func(v, n int64) bool { b = append(b, bar{v, n}); return true })
	return slices.Equal(a, b)
}

// MarshalJSON encodes the histogram as HDR V2 compressed base64.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	return encodeHistogram(nil, h.h), nil
}

// UnmarshalJSON decodes HDR V2 compressed base64 of surge's range and
// precision; any other geometry is refused before anything is allocated
// for it (a header may declare a range whose buckets fill the memory).
func (h *Histogram) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("histogram: want a base64 HDR string")
	}
	enc := b[1 : len(b)-1]
	if slices.Contains(enc, '\\') { // a writer that escapes "/" as "\/"
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("histogram: want a base64 HDR string")
		}
		enc = []byte(s)
	}
	d, err := decodeHistogram(enc)
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	h.h = d
	return nil
}

// Outcome is one attempt at one request.
type Outcome struct {
	// At is the intended send time, from the run's start (it picks the bucket).
	At time.Duration
	// Corrected is completion minus intended send time; Service is
	// completion minus actual send time.
	Corrected, Service time.Duration
	// First is true for the user's first attempt at this request (it counts
	// as offered: the demand); later attempts are amplification.
	First bool
	// Err is "" for a success, else the error kind (timeout, 5xx, ...).
	Err string
	// Resent is how many times the client sent the request again on a new
	// connection, without the user knowing, because the server had not
	// taken it: it closed the connection while idle (HTTP/1.1), or its
	// GOAWAY left the stream unprocessed (HTTP/2). Each is a request on the
	// wire.
	Resent int
	// FirstMessage is, for a streaming call, the corrected time to its
	// first message (Corrected is to its last); Messages how many came.
	FirstMessage time.Duration
	Messages     int
}

// Series is what one request name did over a stretch of time.
//
// Attempted counts every request on the wire: the user's attempts and the
// client's transparent resends (Resent of them). Each attempt gets one
// answer, a success or a failure of some kind, so Succeeded + Failed() =
// Answered() = Attempted - Resent. Latency and Service hold the successful
// answers only; FailedLatency holds the failures (a timeout, a 503 shed at
// once), so the percentiles an SLO reads are those of answers users could
// use, and a failure never makes them look fast.
type Series struct {
	Offered   int64            `json:"offered"`
	Attempted int64            `json:"attempted"`
	Succeeded int64            `json:"succeeded"`
	Resent    int64            `json:"resent,omitempty"`
	Errors    map[string]int64 `json:"errors,omitempty"`
	// Latency is the successful answers' corrected latency (from the
	// intended send); Service theirs from the actual send.
	Latency *Histogram `json:"latency"`
	Service *Histogram `json:"service"`
	// FailedLatency is the failed answers' corrected latency (version 2;
	// in a version-1 file Latency holds every answer and this is empty).
	FailedLatency *Histogram `json:"failed_latency"`
	// FirstMessage is the successful streaming calls' corrected time to
	// their first message (Latency is to their last), and Messages how
	// many messages they got; nil and 0 for requests that do not stream.
	FirstMessage *Histogram `json:"first_message,omitempty"`
	Messages     int64      `json:"messages,omitempty"`
}

// NewSeries makes an empty series with histograms of the given digits.
func NewSeries(digits int) *Series {
	return &Series{Latency: NewHistogram(digits), Service: NewHistogram(digits), FailedLatency: NewHistogram(digits)}
}

// Record counts one attempt and its answer: a success's latency goes to
// Latency and Service, a failure's to FailedLatency (a failed attempt still
// took the user that long).
func (s *Series) Record(o Outcome) {
	s.Attempted += 1 + int64(o.Resent)
	s.Resent += int64(o.Resent)
	if o.First {
		s.Offered++
	}
	if o.Err == "" {
		s.Succeeded++
		s.Latency.Record(o.Corrected)
		s.Service.Record(o.Service)
		if o.FirstMessage > 0 {
			if s.FirstMessage == nil {
				s.FirstMessage = NewHistogram(s.Latency.Digits())
			}
			s.FirstMessage.Record(o.FirstMessage)
			s.Messages += int64(o.Messages)
		}
		return
	}
	if s.Errors == nil {
		s.Errors = map[string]int64{}
	}
	s.Errors[o.Err]++
	s.FailedLatency.Record(o.Corrected)
}

// MergeCounts adds o's counts (not its histograms) to s: what a reader
// of shares and rates needs, at a fraction of Merge's cost.
func (s *Series) MergeCounts(o *Series) {
	s.Offered += o.Offered
	s.Attempted += o.Attempted
	s.Succeeded += o.Succeeded
	s.Resent += o.Resent
	for k, v := range o.Errors {
		if s.Errors == nil {
			s.Errors = map[string]int64{}
		}
		s.Errors[k] += v
	}
}

// Merge adds o into s.
func (s *Series) Merge(o *Series) {
	s.MergeCounts(o)
	s.Latency.Merge(o.Latency)
	s.Service.Merge(o.Service)
	s.FailedLatency.Merge(o.FailedLatency)
	if o.FirstMessage != nil {
		if s.FirstMessage == nil {
			s.FirstMessage = NewHistogram(o.FirstMessage.Digits())
		}
		s.FirstMessage.Merge(o.FirstMessage)
	}
	s.Messages += o.Messages
}

// Answered is the number of attempts that got an answer (a success or a
// failure): every request on the wire but the transparent resends.
func (s *Series) Answered() int64 { return s.Attempted - s.Resent }

// Failed is the number of attempts that failed, of any kind.
func (s *Series) Failed() int64 { return s.Answered() - s.Succeeded }

// ErrorRate is failed / answered (0 with no attempts).
func (s *Series) ErrorRate() float64 { return ratio(s.Failed(), s.Answered()) }

// KindRate is the share of answers that failed with kind.
func (s *Series) KindRate(kind string) float64 { return ratio(s.Errors[kind], s.Answered()) }

// AllLatency is every answer's corrected latency, successes and failures
// merged (a new histogram).
func (s *Series) AllLatency() *Histogram {
	h := NewHistogram(s.Latency.Digits())
	h.Merge(s.Latency)
	h.Merge(s.FailedLatency)
	return h
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s *Series) equal(o *Series) bool {
	return s.Offered == o.Offered && s.Attempted == o.Attempted && s.Succeeded == o.Succeeded && s.Resent == o.Resent &&
		maps.Equal(s.Errors, o.Errors) && s.Latency.Equal(o.Latency) && s.Service.Equal(o.Service) && s.FailedLatency.Equal(o.FailedLatency) &&
		s.Messages == o.Messages && (s.FirstMessage == nil) == (o.FirstMessage == nil) && (s.FirstMessage == nil || s.FirstMessage.Equal(o.FirstMessage))
}
