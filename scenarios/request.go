package scenarios

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/surgekit/surge/scenarios/spec"
)

// Request is an HTTP request template. ${name} in the path, a header, a
// form field, a raw body, a multipart value or a JSON string is replaced by the user's variable of that name; a JSON
// string that is exactly "${name}" takes the variable's JSON value whole
// (an object stays an object).
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	// The body, one of: JSON (a JSON document, variables inside), Form
	// (application/x-www-form-urlencoded fields), Body (raw text, of
	// ContentType, default text/plain) or Multipart (multipart/form-data
	// parts: values or files).
	JSON        map[string]any    `yaml:"json"`
	Form        map[string]string `yaml:"form"`
	Body        string            `yaml:"body"`
	ContentType string            `yaml:"content_type"`
	Multipart   []Part            `yaml:"multipart"`
	// Expect lists the statuses that count as success (default: any 2xx;
	// for a call, OK): HTTP statuses, or gRPC codes by name.
	Expect []Status `yaml:"expect"`
	// Extract sets variables from the answer: name -> a dotted JSON path
	// ("credential.id"; "." is the whole body), or {header: Name},
	// {cookie: name} or {regex: "token=(\\w+)"} (the first group).
	Extract map[string]Extraction `yaml:"extract"`
	// Check lists what a successful answer must also hold; one that does
	// not fails with the check's kind (check_<n>, or its own).
	Check []Check `yaml:"check"`
	// Kinds maps an error code in the answer ({"error": {"code": ...}}) to
	// an error kind of the results (e.g. qr_expired -> expired_qr).
	Kinds map[string]string `yaml:"kinds"`
	// Endpoint is the capacity-profile endpoint it exercises (for sim and
	// plan); default: the request's name.
	Endpoint string `yaml:"endpoint"`
	// GRPC makes the request a unary gRPC call of this method
	// ("package.Service/Method") in place of Method and Path; Message is
	// its request as JSON (protobuf's JSON mapping, variables as in json:),
	// Metadata its metadata (variables inside), Deadline the deadline it
	// sends (grpc-timeout) and keeps (default: the step's timeout).
	GRPC     string            `yaml:"grpc"`
	Message  map[string]any    `yaml:"message"`
	Metadata map[string]string `yaml:"metadata"`
	Deadline time.Duration     `yaml:"deadline"`
	// WS opens a WebSocket at this path of the target (or a ws:// or
	// wss:// URL), SSE an event stream (a GET of text/event-stream): a
	// connection the user holds, in place of Method and Path. Send are the
	// messages a WebSocket sends once open (JSON templates). Until is the
	// message the user waits for (a check on each message), for at most
	// Within; its JSON is the answer extract: reads. Hold keeps the
	// connection open so long after that (or after the open, with no
	// Until), then closes it. The step's latency is the wait for Until
	// (or the open); the connection counts as held throughout.
	WS     string        `yaml:"ws"`
	SSE    string        `yaml:"sse"`
	Send   []any         `yaml:"send" max:"1000"`
	Until  *Check        `yaml:"until"`
	Within time.Duration `yaml:"within"`
	Hold   time.Duration `yaml:"hold"`
}

// IsHeld says the request opens a connection the user holds (WS or SSE).
func (r Request) IsHeld() bool { return r.WS != "" || r.SSE != "" }

// Part is one part of a multipart body: a field's value, or a file's
// content (read when the run starts, relative to the scenario file).
type Part struct {
	Name        string `yaml:"name"`
	Value       string `yaml:"value"`
	File        string `yaml:"file"`
	Filename    string `yaml:"filename"` // default: the file's base name
	ContentType string `yaml:"content_type"`
}

// Extraction says where in an answer a variable's value is: exactly one
// of a JSON path, a header, a cookie (from Set-Cookie) or a regular
// expression over the body (its first group, else the whole match).
type Extraction struct {
	JSON   string `yaml:"json"`
	Header string `yaml:"header"`
	Cookie string `yaml:"cookie"`
	Regex  string `yaml:"regex"`
	re     *regexp.Regexp
}

