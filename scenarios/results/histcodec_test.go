package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TestHistogramDecoderIsHdrs: surge's pooled decoder reads every histogram
// as hdrhistogram's own DecodePacked does (the same buckets, counts,
// percentiles and re-encoding), at every precision surge writes, from
// empty to wide spreads with the range's ends and large counts.
func TestHistogramDecoderIsHdrs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for digits := 1; digits <= TotalDigits; digits++ {
		for trial := range 40 {
			h := NewHistogram(digits)
			for range trial * trial {
				h.RecordN(time.Duration(r.ExpFloat64()*float64(time.Duration(r.IntN(5000)+1)*time.Millisecond)), int64(r.IntN(3)+1))
			}
			if trial%7 == 3 {
				h.Record(time.Microsecond)
				h.Record(2 * time.Hour) // clamped to the range's top
				h.RecordN(time.Second, 1<<40)
			}
			enc, err := h.h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			want, err := hdrhistogram.DecodePacked(enc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeHistogram(enc)
			if err != nil {
				t.Fatalf("digits %d, trial %d: %v", digits, trial, err)
			}
			a, b := &Histogram{got}, &Histogram{want}
			if !a.Equal(b) || a.Count() != b.Count() || a.Max() != b.Max() || a.Percentile(99) != b.Percentile(99) || a.Mean() != b.Mean() {
				t.Fatalf("digits %d, trial %d: decoded %d values (p99 %v), hdrhistogram %d (p99 %v)", digits, trial, a.Count(), a.Percentile(99), b.Count(), b.Percentile(99))
			}
			if again, _ := got.Encode(); !bytes.Equal(again, enc) {
				t.Fatalf("digits %d, trial %d: re-encoded differently", digits, trial)
			}
		}
	}
}

// TestHistogramEncoderIsHdrs: surge's pooled encoder writes the bytes
// hdrhistogram's PackedHistogram.Encode writes, for empty, sparse, merged
// and wide histograms at every precision (results files do not change).
func TestHistogramEncoderIsHdrs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for digits := 1; digits <= TotalDigits+2; digits++ {
		for trial := range 40 {
			h := &Histogram{hdrhistogram.NewPacked(lowestUs, highestUs, digits)}
			for range trial * trial {
				h.RecordN(time.Duration(r.ExpFloat64()*float64(time.Duration(r.IntN(5000)+1)*time.Millisecond)), int64(r.IntN(1000)+1))
			}
			if trial%5 == 2 {
				o := NewHistogram(min(digits, TotalDigits))
				o.Record(time.Microsecond)
				o.Record(time.Hour)
				o.RecordN(3*time.Microsecond, 1<<50)
				h.Merge(o)
			}
			want, err := h.h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := h.MarshalJSON()
			if string(got) != `"`+string(want)+`"` {
				t.Fatalf("digits %d, trial %d: %d values encode differently", digits, trial, h.Count())
			}
		}
	}
}

// TestHistogramDecoderRefusesWhatIsNotOne: a corrupt stream is an error,
// never a panic nor an allocation its header asks for.
func TestHistogramDecoderRefusesWhatIsNotOne(t *testing.T) {
	h := NewHistogram(2)
	h.Record(time.Millisecond)
	good, _ := h.h.Encode()
	raw, _ := base64.StdEncoding.DecodeString(string(good))
	inner := func() []byte { // the inflated header and payload
		z, _ := zlib.NewReader(bytes.NewReader(raw[8:]))
		var b bytes.Buffer
		b.ReadFrom(z)
		return b.Bytes()
	}
	wrap := func(in []byte) string {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(in)
		w.Close()
		out := binary.BigEndian.AppendUint32(nil, uint32(hdrhistogram.V2CompressedEncodingCookieBase|0x10))
		out = binary.BigEndian.AppendUint32(out, uint32(z.Len()))
		return base64.StdEncoding.EncodeToString(append(out, z.Bytes()...))
	}
	withPayload := func(length int32, payload []byte) string {
		in := inner()[:40]
		binary.BigEndian.PutUint32(in[4:], uint32(length))
		return wrap(append(in, payload...))
	}
	wide := inner()
	binary.BigEndian.PutUint64(wide[24:], 1<<62) // a range whose counts would fill the memory
	for name, s := range map[string]string{
		"not base64":            "%%%",
		"short":                 base64.StdEncoding.EncodeToString([]byte{1, 2, 3}),
		"another range":         wrap(wide),
		"a payload too large":   withPayload(1<<30, nil),
		"a payload cut short":   withPayload(10, []byte{2, 2}),
		"trailing bytes":        withPayload(1, []byte{2, 2}),
		"zeros past the end":    withPayload(5, []byte{0xff, 0xff, 0xff, 0x7f, 2}),
		"a truncated varint":    withPayload(1, []byte{0x80}),
		"counts past the end":   withPayload(3, []byte{0xff, 0x33, 2}), // a run of 3328 zeros (every count at 2 digits), then a count
		"a corrupt zlib":        base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(hdrhistogram.V2CompressedEncodingCookieBase)), 4), 1, 2, 3, 4)),
		"a length past the end": base64.StdEncoding.EncodeToString(append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(hdrhistogram.V2CompressedEncodingCookieBase)), 99), 1)),
	} {
		var got Histogram
		if err := json.Unmarshal([]byte(`"`+s+`"`), &got); err == nil || !strings.HasPrefix(err.Error(), "histogram: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	var escaped Histogram // a JSON writer may escape "/"
	if err := json.Unmarshal([]byte(`"`+strings.ReplaceAll(string(good), "/", `\/`)+`"`), &escaped); err != nil || escaped.Count() != 1 {
		t.Errorf("an escaped slash: %v", err)
	}
}

// BenchmarkHistogramDecode: one bucket's histogram (a few hundred
// values), read as a results file holds it.
func BenchmarkHistogramDecode(b *testing.B) {
	h := NewHistogram(BucketDigits)
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		h.Record(time.Duration(r.ExpFloat64() * float64(50*time.Millisecond)))
	}
	js, _ := json.Marshal(h)
	b.Run("surge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got Histogram
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("surge-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.MarshalJSON()
		}
	})
	b.Run("hdrhistogram-encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.h.Encode()
		}
	})
	b.Run("hdrhistogram", func(b *testing.B) {
		b.ReportAllocs()
		enc, _ := h.h.Encode()
		for b.Loop() {
			if _, err := hdrhistogram.DecodePacked(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
