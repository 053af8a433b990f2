// Package rpc knows the gRPC methods a scenario calls: their descriptors,
// compiled from the .proto files the scenario names (with protocompile) or
// asked of the server by its reflection service, and the messages on the
// wire, built from a request's JSON template (protobuf's JSON mapping, by
// dynamicpb and protojson) and read back into JSON for extraction.
//
// A unary call on the wire is an HTTP/2 POST to /package.Service/Method
// with content-type application/grpc and a body of one length-prefixed
// message; the answer is one such message and trailers holding grpc-status.
// The load generator (scenarios/replay) sends it over its own HTTP/2
// streams, so a call gets every figure a request has; this package only
// frames and names.
//
// Trust: .proto files are read from the scenario's directory (or an
// absolute path the scenario names), bounded in size; a server's
// reflection answers are bounded in count and size, and only describe
// messages: nothing in them is run.
package rpc

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	reflection "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/surgekit/surge/scenarios/spec"
)

// Methods are the methods a scenario may call, by full name
// ("package.Service/Method").
type Methods struct {
	byName map[string]protoreflect.MethodDescriptor
	// From says where they came from: the .proto files, or the server's
	// reflection.
	From string
}

// MaxProtoFile bounds a .proto file's size.
const MaxProtoFile = 16 << 20

// Compile compiles .proto files (relative to dir, or absolute) and
// returns every method of their services. google/protobuf's well-known
// files are built in.
func Compile(ctx context.Context, dir string, files []string) (*Methods, error) {
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: func(path string) (io.ReadCloser, error) {
			b, err := spec.ReadFileIn(dir, path, MaxProtoFile)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(strings.NewReader(string(b))), nil
		},
	})}
	fds, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, err
	}
	m := &Methods{byName: map[string]protoreflect.MethodDescriptor{}, From: strings.Join(files, ", ")}
	for _, fd := range fds {
		m.add(fd)
	}
	return m, nil
}

func (m *Methods) add(fd protoreflect.FileDescriptor) {
	for i := range fd.Services().Len() {
		s := fd.Services().Get(i)
		for j := range s.Methods().Len() {
			md := s.Methods().Get(j)
			m.byName[string(s.FullName())+"/"+string(md.Name())] = md
		}
	}
}

// Method is the descriptor of a method by its full name. An unknown one is
// an error that lists the methods there are (up to ten).
func (m *Methods) Method(name string) (protoreflect.MethodDescriptor, error) {
	if md, ok := m.byName[name]; ok {
		return md, nil
	}
	known := m.Names()
	if len(known) > 10 {
		known = append(known[:10], "...")
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("no method %s: %s define no service", name, m.From)
	}
	return nil, fmt.Errorf("no method %s in %s (there are %s)", name, m.From, strings.Join(known, ", "))
}

