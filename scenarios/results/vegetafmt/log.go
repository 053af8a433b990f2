package vegetafmt

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios/results"
)

// Log writes every answer of a run as a vegeta Result, with vegeta's
// own encoders (gob, json or csv), so `vegeta report`, `vegeta plot` and
// the tools built on vegeta's results read a surge run. Each Result is one
// answer (a request a user sent, whatever the resends on the wire): Attack
// is the request's name, Timestamp its intended send, Latency surge's
// corrected latency (from the intended send, so coordinated omission is
// not hidden), Code the HTTP status (0 for a transport failure) and Error
// surge's error kind. Bodies and headers are never written (they may hold
// credentials). Once a result takes it past its limit (that one written
// whole) it writes no more and says so (Full).
type Log struct {
	mu      sync.Mutex
	enc     vegeta.Encoder
	buf     *bufio.Writer
	w       *countingWriter
	limit   int64
	seq     uint64
	full    bool
	methods map[string]string // request name -> method and path, for Method and URL
}

// Formats are the encodings NewLog writes.
var Formats = []string{"gob", "json", "csv"}

// FormatFor is the format a file name asks for: .json or .csv, else gob
// (vegeta's own default).
func FormatFor(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".jsonl":
		return "json"
	case ".csv":
		return "csv"
	}
	return "gob"
}

// NewLog writes Results to w in format, up to about limit bytes.
func NewLog(w io.Writer, format string, limit int64) (*Log, error) {
	cw := &countingWriter{w: w}
	l := &Log{w: cw, buf: bufio.NewWriterSize(cw, 64<<10), limit: limit}
	switch format {
	case "gob":
		l.enc = vegeta.NewEncoder(l.buf)
	case "json":
		l.enc = vegeta.NewJSONEncoder(l.buf)
	case "csv":
		l.enc = vegeta.NewCSVEncoder(l.buf)
	default:
		return nil, fmt.Errorf("raw results: format %q: want one of %v", format, Formats)
	}
	return l, nil
}

// Full says the log reached its limit and stopped writing.
func (l *Log) Full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.full
}

// Written is how many bytes the log wrote.
func (l *Log) Written() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.n + int64(l.buf.Buffered())
}

// Flush writes what the log holds buffered (the run does, when it ends).
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Flush()
}

// Limit is about how many bytes the log writes at most.
func (l *Log) Limit() int64 { return l.limit }

// SetMethods gives the log each request's method and path ("POST
// /v1/qr"), by request name, for the results' Method and URL.
func (l *Log) SetMethods(methods map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.methods = methods
}

// Add writes one answer of request endpoint: its outcome o on a run that
// started at start, its HTTP status (0: none came) and the body's length.
// It returns false when the log is (now) full.
func (l *Log) Add(endpoint string, o results.Outcome, start time.Time, status, bytesIn int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.full {
		return false
	}
	l.seq++
	r := vegeta.Result{Attack: endpoint, Seq: l.seq, Code: uint16(min(max(status, 0), 999)), Timestamp: start.Add(o.At),
		Latency: o.Corrected, BytesIn: uint64(max(bytesIn, 0)), Error: o.Err}
	if mu, ok := l.methods[endpoint]; ok {
		r.Method, r.URL, _ = strings.Cut(mu, " ")
	}
	if err := l.enc.Encode(&r); err != nil || l.w.n+int64(l.buf.Buffered()) > l.limit {
		l.full = true
		return false
	}
	return true
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
