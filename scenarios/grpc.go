package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// GRPCCodes are gRPC's status codes by number (grpc/codes), as written in
// a request's expect: list.
var GRPCCodes = []string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
	"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// GRPCStatus is where gRPC codes start among a request's statuses: a
// call's status is GRPCStatus+code, an HTTP answer's its HTTP status, so
// one expect: list and one classification serve both.
const GRPCStatus = 1000

// Status is an HTTP status (200) or a gRPC code (GRPCStatus+code), read
// from YAML as a number or a gRPC code's name (UNAVAILABLE).
type Status int

// UnmarshalYAML reads an HTTP status or a gRPC code name.
func (s *Status) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if i := slices.Index(GRPCCodes, strings.ToUpper(n.Value)); i >= 0 {
			*s = Status(GRPCStatus + i)
			return nil
		}
		if v, err := strconv.Atoi(n.Value); err == nil {
			*s = Status(v)
			return nil
		}
	}
	return fmt.Errorf("%q is neither an HTTP status nor a gRPC code (%s)", n.Value, strings.Join(GRPCCodes, ", "))
}

// MarshalYAML writes a gRPC code by its name.
func (s Status) MarshalYAML() (any, error) {
	if s >= GRPCStatus {
		return s.String(), nil
	}
	return int(s), nil
}

func (s Status) String() string {
	if c := int(s) - GRPCStatus; c >= 0 && c < len(GRPCCodes) {
		return GRPCCodes[c]
	}
	return strconv.Itoa(int(s))
}

// GRPCKinds are the error kinds of failed calls: a code's name in lower
// case (DEADLINE_EXCEEDED is a timeout, as the client's own deadline is).
var GRPCKinds = func() []string {
	var out []string
	for _, c := range GRPCCodes[1:] {
		if c != "DEADLINE_EXCEEDED" {
			out = append(out, strings.ToLower(c))
		}
	}
	return out
}()

// grpcCodeOfHTTP is the code a call answered by a bare HTTP status (a proxy
// or a load balancer, with no grpc-status) stands for, as gRPC's clients
// read it (doc/http-grpc-status-mapping.md).
func grpcCodeOfHTTP(status int) int {
	switch status {
	case 200:
		return 2 // a 200 with no grpc-status: UNKNOWN
	case 400:
		return 13
	case 401:
		return 16
	case 403:
		return 7
	case 404:
		return 12
	case 429, 502, 503, 504:
		return 14
	}
	return 2
}

// classifyGRPC names a call's kind from its status: GRPCStatus+code, or a
// bare HTTP status (the simulator's 503 shed is UNAVAILABLE, as a proxy's).
func (r Request) classifyGRPC(status int) string {
	code := status - GRPCStatus
	if status < GRPCStatus {
		code = grpcCodeOfHTTP(status)
	}
	if code < 0 || code >= len(GRPCCodes) {
		code = 2
	}
	switch {
	case len(r.Expect) > 0 && slices.Contains(r.Expect, Status(GRPCStatus+code)):
		return ""
	case len(r.Expect) == 0 && code == 0:
		return ""
	case code == 4:
		return "timeout"
	case code == 0:
		return "wrong_status" // OK, where the request expects another code
	}
	return strings.ToLower(GRPCCodes[code])
}

// IsGRPC says the request is a gRPC call.
func (r Request) IsGRPC() bool { return r.GRPC != "" }

// CallKind is what an error kind of an HTTP answer (as the simulator
// names a stage's answers) is for this call: a shed is unavailable (as a
// 503 is to gRPC's clients), a 5xx unknown, a 4xx internal; a kind that
// is not an HTTP answer's (a timeout, a refused connection) stays.
func (r Request) CallKind(kind string) string {
	switch kind {
	case "shed":
		return r.classifyGRPC(503)
	case "5xx":
		return r.classifyGRPC(500)
	case "4xx":
		return r.classifyGRPC(400)
	}
	return kind
}
