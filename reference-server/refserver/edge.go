package refserver

import (
	"net/http"
	"path"
	"strings"
	"time"
)

// The edge of the API: every answer is the JSON error shape with the right
// status, even those net/http writes itself before any handler runs (a
// malformed request, headers over the limit), and no request is served
// by surprise (a path that is not clean is not redirected to one that is;
// a known path with the wrong method is 405, not 404).

// Limits of the HTTP server the reference server runs on.
const (
	// MaxHeaderBytes bounds a request's head; past it, 431.
	MaxHeaderBytes = 64 << 10
	// ReadTimeout covers a request's head and body: a client trickling a
	// body holds its connection (and a goroutine) for at most this.
	ReadTimeout       = 30 * time.Second
	ReadHeaderTimeout = 10 * time.Second
	// WriteTimeout is past the longest answer the profiles' request
	// timeouts allow.
	WriteTimeout = 2 * time.Minute
	IdleTimeout  = 2 * time.Minute
)

// HTTPServer is an http.Server for a handler with the reference server's
// limits, which refuses what its Edge listener found (see guarded).
//
// It speaks HTTP/1.1 and, on the same port, HTTP/2 with prior knowledge
// (h2c), as a relay's HTTP/2 edge does toward it; HTTP/2's framing is net/http's
// own and strict, so the framing checks are HTTP/1.1's alone.
func HTTPServer(h http.Handler) *http.Server {
	return httpServer(h, false)
}

// HTTPSServer is HTTPServer for TLS: HTTP/2 only (ALPN h2), on a listener
// from EdgeTLS; give it to ServeTLS with the certificate and key.
func HTTPSServer(h http.Handler) *http.Server {
	return httpServer(h, true)
}

func httpServer(h http.Handler, tlsOnly bool) *http.Server {
	hs := &http.Server{Handler: guarded(h), ConnContext: connContext, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout,
		IdleTimeout: IdleTimeout, MaxHeaderBytes: MaxHeaderBytes, Protocols: new(http.Protocols)}
	if tlsOnly {
		hs.Protocols.SetHTTP2(true)
		return hs
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	return hs
}

// errorCode names a status net/http answers with.
func errorCode(status int) string {
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		return "headers_too_large"
	case http.StatusNotImplemented:
		return "not_implemented"
	case http.StatusRequestTimeout:
		return "request_timeout"
	}
	return "bad_request"
}

// edge serves mux strictly: an unclean path is 404 (not a redirect to the
// clean one), a known path with another method is 405 with Allow.
func edge(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "" || p[0] != '/' || path.Clean(p) != p && !(strings.HasSuffix(p, "/") && path.Clean(p)+"/" == p) || strings.Contains(p, "//") {
			writeError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: r.Method + " " + p + ": not a clean path (no redirects here)"})
			return
		}
		if _, pattern := mux.Handler(r); pattern == "/" {
			if allow := allowed(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
					Message: r.Method + " " + p + ": this endpoint takes " + strings.Join(allow, ", ")})
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// allowed lists the methods a path is served with.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}
