package client

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/surgekit/surge/scenarios/results"
)

// MaxAnswer is how much of an answer's body the client keeps (extraction
// and checks read it); the rest is read and discarded, so the latency runs
// to the answer's last byte and the connection stays usable.
const MaxAnswer = 1 << 20

// Response is one answer as read.
type Response struct {
	Status int
	// body is the body's first MaxAnswer bytes, in the buffer given.
	Body []byte
	// head is the status line and the header lines as read, each ended by
	// "\n", at most results.MaxSampleHeaders bytes (for failure samples),
	// in the buffer given.
	Head []byte
	// keep says the connection can carry another request.
	Keep bool
	// answered says a byte of the answer came: the server took the request.
	Answered bool
	// firstAt is when the body's first length-prefixed message was all in
	// (a gRPC call over HTTP/2; zero otherwise).
	FirstAt time.Time
}

// readAnswer reads one answer: the status line, the headers and the body
// (to its end, keeping at most MaxAnswer bytes in body). It reads what a
// load generator needs of HTTP/1.1: a Content-Length, chunked or
// close-delimited body, informational (1xx) answers skipped, bodyless
// answers to HEAD and 204/304, keep-alive unless the server says close.
func readAnswer(r *bufio.Reader, isHead bool, body, head []byte) (Response, error) {
	resp := Response{Head: head[:0]}
	var f framing
	for {
		line, err := readLine(r, 0)
		if err != nil {
			return resp, err
		}
		resp.Answered = true
		resp.Head = resp.Head[:0] // only the final answer's head
		resp.Head = keepHead(resp.Head, line)
		if resp.Status, err = statusLine(line); err != nil {
			return resp, err
		}
		if f, err = readHeaders(r, line, &resp); err != nil {
			return resp, err
		}
		if resp.Status >= 200 || resp.Status == 101 {
			break
		}
		// 1xx: the final answer follows
	}
	var err error
	switch st := resp.Status; {
	case isHead || st == 204 || st == 304 || st == 101:
		resp.Body, resp.Keep = body[:0], !f.closes && st != 101
	case f.chunked:
		resp.Body, err = readChunked(r, body[:0])
		resp.Keep = !f.closes && err == nil
	case f.length >= 0:
		resp.Body, err = readLength(r, body[:0], f.length)
		resp.Keep = !f.closes && err == nil
	default: // until the server closes
		resp.Body, err = readToClose(r, body[:0])
	}
	return resp, err
}

// framing is how an answer's body is delimited, from its headers.
type framing struct {
	length  int64 // Content-Length, -1 without
	chunked bool
	closes  bool // the connection closes after the answer
}

// statusLine reads "HTTP/1.x SSS [reason]".
func statusLine(line []byte) (int, error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] != '0' && line[7] != '1' || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, malformed("status line", line, 40)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, malformed("status", line[9:12], 3)
	}
	return status, nil
}

// readHeaders reads the header lines after the status line, keeping them
// in resp.Head, and says how the body is framed.
func readHeaders(r *bufio.Reader, status []byte, resp *Response) (framing, error) {
	http10 := status[7] == '0'
	f := framing{length: -1, closes: http10}
	encodings := 0
	total := len(status)
	for {
		line, err := readLine(r, total)
		if err != nil {
			return f, err
		}
		total += len(line) + 2
		if len(line) == 0 {
			return f, nil
		}
		resp.Head = keepHead(resp.Head, line)
		name, value, err := headerLine(line)
		if err != nil {
			return f, err
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || (f.length >= 0 && n != f.length) {
				return f, malformed("Content-Length", value, 40)
			}
			f.length = n
		case equalFold(name, "transfer-encoding"):
			// Only one, and only chunked, as net/http and nginx take it
			// (the rest is how requests are smuggled); HTTP/1.0 has none.
			if encodings++; encodings > 1 || !equalFold(value, "chunked") {
				return f, malformed("Transfer-Encoding", value, 40)
			}
			f.chunked = !http10
		case equalFold(name, "connection"):
			if hasToken(value, "close") {
				f.closes = true
			} else if http10 && hasToken(value, "keep-alive") {
				f.closes = false
			}
		}
	}
}

// headerLine splits a header line into its name and value, refusing what
// net/http's reader refuses: a folded line (one that starts with a space:
// obs-fold), a name that is not a token, a control byte in the value.
func headerLine(line []byte) (name, value []byte, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
		return nil, nil, malformed("header line", line, 40)
	}
	name, value = line[:colon], line[colon+1:]
	for _, c := range name {
		if !tokenByte(c) {
			return nil, nil, malformed("header name", line, 40)
		}
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, malformed("header value", line, 40)
		}
	}
	return name, bytes.Trim(value, " \t"), nil
}

// tokenByte: a byte of an HTTP token (RFC 9110 5.6.2).
func tokenByte(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}

// parseLength reads a Content-Length: decimal digits only (no sign), at
// most 63 bits.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// keepHead appends a head line to a failure sample's head, within its bound.
func keepHead(head, line []byte) []byte {
	if len(head)+len(line)+1 > results.MaxSampleHeaders {
		return head
	}
	return append(append(head, line...), '\n')
}

