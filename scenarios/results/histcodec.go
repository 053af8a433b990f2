package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The histogram decoder. hdrhistogram's DecodePacked makes a new zlib
// reader (a 32 KB window and its tables) for each histogram, and a run has
// three per request per time bucket: merging 16 one-hour shards allocated
// 6.4 GB, nearly all of it zlib's. This decoder reads the same V2 stream
// with a pooled zlib reader and pooled buffers, refuses any geometry surge
// does not write before it allocates for it, and records each bucket's
// count at its value into a new packed histogram (what it holds, queries
// and encodes is the same as DecodePacked's: TestHistogramDecoderIsHdrs).

var (
	zlibReaders sync.Pool // io.ReadCloser that is a zlib.Resetter
	codecBufs   = sync.Pool{New: func() any { return new([]byte) }}
)

// geometry is what the decoder needs of one of surge's histogram layouts
// (lowest 1 us, highest 1 h, digits 1 to TotalDigits), worked out as
// hdrhistogram does.
type geometry struct {
	halfMagnitude uint  // subBucketHalfCountMagnitude (unit magnitude 0: lowest is 1)
	halfCount     int64 // subBucketHalfCount
	countsLen     int64
}

var geometries = func() (g [TotalDigits + 1]geometry) {
	for d := 1; d <= TotalDigits; d++ {
		mag := int(math.Ceil(math.Log2(2 * math.Pow10(d))))
		half := uint(max(mag, 1) - 1)
		subCount := int64(1) << (half + 1)
		buckets := int64(1)
		for v := subCount; v <= highestUs; v <<= 1 { // as getBucketsNeededToCoverValue
			buckets++
		}
		g[d] = geometry{halfMagnitude: half, halfCount: subCount / 2, countsLen: (buckets + 1) * (subCount / 2)}
	}
	return g
}()

// value is the lowest value of counts index idx (valueFromFlatIndex).
func (g geometry) value(idx int64) int64 {
	bucket := (idx >> g.halfMagnitude) - 1
	sub := (idx & (g.halfCount - 1)) + g.halfCount
	if bucket < 0 {
		sub -= g.halfCount
		bucket = 0
	}
	return sub << bucket
}

func getBuf(n int) *[]byte {
	b := codecBufs.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	*b = (*b)[:n]
	return b
}

// decodeHistogram reads a base64 HDR V2 compressed histogram of surge's
// range and precision.
func decodeHistogram(s []byte) (*hdrhistogram.PackedHistogram, error) {
	rawBuf := getBuf(base64.StdEncoding.DecodedLen(len(s)))
	defer codecBufs.Put(rawBuf)
	n, err := base64.StdEncoding.Decode(*rawBuf, s)
	if err != nil || n < 8 {
		return nil, fmt.Errorf("not a base64 HDR V2 histogram")
	}
	raw := (*rawBuf)[:n]
	cookie, clen := int32(binary.BigEndian.Uint32(raw[0:4])) & ^0xf0, int64(binary.BigEndian.Uint32(raw[4:8]))
	if cookie != hdrhistogram.V2CompressedEncodingCookieBase || clen > int64(len(raw)-8) {
		return nil, fmt.Errorf("not a compressed HDR V2 histogram")
	}
	z, err := zlibReader(raw[8 : 8+clen])
	if err != nil {
		return nil, fmt.Errorf("not a compressed HDR V2 histogram: %v", err)
	}
	defer zlibReaders.Put(z)
	var hdr [hdrhistogram.ENCODING_HEADER_SIZE]byte
	if _, err := io.ReadFull(z, hdr[:]); err != nil {
		return nil, fmt.Errorf("truncated HDR V2 header: %v", err)
	}
	inner, payloadLen := int32(binary.BigEndian.Uint32(hdr[0:4]))&^0xf0, int64(int32(binary.BigEndian.Uint32(hdr[4:8])))
	digits, lowest, highest := int32(binary.BigEndian.Uint32(hdr[12:16])), int64(binary.BigEndian.Uint64(hdr[16:24])), int64(binary.BigEndian.Uint64(hdr[24:32]))
	if inner != hdrhistogram.V2EncodingCookieBase {
		return nil, fmt.Errorf("not an HDR V2 histogram")
	}
	if lowest != lowestUs || highest != highestUs || digits < 1 || digits > TotalDigits {
		return nil, fmt.Errorf("range %d..%d us at %d digits is not surge's (%d..%d us, 1 to %d digits)",
			lowest, highest, digits, lowestUs, highestUs, TotalDigits)
	}
	g := geometries[digits]
	if payloadLen < 0 || payloadLen > g.countsLen*9 { // at most one 9-byte varint per count
		return nil, fmt.Errorf("payload of %d bytes for %d counts", payloadLen, g.countsLen)
	}
	payBuf := getBuf(int(payloadLen) + 1)
	defer codecBufs.Put(payBuf)
	got, err := io.ReadFull(z, *payBuf) // one byte past the payload: trailing data is an error
	if err != io.ErrUnexpectedEOF || int64(got) != payloadLen {
		return nil, fmt.Errorf("the payload is not the %d bytes its header says (read %d: %v)", payloadLen, got, err)
	}
	h := hdrhistogram.NewPacked(lowestUs, highestUs, int(digits))
	if err := fillCounts(h, g, (*payBuf)[:payloadLen]); err != nil {
		return nil, err
	}
	h.Compact() // no spare capacity: a run read back holds hundreds of thousands (a 114 MB file's report: 808 -> 4xx MB live)
	return h, nil
}