// UnmarshalYAML reads a JSON path ("session") or a mapping.
func (e *Extraction) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*e = Extraction{JSON: n.Value}
		return nil
	}
	type plain Extraction
	if err := n.Decode((*plain)(e)); err != nil {
		return err
	}
	if e.Regex != "" {
		re, err := regexp.Compile(e.Regex)
		if err != nil {
			return spec.NodeError(n, "regex: %v", err)
		}
		e.re = re
	}
	return nil
}

// Match is the extraction's regular expression (nil unless Regex).
func (e Extraction) Match() *regexp.Regexp { return e.re }

// Check is one condition on a successful answer: a JSON path's value
// equals a value or matches a regular expression, or the body contains a
// text. Kind names its failure (default check_<n>, n from 1).
type Check struct {
	Kind         string `yaml:"kind"`
	JSON         string `yaml:"json"`
	Equals       any    `yaml:"equals"`
	Matches      string `yaml:"matches"`
	BodyContains string `yaml:"body_contains"`
	re           *regexp.Regexp
}

// UnmarshalYAML reads the check and compiles its expression.
func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	type plain Check
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	if c.Matches != "" {
		re, err := regexp.Compile(c.Matches)
		if err != nil {
			return spec.NodeError(n, "matches: %v", err)
		}
		c.re = re
	}
	return nil
}

// Pattern is the check's regular expression (nil unless Matches).
func (c Check) Pattern() *regexp.Regexp { return c.re }

// CheckKind is the error kind of the i-th check's failure.
func (r Request) CheckKind(i int) string {
	if k := r.Check[i].Kind; k != "" {
		return k
	}
	return "check_" + strconv.Itoa(i+1)
}

