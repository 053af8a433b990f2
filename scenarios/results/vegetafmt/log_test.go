package vegetafmt

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/surgekit/surge/scenarios/results"
)

// TestRawLogIsBoundedAndReadable: each format decodes with vegeta's own
// decoders to what was written, and past its limit the log stops whole
// results (never half of one).
func TestRawLogIsBoundedAndReadable(t *testing.T) {
	start := time.Unix(1639364400, 0)
	for _, format := range Formats {
		var b bytes.Buffer
		l, err := NewLog(&b, format, 600)
		if err != nil {
			t.Fatal(err)
		}
		l.SetMethods(map[string]string{"qr": "POST /v1/qr"})
		kept := 0
		for i := range 100 {
			o := results.Outcome{At: time.Duration(i) * time.Millisecond, Corrected: 20 * time.Millisecond, Err: map[bool]string{true: "shed"}[i%2 == 1]}
			if l.Add("qr", o, start, 200+303*(i%2), 2) {
				kept++
			}
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		if !l.Full() || kept == 0 || kept == 100 {
			t.Fatalf("%s: kept %d of 100 under a 600-byte limit (full %v)", format, kept, l.Full())
		}
		dec := vegeta.DecoderFor(bytes.NewReader(b.Bytes()))
		if dec == nil {
			t.Fatalf("%s: not recognised", format)
		}
		n := 0
		for ; ; n++ {
			var r vegeta.Result
			if err := dec.Decode(&r); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: result %d: %v", format, n, err)
			}
			wantCode, wantErr := uint16(200), ""
			if n%2 == 1 {
				wantCode, wantErr = 503, "shed"
			}
			if r.Attack != "qr" || r.Method != "POST" || r.URL != "/v1/qr" || r.Code != wantCode || r.Error != wantErr ||
				r.Latency != 20*time.Millisecond || !r.Timestamp.Equal(start.Add(time.Duration(n)*time.Millisecond)) {
				t.Errorf("%s: result %d: %+v", format, n, r)
			}
		}
		if n != kept+1 { // the result that crossed the limit is written whole
			t.Errorf("%s: %d results decode, %d were kept", format, n, kept)
		}
	}
	if _, err := NewLog(io.Discard, "xml", 1); err == nil {
		t.Error("an unknown format was taken")
	}
}