// zlibReader is a pooled zlib reader reset onto b.
func zlibReader(b []byte) (io.ReadCloser, error) {
	if z, ok := zlibReaders.Get().(io.ReadCloser); ok {
		if err := z.(zlib.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
			return nil, err
		}
		return z, nil
	}
	return zlib.NewReader(bytes.NewReader(b))
}

// fillCounts records a V2 payload (zig-zag LEB128 counts in index order, a
// negative one a run of that many zeros) into h.
func fillCounts(h *hdrhistogram.PackedHistogram, g geometry, payload []byte) error {
	var idx int64
	for pos := 0; pos < len(payload); {
		count, n, err := zigZag(payload[pos:])
		if err != nil {
			return err
		}
		pos += n
		switch {
		case count < 0:
			if -count <= 0 || -count > g.countsLen-idx {
				return fmt.Errorf("corrupt histogram: a run of %d zeros at index %d of %d", -count, idx, g.countsLen)
			}
			idx += -count
			continue
		case idx >= g.countsLen:
			return fmt.Errorf("corrupt histogram: index %d of %d", idx, g.countsLen)
		case count > 0:
			if err := h.RecordValues(g.value(idx), count); err != nil {
				return fmt.Errorf("corrupt histogram: %v", err)
			}
		}
		idx++
	}
	return nil
}

// zigZag reads one LEB128 zig-zag varint as HDR writes it: up to 8 bytes
// of 7 bits, then a ninth of 8.
func zigZag(b []byte) (int64, int, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("corrupt histogram: a truncated count")
		}
		if i == 8 {
			v |= uint64(b[8]) << 56
			return int64((v >> 1) ^ -(v & 1)), 9, nil
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return int64((v >> 1) ^ -(v & 1)), i + 1, nil
		}
	}
	return 0, 0, nil // not reached
}

// The encoder: the same bytes as hdrhistogram's PackedHistogram.Encode
// (TestHistogramEncoderIsHdrs), with a pooled zlib writer at the same
// level. A new zlib writer at BestCompression is about 1 MB of tables, and
// writing a merged hour allocated 3.8 GB of them.

var zlibWriters sync.Pool // *zlib.Writer at BestCompression

// index is the counts index of v, the lowest value of its bucket
// (countsIndexFor, unit magnitude 0).
func (g geometry) index(v int64) int64 {
	mask := int64(2*g.halfCount - 1)
	bucket := int64(64-bits.LeadingZeros64(uint64(v|mask))) - int64(g.halfMagnitude+1)
	sub := v >> bucket
	return (bucket+1)<<g.halfMagnitude + (sub - g.halfCount)
}

// appendZigZag appends v as a zig-zag LEB128 varint as HDR writes it.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u)) // the ninth byte holds the last 8 bits
}

// encodeHistogram appends h as a JSON string of its base64 HDR V2
// compressed encoding to dst.
func encodeHistogram(dst []byte, h *hdrhistogram.PackedHistogram) []byte {
	if d := h.SignificantFigures(); d < 1 || d > TotalDigits { // not one surge makes: hdrhistogram's own
		b, _ := h.Encode()
		return append(append(append(dst, '"'), b...), '"')
	}
	g := geometries[h.SignificantFigures()]
	innerBuf := getBuf(hdrhistogram.ENCODING_HEADER_SIZE)
	defer codecBufs.Put(innerBuf)
	inner := (*innerBuf)[:hdrhistogram.ENCODING_HEADER_SIZE]
	next, wrote := int64(0), false // the next counts index to write
	h.ForEachBucket(func(v, n int64) bool {
		if n == 0 {
			return true
		}
		idx := g.index(v)
		switch zeros := idx - next; {
		case zeros == 1:
			inner = appendZigZag(inner, 0)
		case zeros > 1:
			inner = appendZigZag(inner, -zeros)
		}
		inner, next, wrote = appendZigZag(inner, n), idx+1, true
		return true
	})
	if !wrote { // an empty histogram: the one count at index 0
		inner = appendZigZag(inner, 0)
	}
	binary.BigEndian.PutUint32(inner[0:], uint32(hdrhistogram.V2EncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(inner[4:], uint32(len(inner)-hdrhistogram.ENCODING_HEADER_SIZE))
	binary.BigEndian.PutUint32(inner[8:], 0)
	binary.BigEndian.PutUint32(inner[12:], uint32(h.SignificantFigures()))
	binary.BigEndian.PutUint64(inner[16:], lowestUs)
	binary.BigEndian.PutUint64(inner[24:], uint64(highestUs))
	binary.BigEndian.PutUint64(inner[32:], math.Float64bits(1))
	*innerBuf = inner

	outBuf := getBuf(8)
	defer codecBufs.Put(outBuf)
	z := bytes.NewBuffer((*outBuf)[:8])
	w, _ := zlibWriters.Get().(*zlib.Writer)
	if w == nil {
		w, _ = zlib.NewWriterLevel(z, zlib.BestCompression)
	} else {
		w.Reset(z)
	}
	w.Write(inner) // to memory: cannot fail
	w.Close()
	zlibWriters.Put(w)
	out := z.Bytes()
	*outBuf = out
	binary.BigEndian.PutUint32(out[0:], uint32(hdrhistogram.V2CompressedEncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(out[4:], uint32(len(out)-8))
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, out)
	return append(dst, '"')
}
