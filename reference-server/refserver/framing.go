package refserver

import (
	"bytes"
	"strconv"
	"strings"
)

// framing follows the HTTP/1.1 requests on one connection as the server
// reads them, to catch the framing net/http accepts and RFC 9112 says a
// server must treat as an error and close the connection after:
//
//   - a head with both Content-Length and Transfer-Encoding (§6.1; net/http
//     lets the chunked coding win, and keeps the connection open, so a
//     request smuggled behind the body a front proxy saw is served);
//   - Content-Length more than once, even with one value (§6.3);
//   - a header line folded onto the one before (obs-fold, §5.2);
//   - Transfer-Encoding in an HTTP/1.0 request (§6.1), or any coding but a
//     final chunked (net/http answers 501 and closes, but the bytes after
//     it are no longer framed).
//
// It reads the stream exactly as it reaches net/http's reader, request
// after request: a head up to its empty line, then the body its framing
// says (Content-Length bytes, chunks up to the last and its trailer, or
// none). Once it has found a fault it stops (bad says why); the
// connection's next answer refuses the request and closes (HTTPServer).
// A stream it cannot follow at all (an HTTP/2 preface) it stops following
// without a fault: net/http answers that itself and closes.
//
// It costs one pass over each head byte and none over body bytes.
type framing struct {
	state   framingState
	line    []byte // the head, or the chunk-size or trailer line, read so far
	left    int64  // bytes left of the body or chunk (with its CRLF)
	bad     string // the fault found, once found
	stopped bool
}

type framingState uint8

const (
	inHead framingState = iota
	inBody
	inChunkSize
	inChunkData
	inTrailer
)

// Bounds past which framing stops with a fault: net/http refuses a head
// past MaxHeaderBytes+4096 and a chunk line past 4096 bytes itself.
const (
	maxFramedHead = MaxHeaderBytes + 8<<10
	maxChunkLine  = 4 << 10
)

// feed takes the next bytes the server read from the connection.
func (f *framing) feed(b []byte) {
	for len(b) > 0 && f.bad == "" && !f.stopped {
		switch f.state {
		case inHead:
			b = f.feedHead(b)
		case inBody, inChunkData:
			n := min(int64(len(b)), f.left)
			f.left -= n
			b = b[n:]
			if f.left == 0 && f.state == inBody {
				f.state = inHead
			} else if f.left == 0 {
				f.state = inChunkSize
			}
		case inChunkSize, inTrailer:
			b = f.feedLine(b)
		}
	}
}

// feedHead adds to the head up to its empty line, then reads its framing.
func (f *framing) feedHead(b []byte) []byte {
	for i, c := range b {
		if len(f.line) == 0 && (c == '\r' || c == '\n') {
			continue // empty lines before a request line are skipped (RFC 9112 §2.2)
		}
		f.line = append(f.line, c)
		if c == '\n' && (bytes.HasSuffix(f.line, []byte("\n\n")) || bytes.HasSuffix(f.line, []byte("\n\r\n"))) {
			f.frame(string(f.line))
			f.line = f.line[:0]
			return b[i+1:]
		}
		if len(f.line) > maxFramedHead {
			f.bad = "the request head is longer than the server reads"
			return nil
		}
	}
	return nil
}

// frame reads a whole head's framing and sets what comes after it.
func (f *framing) frame(head string) {
	lines := strings.Split(strings.TrimRight(head, "\r\n"), "\n")
	reqLine := strings.TrimSuffix(lines[0], "\r")
	_, proto, _ := cutLast(reqLine, " ")
	switch {
	case reqLine == "PRI * HTTP/2.0":
		f.stopped = true // HTTP/2 with prior knowledge: frames follow, not heads
		return
	case len(proto) != len("HTTP/1.1") || !strings.HasPrefix(proto, "HTTP/1.") || proto[7] < '0' || proto[7] > '9':
		f.bad = "the request line does not end in HTTP/1.x"
		return
	}
	http10 := proto == "HTTP/1.0"
	var cls, tes []string
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l != "" && (l[0] == ' ' || l[0] == '\t') {
			f.bad = "a header line is folded onto the one before it (obs-fold)"
			return
		}
		name, value, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			cls = append(cls, strings.TrimSpace(value))
		case "transfer-encoding":
			tes = append(tes, strings.TrimSpace(value))
		}
	}
	switch {
	case len(cls) > 0 && len(tes) > 0:
		f.bad = "the request has both Content-Length and Transfer-Encoding"
	case len(cls) > 1:
		f.bad = "the request has Content-Length more than once"
	case len(tes) > 0 && http10:
		f.bad = "an HTTP/1.0 request has Transfer-Encoding"
	case len(tes) > 0:
		if len(tes) != 1 || !strings.EqualFold(tes[0], "chunked") {
			f.bad = "the request's Transfer-Encoding is not chunked alone"
			return
		}
		f.state = inChunkSize
	case len(cls) == 1:
		n, err := strconv.ParseUint(cls[0], 10, 63)
		if err != nil {
			f.bad = "the request's Content-Length is not a number"
			return
		}
		if f.left = int64(n); n > 0 {
			f.state = inBody
		}
	}
}

// feedLine reads a chunk-size line, or a trailer line up to the empty one
// that ends the body.
func (f *framing) feedLine(b []byte) []byte {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		f.line = append(f.line, b...)
		if len(f.line) > maxChunkLine {
			f.bad = "a chunk line is longer than the server reads"
		}
		return nil
	}
	f.line = append(f.line, b[:i]...)
	line := strings.TrimSuffix(string(f.line), "\r")
	f.line = f.line[:0]
	if f.state == inTrailer {
		if line == "" {
			f.state = inHead
		}
		return b[i+1:]
	}
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseUint(strings.TrimSpace(size), 16, 62)
	switch {
	case err != nil:
		f.bad = "a chunk size is not a hexadecimal number"
	case n == 0:
		f.state = inTrailer
	default:
		f.state, f.left = inChunkData, int64(n)+2 // the data and its CRLF
	}
	return b[i+1:]
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