// readLength reads a body of n bytes, keeping the first MaxAnswer.
func readLength(r *bufio.Reader, out []byte, n int64) ([]byte, error) {
	take := int(min(n, MaxAnswer))
	out = grow(out, take)
	if _, err := io.ReadFull(r, out); err != nil {
		return out, unexpected(err)
	}
	return out, discard(r, n-int64(take))
}

// readChunked reads a chunked body to its end, keeping the first
// MaxAnswer bytes. Its framing is read as strictly as net/http reads it
// (RFC 9112 7.1 and its errata): every line ends in CRLF, a chunk's data
// is followed by CRLF, a chunk size is hexadecimal (an extension after
// ";" is dropped), and no more than 16 KiB of framing may come on top of
// 16 bytes per chunk and twice its data.
func readChunked(r *bufio.Reader, out []byte) ([]byte, error) {
	var excess int64
	for {
		line, err := chunkLine(r)
		if err != nil {
			return out, err
		}
		excess += int64(len(line)) + 2
		line = bytes.TrimRight(line, " \t")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := parseHex(line)
		if err != nil {
			return out, malformed("chunk size", line, 20)
		}
		if excess = max(0, excess-16-2*n); excess > 16<<10 {
			return out, ProtocolError{"chunked encoding with too much besides data"}
		}
		if n == 0 {
			return out, readTrailers(r)
		}
		at := len(out)
		take := int(min(n, int64(MaxAnswer-at)))
		out = grow(out, at+take)
		if _, err := io.ReadFull(r, out[at:]); err != nil {
			return out, unexpected(err)
		}
		if err := discard(r, n-int64(take)); err != nil {
			return out, err
		}
		crlf, err := r.Peek(2)
		if err != nil {
			return out, unexpected(err)
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return out, ProtocolError{"no CRLF after a chunk"}
		}
		r.Discard(2)
	}
}

// chunkLine reads a line of chunked framing: it must end in CRLF, with no
// other CR, and be shorter than 4 KiB.
func chunkLine(r *bufio.Reader) ([]byte, error) {
	p, err := r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, ProtocolError{"chunk line over 4 KiB"}
	case err != nil:
		return nil, unexpected(err)
	}
	if i := bytes.IndexByte(p, '\r'); len(p) < 2 || i != len(p)-2 {
		return nil, ProtocolError{"chunk line not ended by CRLF"}
	}
	if len(p) > 4096 {
		return nil, ProtocolError{"chunk line over 4 KiB"}
	}
	return p[:len(p)-2], nil
}

// readTrailers reads a chunked body's trailer section: header lines, each
// ended by CRLF, then an empty line.
func readTrailers(r *bufio.Reader) error {
	for i, seen := 0, 0; ; i++ {
		line, err := chunkLine(r)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if seen += len(line) + 2; seen > 4096 {
			return ProtocolError{"trailers over 4 KiB"}
		}
		if _, _, err := headerLine(line); err != nil {
			return err
		}
	}
}

// parseHex reads a chunk size: hexadecimal digits, at most 15 of them
// (a size that fits an int64 with room).
func parseHex(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 15 {
		return 0, ProtocolError{"chunk size"}
	}
	var n int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int64(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, ProtocolError{"chunk size"}
		}
	}
	return n, nil
}

// readToClose reads until the server closes, keeping the first MaxAnswer
// bytes and discarding the rest.
func readToClose(r *bufio.Reader, out []byte) ([]byte, error) {
	for len(out) < MaxAnswer {
		if len(out) == cap(out) {
			out = grow(out, len(out)+1)[:len(out)]
		}
		n, err := r.Read(out[len(out):min(cap(out), MaxAnswer)])
		out = out[:len(out)+n]
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	_, err := io.Copy(io.Discard, r)
	return out, err
}

// discard reads and drops n bytes of a body.
func discard(r *bufio.Reader, n int64) error {
	for n > 0 {
		m, err := r.Discard(int(min(n, 1<<30)))
		n -= int64(m)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

// unexpected is err, but an end of stream inside a body is a body cut short.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// grow is b resliced to n bytes, or copied into a new array with room to
// grow (at least double: a body read chunk by chunk is copied a few times
// in all, not once per chunk), never past MaxAnswer's worth unless n is.
func grow(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	c := max(n, min(2*cap(b), MaxAnswer), 4<<10)
	nb := make([]byte, n, c)
	copy(nb, b)
	return nb
}

// readLine reads a CRLF- (or LF-) ended line, without its end. seen is the
// head's bytes so far: a head over MaxHeaders is refused. A line longer
// than the buffer is read whole into a copy.
func readLine(r *bufio.Reader, seen int) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if seen+len(long) > MaxHeaders {
				return nil, ProtocolError{"head over 1 MiB"}
			}
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if seen+len(line) > MaxHeaders {
		return nil, ProtocolError{"head over 1 MiB"}
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// equalFold reports whether b is s (lower case ASCII) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated header value lists tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if equalFold(bytes.TrimSpace(v[:i]), tok) {
			return true
		}
		v = v[min(i+1, len(v)):]
	}
	return false
}