// Names lists the methods, sorted.
func (m *Methods) Names() []string {
	out := make([]string, 0, len(m.byName))
	for n := range m.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Reflection's bounds: how many files one answer may describe, and how
// many services a server may list.
const (
	maxReflectedFiles    = 10_000
	maxReflectedServices = 10_000
)

// Reflect asks a server's reflection service (grpc.reflection.v1) for the
// services that hold the named methods (all its services when none is
// named). addr is host:port; conf nil means no TLS.
func Reflect(ctx context.Context, addr string, conf *tls.Config, names []string) (*Methods, error) {
	creds := insecure.NewCredentials()
	if conf != nil {
		creds = credentials.NewTLS(conf)
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stream, err := reflection.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("server reflection at %s: %w", addr, err)
	}
	defer stream.CloseSend()
	services := serviceNames(names)
	if len(services) == 0 {
		if services, err = listServices(stream); err != nil {
			return nil, fmt.Errorf("server reflection at %s: %w", addr, err)
		}
	}
	protos := map[string]*descriptorpb.FileDescriptorProto{}
	for _, s := range services {
		if err := fileContaining(stream, s, protos); err != nil {
			return nil, fmt.Errorf("server reflection at %s: service %s: %w", addr, s, err)
		}
	}
	m := &Methods{byName: map[string]protoreflect.MethodDescriptor{}, From: "the server's reflection"}
	files, err := link(protos)
	if err != nil {
		return nil, fmt.Errorf("server reflection at %s: %w", addr, err)
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool { m.add(fd); return true })
	return m, nil
}

// serviceNames are the services of method names, once each.
func serviceNames(methods []string) []string {
	var out []string
	for _, n := range methods {
		s, _, _ := strings.Cut(n, "/")
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

type reflectStream = reflection.ServerReflection_ServerReflectionInfoClient

func ask(stream reflectStream, req *reflection.ServerReflectionRequest) (*reflection.ServerReflectionResponse, error) {
	if err := stream.Send(req); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return nil, fmt.Errorf("%s (code %d)", e.GetErrorMessage(), e.GetErrorCode())
	}
	return resp, nil
}

func listServices(stream reflectStream) ([]string, error) {
	resp, err := ask(stream, &reflection.ServerReflectionRequest{MessageRequest: &reflection.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return nil, err
	}
	list := resp.GetListServicesResponse().GetService()
	if len(list) > maxReflectedServices {
		return nil, fmt.Errorf("%d services, more than %d", len(list), maxReflectedServices)
	}
	var out []string
	for _, s := range list {
		if !strings.HasPrefix(s.GetName(), "grpc.reflection.") {
			out = append(out, s.GetName())
		}
	}
	return out, nil
}

// fileContaining adds the file that defines symbol, and the files it
// imports, to protos: those the answer left out (a server may send a file
// once per stream) from the well-known ones built in, else asked by name.
func fileContaining(stream reflectStream, symbol string, protos map[string]*descriptorpb.FileDescriptorProto) error {
	resp, err := ask(stream, &reflection.ServerReflectionRequest{MessageRequest: &reflection.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}})
	if err != nil {
		return err
	}
	if err := addFiles(protos, resp); err != nil {
		return err
	}
	for missing := missingImports(protos); len(missing) > 0; missing = missingImports(protos) {
		for _, dep := range missing {
			if fd, err := protoregistry.GlobalFiles.FindFileByPath(dep); err == nil {
				protos[dep] = protodesc.ToFileDescriptorProto(fd)
				continue
			}
			resp, err := ask(stream, &reflection.ServerReflectionRequest{MessageRequest: &reflection.ServerReflectionRequest_FileByFilename{FileByFilename: dep}})
			if err != nil {
				return fmt.Errorf("import %s: %w", dep, err)
			}
			if err := addFiles(protos, resp); err != nil {
				return err
			}
			if _, ok := protos[dep]; !ok {
				return fmt.Errorf("import %s: the server does not describe it", dep)
			}
		}
	}
	return nil
}

func addFiles(protos map[string]*descriptorpb.FileDescriptorProto, resp *reflection.ServerReflectionResponse) error {
	raw := resp.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(raw)+len(protos) > maxReflectedFiles {
		return fmt.Errorf("more than %d files", maxReflectedFiles)
	}
	for _, b := range raw {
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fdp); err != nil {
			return fmt.Errorf("a file descriptor: %w", err)
		}
		protos[fdp.GetName()] = fdp
	}
	return nil
}

// missingImports are the files protos import but do not hold, sorted.
func missingImports(protos map[string]*descriptorpb.FileDescriptorProto) []string {
	var out []string
	for _, fdp := range protos {
		for _, dep := range fdp.GetDependency() {
			if _, ok := protos[dep]; !ok && !slices.Contains(out, dep) {
				out = append(out, dep)
			}
		}
	}
	sort.Strings(out)
	return out
}

func link(protos map[string]*descriptorpb.FileDescriptorProto) (*protoregistry.Files, error) {
	set := &descriptorpb.FileDescriptorSet{}
	for _, fdp := range protos {
		set.File = append(set.File, fdp)
	}
	return protodesc.NewFiles(set)
}

// Encode builds a call's body from its message as JSON: the message in
// protobuf's binary form, length-prefixed (uncompressed).
func Encode(md protoreflect.MethodDescriptor, jsonMsg []byte) ([]byte, error) {
	msg := dynamicpb.NewMessage(md.Input())
	if err := protojson.Unmarshal(jsonMsg, msg); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 5, 5+len(b))
	binary.BigEndian.PutUint32(out[1:], uint32(len(b)))
	return append(out, b...), nil
}

// ErrFraming is an answer body that is not length-prefixed messages.
var ErrFraming = errors.New("grpc: an answer that is not length-prefixed messages")