// SetsHeader reports whether the template sets the header name (in any
// case).
func (r Request) SetsHeader(name string) bool {
	for k := range r.Headers {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// FramingHeaders are set by the client from the target and the body; a
// template may not set them.
var FramingHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection"}

// BuiltinVars are the variables every user starts with: a user id, the
// platform (which changes when the user switches), a venue id, the signed
// credential and the holder's session that goes with it. A journey that
// reads ${credential} before any of its steps extracts one is a journey of
// users who hold one already (returning users): the engine issues theirs
// before the run starts.
var BuiltinVars = []string{"user", "platform", "venue", "credential", "session"}

// Error kinds the results count; request templates may add their own via
// Kinds. tls is a failed TLS handshake (an untrusted certificate, say);
// extract_failed an answer with the expected status that lacks what the
// journey extracts from it; refused_stream an HTTP/2 stream the server
// refused (REFUSED_STREAM), goaway one its GOAWAY left unprocessed even
// after a resend on another connection, stream_reset one it reset with
// another code.
var ErrorKinds = append([]string{"timeout", "refused", "reset", "tls", "shed", "5xx", "4xx", "expired_qr", "wrong_status", KindExtractFailed,
	"refused_stream", "goaway", "stream_reset", KindClosed}, GRPCKinds...)

// KindClosed is a held connection the server closed (or that broke)
// before the message the user waited for.
const KindClosed = "closed"

// ShedLike are the error kinds that, like a shed, say the service declined
// the work for want of capacity: HTTP/2's REFUSED_STREAM, gRPC's
// RESOURCE_EXHAUSTED and UNAVAILABLE. A retry policy that retries shed
// retries them too.
var ShedLike = []string{"refused_stream", "resource_exhausted", "unavailable"}

// Retries says whether a retry policy's on: list (empty: every kind)
// retries a failure of kind: listed, or shed-like when shed is listed.
func Retries(on []string, kind string) bool {
	return len(on) == 0 || slices.Contains(on, kind) || slices.Contains(ShedLike, kind) && slices.Contains(on, "shed")
}

// KindExtractFailed is the error kind of an answer that lacks a value the
// request's extract names.
const KindExtractFailed = "extract_failed"

// ReferenceRequests are the reference server's API as templates (see the README
// of the reference server); a scenario's own requests of the same name win.
var ReferenceRequests = map[string]Request{
	"identity.request": {Method: "POST", Path: "/v1/identity/requests", Expect: []Status{201},
		JSON:    map[string]any{"user_id": "${user}", "platform": "${platform}"},
		Extract: map[string]Extraction{"request_id": {JSON: "request_id"}, "sms_code": {JSON: "sms_code"}}},
	"identity.confirm": {Method: "POST", Path: "/v1/identity/requests/${request_id}/confirm", Expect: []Status{200},
		JSON:    map[string]any{"code": "${sms_code}"},
		Extract: map[string]Extraction{"identity_token": {JSON: "identity_token"}}},
	"certificate.issue": {Method: "POST", Path: "/v1/certificates", Expect: []Status{201},
		JSON:    map[string]any{"identity_token": "${identity_token}", "platform": "${platform}"},
		Extract: map[string]Extraction{"credential": {JSON: "wallet"}, "session": {JSON: "session"}}},
	"qr": {Method: "POST", Path: "/v1/qr", Expect: []Status{201},
		JSON:    map[string]any{"platform": "${platform}", "wallet": "${credential}", "session": "${session}"},
		Extract: map[string]Extraction{"token": {JSON: "token"}}},
	"checkin": {Method: "POST", Path: "/v1/checkins", Expect: []Status{201},
		JSON:  map[string]any{"token": "${token}", "venue_id": "${venue}"},
		Kinds: map[string]string{"qr_expired": "expired_qr", "qr_reused": "wrong_status", "qr_invalid": "wrong_status"}},
}

// VarRE matches a variable in a template: ${name}, ${env.NAME} (an
// environment variable, read when the run starts) or ${feeder.column} (the
// user's row of a data file).
var VarRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)?)\}`)

// EnvPrefix starts the name of a variable read from the environment.
const EnvPrefix = "env."

// Uses lists the variables a request reads, sorted.
func (r Request) Uses() []string {
	seen := map[string]bool{}
	add := func(s string) {
		for _, m := range VarRE.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
	}
	add(r.Path)
	add(r.WS)
	add(r.SSE)
	add(r.Body)
	for _, v := range r.Headers {
		add(v)
	}
	for _, v := range r.Metadata {
		add(v)
	}
	for _, v := range r.Form {
		add(v)
	}
	for _, part := range r.Multipart {
		add(part.Value)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			add(x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(r.JSON)
	walk(r.Message)
	for _, m := range r.Send {
		walk(m)
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Classify names an answer's error kind, "" for a success: a status the
// template expects (any 2xx when it lists none) is a success; 503 and 429
// are shed; another 5xx is 5xx; a 4xx whose error code the template maps
// (kinds:) is that kind, else 4xx; anything else is wrong_status. code
// gives the answer's error code ({"error": {"code": ...}}); it is asked
// for a 4xx only. The live engine and the simulator both classify so.
func (r Request) Classify(status int, code func() string) string {
	if r.IsGRPC() {
		return r.classifyGRPC(status)
	}
	if len(r.Expect) > 0 {
		if slices.Contains(r.Expect, Status(status)) {
			return ""
		}
	} else if status/100 == 2 {
		return ""
	}
	k := StatusKind(status)
	if k == "4xx" {
		if named, ok := r.Kinds[code()]; ok {
			return named
		}
	}
	return k
}

// StatusKind is the error kind of an HTTP status a request did not expect:
// 503 and 429 are a shed (the service refused it at once; retried as
// one), another 5xx is "5xx", a 4xx "4xx", anything else "wrong_status".
// The run names its answers by it, and the simulator its stages' and
// faults' answers, so the two worlds count the same kinds.
func StatusKind(status int) string {
	switch {
	case status == 503 || status == 429:
		return KindShed
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	}
	return "wrong_status"
}

// EndpointName is the profile endpoint a request exercises.
func (r Request) EndpointName(name string) string {
	if r.Endpoint != "" {
		return r.Endpoint
	}
	return name
}
