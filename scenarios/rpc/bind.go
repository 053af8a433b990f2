package rpc

import (
	"errors"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/surgekit/surge/scenarios"
	"github.com/surgekit/surge/scenarios/spec"
)

// Method is one method a scenario's call binds to.
type Method struct{ md protoreflect.MethodDescriptor }

// Encode builds the call's body from its message as JSON.
func (m *Method) Encode(jsonMsg []byte) ([]byte, error) { return Encode(m.md, jsonMsg) }

// Decode reads the answer's body into JSON: a unary call's one message;
// a server-streaming call's messages as a JSON array, and how many.
func (m *Method) Decode(body []byte) ([]byte, int, error) {
	if !m.md.IsStreamingServer() {
		b, err := Decode(m.md, body)
		return b, 1, err
	}
	return DecodeAll(m.md, body)
}

// Valid checks the answer's body is the method's, as Decode reads it,
// without the JSON (for a call that neither extracts nor checks); and
// says how many messages it holds.
func (m *Method) Valid(body []byte) (int, error) { return Valid(m.md, body) }

// ServerStreams says the method answers with a stream of messages.
func (m *Method) ServerStreams() bool { return m.md.IsStreamingServer() }

// Names are the methods s's calls name, once each, sorted.
func Names(s *scenarios.Scenario) []string {
	var out []string
	for _, name := range spec.SortedKeys(s.Requests) {
		if r := s.Requests[name]; r.IsGRPC() {
			out = append(out, r.GRPC)
		}
	}
	return out
}

// Bind finds the method of each of s's calls (by the method's full name) and checks
// its message template against the method's request message. Every
// problem is an error at its key of the scenario file: a method the
// service does not have, a streaming one, a field its message lacks, a
// literal of the wrong type.
func Bind(s *scenarios.Scenario, m *Methods) (map[string]*Method, error) {
	out := map[string]*Method{}
	var errs spec.Errors
	for _, name := range spec.SortedKeys(s.Requests) {
		r := s.Requests[name]
		if !r.IsGRPC() {
			continue
		}
		md, err := m.Method(r.GRPC)
		if err != nil {
			errs = append(errs, located(s.Errorf(spec.Join("requests", name, "grpc"), "%v", err)))
			continue
		}
		if md.IsStreamingClient() {
			errs = append(errs, located(s.Errorf(spec.Join("requests", name, "grpc"), "%s takes a stream; surge calls unary and server-streaming methods", r.GRPC)))
			continue
		}
		Check(md.Input(), r.Message, spec.Join("requests", name, "message"), func(path, msg string) {
			errs = append(errs, located(s.Errorf(path, "%s", msg)))
		})
		out[r.GRPC] = &Method{md: md}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func located(err error) *spec.Error {
	var e *spec.Error
	if errors.As(err, &e) {
		return e
	}
	return &spec.Error{Msg: err.Error()}
}
