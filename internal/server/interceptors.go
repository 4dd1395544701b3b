package server

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/errcode"
)

// requestIDHeader carries a caller's request id in, and ours out.
const requestIDHeader = "x-request-id"

// call is what the interceptors learn about one call, for its log line.
type call struct {
	requestID string
	principal string
	cause     error // the error behind an INTERNAL answer
}

type callKey struct{}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	if c == nil {
		return &call{}
	}
	return c
}

// RequestID returns the request id of the call ctx belongs to.
func RequestID(ctx context.Context) string { return callFrom(ctx).requestID }

// chain returns the interceptors in the order every call passes them:
//
//  1. metrics: rpc.server.call.duration by method and code (callMetrics;
//     spans, when traces are exported, come from otelgrpc's stats handler);
//  2. recovery: a panic anywhere below becomes INTERNAL and a logged stack;
//  3. request id: the caller's x-request-id (or a new one), echoed in the
//     response header and put on every log line;
//  4. logging: one structured line per call with its code and duration
//     (at debug level for a call that succeeded and that Options.QuietCall
//     names, such as the reads portals make on every page);
//  5. authentication: the bearer key becomes a Principal on the context;
//  6. authorization: the method's role table decides;
//  7. audit (unary calls that change state): one event per call, with its
//     outcome, once it has ended;
//  8. errors: a handler's error becomes exactly one gRPC status.
func chain(opts Options, metrics *callMetrics) []grpc.ServerOption {
	unary, stream := interceptors(opts, metrics)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...)}
}

// interceptors returns the unary and stream interceptors of chain, in order.
func interceptors(opts Options, metrics *callMetrics) ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	logger, audit := opts.Logger, opts.Audit
	quiet := opts.QuietCall
	if quiet == nil {
		quiet = func(string) bool { return false }
	}
	authUnary, authStream := auth.Interceptors(opts.Authenticator)
	unary := []grpc.UnaryServerInterceptor{
		metrics.unary,
		recoveryUnary(logger),
		requestIDUnary,
		loggingUnary(logger, quiet),
		authUnary,
	}
	if audit != nil {
		unary = append(unary, audit)
	}
	unary = append(unary, errorsUnary)
	stream := []grpc.StreamServerInterceptor{
		metrics.stream,
		recoveryStream(logger),
		requestIDStream,
		loggingStream(logger, quiet),
		authStream,
		errorsStream,
	}
	return unary, stream
}

func recovered(logger *slog.Logger, ctx context.Context, method string, p any) error {
	logger.ErrorContext(ctx, "panic in handler", "method", method, "request_id", RequestID(ctx), "panic", p, "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

func recoveryUnary(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				resp, err = nil, recovered(logger, ctx, info.FullMethod, p)
			}
		}()
		return handler(ctx, req)
	}
}

func recoveryStream(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = recovered(logger, ss.Context(), info.FullMethod, p)
			}
		}()
		return handler(srv, ss)
	}
}

func withRequestID(ctx context.Context) context.Context {
	id := ""
	// ValueFromIncomingContext reads the one key without copying the
	// call's whole metadata, as FromIncomingContext does.
	if v := metadata.ValueFromIncomingContext(ctx, requestIDHeader); len(v) > 0 && validRequestID(v[0]) {
		id = v[0]
	}
	if id == "" {
		id = newRequestID()
	}
	// The header goes out with the response (and through the gateway as
	// X-Request-Id); failing to set it must not fail the call.
	_ = grpc.SetHeader(ctx, metadata.Pairs(requestIDHeader, id))
	return context.WithValue(ctx, callKey{}, &call{requestID: id})
}

// newRequestID returns a random (version 4) UUID. Its random bits come
// from math/rand/v2's runtime-seeded ChaCha8 generator rather than
// crypto/rand: a request id must be unique, not secret.
func newRequestID() string {
	return uuid.Must(uuid.NewRandomFromReader(cheapRandom{})).String() // cheapRandom never fails
}

// cheapRandom reads math/rand/v2's global generator, which is safe for
// concurrent use.
type cheapRandom struct{}

func (cheapRandom) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rand.Uint64())
		copy(p[i:], b[:])
	}
	return len(p), nil
}

// validRequestID accepts short printable ids, so that a caller cannot put
// control characters or megabytes into our logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(withRequestID(ctx), req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &contextStream{ServerStream: ss, ctx: withRequestID(ss.Context())})
}

func logCall(logger *slog.Logger, ctx context.Context, method string, quiet func(method string) bool, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch code {
	case codes.OK:
		if quiet(method) {
			level = slog.LevelDebug
		}
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	default:
		level = slog.LevelWarn
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	c := callFrom(ctx)
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", c.requestID),
	}
	if c.principal != "" {
		attrs = append(attrs, slog.String("principal", c.principal))
	}
	switch level {
	case slog.LevelError:
		if c.cause != nil {
			attrs = append(attrs, slog.String("cause", c.cause.Error()))
		}
	case slog.LevelWarn:
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
	}
	logger.LogAttrs(ctx, level, "grpc call", attrs...)
}

func loggingUnary(logger *slog.Logger, quiet func(method string) bool) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		logCall(logger, ctx, info.FullMethod, quiet, start, err)
		return resp, err
	}
}

func loggingStream(logger *slog.Logger, quiet func(method string) bool) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logCall(logger, ss.Context(), info.FullMethod, quiet, start, err)
		return err
	}
}

// mapError records the principal for the log line and turns err into the
// status the caller gets.
func mapError(ctx context.Context, method string, err error) error {
	c := callFrom(ctx)
	if p, ok := auth.FromContext(ctx); ok {
		c.principal = p.Name
	}
	if err == nil {
		return nil
	}
	st := errcode.Status(err)
	switch st.Code() {
	case codes.Unimplemented:
		st = unimplemented(method)
	case codes.Internal:
		c.cause = err
	}
	return st.Err()
}

func errorsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, mapError(ctx, info.FullMethod, err)
	}
	_ = mapError(ctx, info.FullMethod, nil)
	return resp, nil
}

func errorsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return mapError(ss.Context(), info.FullMethod, handler(srv, ss))
}

// contextStream is a server stream with a replaced context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
