package refserver

import (
	"context"
	_ "embed"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bufbuild/protocompile"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// venueProto is the gRPC face's service (pass.v1.Venue).
//
//go:embed venue.proto
var venueProto string

// grpcFace is the gRPC server of pass.v1.Venue and of server reflection,
// reached through the HTTP server (ServeHTTP) by HTTP/2 requests of
// content-type application/grpc: a scanner's check-in, as a venue's
// system would call it, on the same stages, store and rules as
// POST /v1/checkins. Its messages are read and written as the HTTP API's
// bodies are: at most maxBody bytes.
func (s *Server) grpcFace() (*grpc.Server, error) {
	files, err := (&protocompile.Compiler{Resolver: &protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"pass/v1/venue.proto": venueProto}),
	}}).Compile(context.Background(), "pass/v1/venue.proto")
	if err != nil {
		return nil, err
	}
	registry := new(protoregistry.Files)
	if err := registry.RegisterFile(files[0]); err != nil {
		return nil, err
	}
	svc := files[0].Services().ByName("Venue")
	checkIn := svc.Methods().ByName("CheckIn")
	g := grpc.NewServer(grpc.MaxRecvMsgSize(maxBody))
	g.RegisterService(&grpc.ServiceDesc{
		ServiceName: string(svc.FullName()),
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "CheckIn", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := dynamicpb.NewMessage(checkIn.Input())
			if err := dec(in); err != nil {
				return nil, err
			}
			return s.grpcCheckIn(ctx, in, checkIn.Output())
		}}},
	}, s)
	reflection.RegisterV1(reflector{g, registry})
	return g, nil
}

// reflector registers the reflection service with the face's own files
// (they are not in the process's global registry).
type reflector struct {
	*grpc.Server
	files *protoregistry.Files
}

func (r reflector) RegisterService(sd *grpc.ServiceDesc, _ any) {
	r.Server.RegisterService(sd, reflection.NewServerV1(reflection.ServerOptions{Services: r.Server, DescriptorResolver: r.files}))
}

func (s *Server) grpcCheckIn(ctx context.Context, in *dynamicpb.Message, out protoreflect.MessageDescriptor) (any, error) {
	start := time.Now()
	if t := s.profile.Server.RequestTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, errDeadline)
		defer cancel()
	}
	f := in.Descriptor().Fields()
	res, err := s.checkIn(ctx, in.Get(f.ByName("token")).String(), in.Get(f.ByName("venue_id")).String())
	code := codes.OK
	if err != nil {
		if ctx.Err() != nil && context.Cause(ctx) == errDeadline {
			err = errDeadline
		}
		ae := toAPIError(err)
		code = grpcCode(ae)
		err = status.Error(code, ae.Code+": "+ae.Message)
	}
	s.met.requests.WithLabelValues("checkin.grpc", strconv.Itoa(int(code))).Inc()
	s.met.duration.WithLabelValues("checkin.grpc").Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	reply := dynamicpb.NewMessage(out)
	of := out.Fields()
	reply.Set(of.ByName("admitted"), protoreflect.ValueOfBool(res.Admitted))
	reply.Set(of.ByName("visit_id"), protoreflect.ValueOfInt64(res.VisitID))
	reply.Set(of.ByName("venue_id"), protoreflect.ValueOfString(res.VenueID))
	reply.Set(of.ByName("holder"), protoreflect.ValueOfString(res.Holder))
	reply.Set(of.ByName("doses"), protoreflect.ValueOfInt32(int32(res.Doses)))
	return reply, nil
}

// grpcCode is the gRPC code of an API error: the QR's own refusals each a
// code of their own (so a scenario can restart on an expired one), a shed
// UNAVAILABLE, the request timeout DEADLINE_EXCEEDED.
func grpcCode(ae *apiError) codes.Code {
	switch {
	case ae.Code == "qr_invalid":
		return codes.InvalidArgument
	case ae.Code == "qr_expired":
		return codes.FailedPrecondition
	case ae.Code == "qr_reused":
		return codes.AlreadyExists
	case ae.Status == http.StatusServiceUnavailable || ae.Status == http.StatusTooManyRequests:
		return codes.Unavailable
	case ae.Status == http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case ae.Status == http.StatusForbidden:
		return codes.PermissionDenied
	case ae.Status/100 == 4:
		return codes.InvalidArgument
	}
	return codes.Internal
}

// withGRPC serves HTTP/2 requests of content-type application/grpc with
// g, and every other request with h.
func withGRPC(g *grpc.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
