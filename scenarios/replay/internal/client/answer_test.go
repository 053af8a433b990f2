package client

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzAnswerAgreesWithNetHTTP: wherever the client's answer reader
// accepts bytes, net/http.ReadResponse (skipping 1xx answers as the client
// does) reads the same status, the same headers and the same body.
func FuzzAnswerAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Sum: 5\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nold",
		"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 2\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"error\": {}}",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nlf",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := readAnswer(bufio.NewReaderSize(bytes.NewReader(data), 16), false, nil, nil)
		if err != nil {
			return // refused: nothing to agree on
		}
		br := bufio.NewReader(bytes.NewReader(data))
		var want *http.Response
		for {
			want, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("readAnswer took %q (status %d, body %q); net/http: %v", data, resp.Status, resp.Body, err)
			}
			if want.StatusCode >= 200 || want.StatusCode == 101 {
				break
			}
		}
		body, err := io.ReadAll(io.LimitReader(want.Body, MaxAnswer))
		if err != nil {
			t.Fatalf("readAnswer took %q; net/http's body: %v", data, err)
		}
		if want.StatusCode != resp.Status || !bytes.Equal(body, resp.Body) {
			t.Fatalf("%q: status %d body %q; net/http: %d %q", data, resp.Status, resp.Body, want.StatusCode, body)
		}
		if got, w := headerText(resp.Head), wantHeaders(want.Header); got != w {
			t.Fatalf("%q: headers\n%s\nnet/http:\n%s", data, got, w)
		}
	})
}

// headerText is a head's headers as canonical "Name: value" lines, sorted
// as net/http would list them (framing headers aside: net/http takes
// Transfer-Encoding and may drop a repeated Content-Length).
func headerText(head []byte) string {
	h := http.Header{}
	lines := strings.Split(strings.TrimSuffix(string(head), "\n"), "\n")
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		h.Add(name, strings.Trim(value, " \t"))
	}
	return wantHeaders(h)
}

func wantHeaders(h http.Header) string {
	var b strings.Builder
	for _, k := range sortedKeys(h) {
		if k == "Transfer-Encoding" || k == "Content-Length" {
			continue
		}
		fmt.Fprintf(&b, "%s: %q\n", k, h[k])
	}
	return b.String()
}

func sortedKeys(h http.Header) []string {
	var out []string
	for k := range h {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// benchAnswer is a 1 MiB answer, framed by a Content-Length or in 4 KiB
// chunks (as Go's server writes a body it is not told the length of).
func benchAnswer(chunked bool) []byte {
	body := strings.Repeat("x", 1<<20)
	var b bytes.Buffer
	if chunked {
		b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for i := 0; i < len(body); i += 4096 {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", 4096, body[i:i+4096])
		}
		b.WriteString("0\r\n\r\n")
	} else {
		fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	}
	return b.Bytes()
}

// BenchmarkReadAnswer reads a 1 MiB answer either way: chunked framing
// should cost about what a Content-Length does (it cost 6x when the body
// grew by a quarter per chunk, copying it over and over).
func BenchmarkReadAnswer(b *testing.B) {
	for _, chunked := range []bool{false, true} {
		b.Run(fmt.Sprint("chunked=", chunked), func(b *testing.B) {
			data := benchAnswer(chunked)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := readAnswer(bufio.NewReaderSize(bytes.NewReader(data), h1Buffer), false, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