// DecodeAll reads a server stream's body (length-prefixed messages, one
// after another) into a JSON array, and says how many there were.
func DecodeAll(md protoreflect.MethodDescriptor, body []byte) ([]byte, int, error) {
	out := []byte{'['}
	n, err := eachMessage(body, func(m []byte) error {
		if len(out) > 1 {
			out = append(out, ',')
		}
		js, err := Decode(md, m)
		out = append(out, js...)
		return err
	})
	if err != nil {
		return nil, n, err
	}
	return append(out, ']'), n, nil
}

// eachMessage calls f with each length-prefixed message of a server
// stream's body, prefix included, and says how many there were.
func eachMessage(body []byte, f func([]byte) error) (int, error) {
	n := 0
	for len(body) > 0 {
		size, ok := FrameSize(body)
		if !ok {
			return n, ErrFraming
		}
		if err := f(body[:size]); err != nil {
			return n, err
		}
		body, n = body[size:], n+1
	}
	return n, nil
}

// Valid says whether body is an answer of md's (one message, or a
// stream's messages), as Decode and DecodeAll read it, without turning it
// into JSON; and how many messages it holds.
func Valid(md protoreflect.MethodDescriptor, body []byte) (int, error) {
	if !md.IsStreamingServer() {
		_, err := unmarshal(md, body)
		return 1, err
	}
	return eachMessage(body, func(m []byte) error {
		_, err := unmarshal(md, m)
		return err
	})
}

// FrameSize is the size of the first length-prefixed message of body,
// prefix included, once body holds all of it.
func FrameSize(body []byte) (int, bool) {
	if len(body) < 5 {
		return 0, false
	}
	n := uint64(binary.BigEndian.Uint32(body[1:5]))
	if n > uint64(len(body)-5) {
		return 0, false
	}
	return 5 + int(n), true
}

// Decode reads an answer's body (one length-prefixed message; a body with
// none, as with a status and no message, is nil) into JSON.
func Decode(md protoreflect.MethodDescriptor, body []byte) ([]byte, error) {
	msg, err := unmarshal(md, body)
	if msg == nil || err != nil {
		return nil, err
	}
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
}

// unmarshal reads an answer's one length-prefixed message (nil for an
// empty body).
func unmarshal(md protoreflect.MethodDescriptor, body []byte) (*dynamicpb.Message, error) {
	if len(body) == 0 {
		return nil, nil
	}
	if len(body) < 5 || body[0] > 1 {
		return nil, ErrFraming
	}
	if body[0] == 1 {
		return nil, errors.New("grpc: a compressed answer (surge asks for none)")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if uint64(n) > uint64(len(body)-5) {
		return nil, ErrFraming
	}
	msg := dynamicpb.NewMessage(md.Output())
	if err := proto.Unmarshal(body[5:5+n], msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// Callable are the methods surge calls (unary and server-streaming),
// sorted by name, each with an example message as a JSON template would
// hold it (what surge init writes).
func (m *Methods) Callable() []Example {
	var out []Example
	for _, name := range m.Names() {
		md := m.byName[name]
		if md.IsStreamingClient() {
			continue
		}
		out = append(out, Example{Method: name, Message: example(md.Input(), 0)})
	}
	return out
}

// Example is a method and an example of its request message.
type Example struct {
	Method  string
	Message map[string]any
}

// example is a message's example: each field an example of its kind (a
// nested message to depth 3, a repeated field one item).
func example(md protoreflect.MessageDescriptor, depth int) map[string]any {
	out := map[string]any{}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return out
	}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if fd.IsMap() || fd.Kind() == protoreflect.MessageKind && depth >= 3 {
			continue
		}
		v := exampleValue(fd, depth)
		if v == nil {
			continue
		}
		if fd.IsList() {
			v = []any{v}
		}
		out[string(fd.Name())] = v
	}
	return out
}

func exampleValue(fd protoreflect.FieldDescriptor, depth int) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
			return nil // a well-known type: its JSON form is its own
		}
		return example(fd.Message(), depth+1)
	case protoreflect.BoolKind:
		return false
	case protoreflect.StringKind:
		return string(fd.Name())
	case protoreflect.BytesKind:
		return ""
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return string(vals.Get(min(1, vals.Len()-1)).Name())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return 0.5
	}
	return 1
}
