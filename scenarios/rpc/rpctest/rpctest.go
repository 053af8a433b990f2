// Package rpctest is a real gRPC server for tests (grpc-go, on loopback):
// a venue check-in service of the pass system, with server reflection,
// whose answers a test steers by the token it sends. Its messages are
// dynamic (compiled from Proto at start), as a scenario's are.
package rpctest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Proto is the service's definition, as a scenario's target.protos names it.
const Proto = `syntax = "proto3";
package pass.v1;

import "google/protobuf/timestamp.proto";

// Venue is what a scanner at a venue's door calls.
service Venue {
  rpc CheckIn(CheckInRequest) returns (CheckInReply);
  rpc Watch(CheckInRequest) returns (stream CheckInReply);
  rpc Batch(stream CheckInRequest) returns (CheckInReply);
}

enum Kind {
  KIND_UNSPECIFIED = 0;
  DINE_IN = 1;
  TAKEOUT = 2;
}

message CheckInRequest {
  string token = 1;
  string venue_id = 2;
  int32 party = 3;
  Kind kind = 4;
  repeated string tags = 5;
}

message CheckInReply {
  bool admitted = 1;
  string visit_id = 2;
  google.protobuf.Timestamp at = 3;
  int32 party = 4;
}
`

// Server is the running service.
type Server struct {
	Addr  string       // host:port on loopback
	Calls atomic.Int64 // CheckIn calls that reached the handler
	// Token is the bearer token calls must carry in their authorization
	// metadata ("" accepts any).
	Token string
	srv   *grpc.Server
}

// Start serves the service on a free loopback port (h2c) until t's end.
// Watch streams party replies (default 1), 50 ms apart, the first at once.
// A CheckIn's token steers its answer: "busy" is RESOURCE_EXHAUSTED,
// "down" UNAVAILABLE, "slow" waits for the call's deadline, "sleep-<ms>"
// sleeps that long first; any other is admitted as visit "v-<token>".
func Start(cleanup func(func()), token string) (*Server, error) {
	return StartOn("127.0.0.1:0", cleanup, token)
}

// StartOn is Start on addr (a loopback address).
func StartOn(addr string, cleanup func(func()), token string) (*Server, error) {
	files, err := (&protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"pass/v1/venue.proto": Proto}),
	})}).Compile(context.Background(), "pass/v1/venue.proto")
	if err != nil {
		return nil, err
	}
	fd := files[0]
	registry := new(protoregistry.Files)
	registry.RegisterFile(timestamppb.File_google_protobuf_timestamp_proto)
	registry.RegisterFile(fd)
	svc := fd.Services().ByName("Venue")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), Token: token, srv: grpc.NewServer()}
	s.srv.RegisterService(s.desc(svc), s)
	reflection.RegisterV1(reflectionOnly{s.srv, registry})
	go s.srv.Serve(ln)
	cleanup(s.srv.Stop)
	return s, nil
}

// reflectionOnly registers the reflection service with a resolver of the
// service's own files (they are not in the global registry).
type reflectionOnly struct {
	*grpc.Server
	files *protoregistry.Files
}

func (r reflectionOnly) RegisterService(sd *grpc.ServiceDesc, impl any) {
	r.Server.RegisterService(sd, reflection.NewServerV1(reflection.ServerOptions{Services: r.Server, DescriptorResolver: r.files}))
}

func (s *Server) desc(svc protoreflect.ServiceDescriptor) *grpc.ServiceDesc {
	checkIn := svc.Methods().ByName("CheckIn")
	return &grpc.ServiceDesc{
		ServiceName: string(svc.FullName()),
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "CheckIn", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := dynamicpb.NewMessage(checkIn.Input())
			if err := dec(in); err != nil {
				return nil, err
			}
			return s.checkIn(ctx, in, checkIn.Output())
		}}},
		Streams: []grpc.StreamDesc{{StreamName: "Watch", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			in := dynamicpb.NewMessage(checkIn.Input())
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return s.watch(ss, in, checkIn.Output())
		}}, {StreamName: "Batch", ClientStreams: true, Handler: func(any, grpc.ServerStream) error {
			return status.Error(codes.Unimplemented, "not in this test server")
		}}},
	}
}

func (s *Server) checkIn(ctx context.Context, in *dynamicpb.Message, out protoreflect.MessageDescriptor) (any, error) {
	s.Calls.Add(1)
	if s.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if a := md.Get("authorization"); len(a) != 1 || a[0] != "Bearer "+s.Token {
			return nil, status.Error(codes.Unauthenticated, "a bearer token is required")
		}
	}
	f := in.Descriptor().Fields()
	token := in.Get(f.ByName("token")).String()
	switch {
	case token == "busy":
		return nil, status.Error(codes.ResourceExhausted, "the venue service is at capacity")
	case token == "down":
		return nil, status.Error(codes.Unavailable, "the venue service is down")
	case token == "slow":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	case strings.HasPrefix(token, "sleep-"):
		var ms int
		fmt.Sscan(strings.TrimPrefix(token, "sleep-"), &ms)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	reply := dynamicpb.NewMessage(out)
	of := out.Fields()
	reply.Set(of.ByName("admitted"), protoreflect.ValueOfBool(true))
	reply.Set(of.ByName("visit_id"), protoreflect.ValueOfString("v-"+token))
	reply.Set(of.ByName("party"), in.Get(f.ByName("party")))
	reply.Set(of.ByName("at"), protoreflect.ValueOfMessage(timestamppb.New(time.Unix(1639368000, 0)).ProtoReflect()))
	return reply, nil
}

// watch streams in.party replies, 50 ms apart, the first at once.
func (s *Server) watch(ss grpc.ServerStream, in *dynamicpb.Message, out protoreflect.MessageDescriptor) error {
	f := in.Descriptor().Fields()
	n := max(1, int(in.Get(f.ByName("party")).Int()))
	for i := range n {
		if i > 0 {
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ss.Context().Done():
				return status.FromContextError(ss.Context().Err()).Err()
			}
		}
		reply := dynamicpb.NewMessage(out)
		of := out.Fields()
		reply.Set(of.ByName("visit_id"), protoreflect.ValueOfString(fmt.Sprintf("v-%s-%d", in.Get(f.ByName("token")).String(), i)))
		reply.Set(of.ByName("party"), protoreflect.ValueOfInt32(int32(i)))
		if err := ss.SendMsg(reply); err != nil {
			return err
		}
	}
	return nil
}
