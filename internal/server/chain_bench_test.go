package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// headerStream stands in for the transport stream, which SetHeader needs.
type headerStream struct{ header metadata.MD }

func (s *headerStream) Method() string { return "/lakeplane.v1.GrantsService/CheckAccess" }
func (s *headerStream) SetHeader(md metadata.MD) error {
	s.header = metadata.Join(s.header, md)
	return nil
}
func (s *headerStream) SendHeader(md metadata.MD) error { return nil }
func (s *headerStream) SetTrailer(md metadata.MD) error { return nil }

// BenchmarkUnaryChain is the cost of the interceptors of every unary call
// around a handler that does nothing, as CheckAccess over gRPC passes them.
func BenchmarkUnaryChain(b *testing.B) {
	metrics, err := newCallMetrics(&telemetry.Telemetry{Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth.Local{}, QuietCall: func(string) bool { return true }}
	unary, _ := interceptors(opts, metrics)
	chained := chainUnary(unary)
	info := &grpc.UnaryServerInfo{FullMethod: "/lakeplane.v1.GrantsService/CheckAccess"}
	md := metadata.Pairs("content-type", "application/grpc", "user-agent", "grpc-go/1.85.0", ":authority", "127.0.0.1:1234")
	base := metadata.NewIncomingContext(context.Background(), md)
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		ctx := grpc.NewContextWithServerTransportStream(base, &headerStream{})
		if _, err := chained(ctx, nil, info, handler); err != nil {
			b.Fatal(err)
		}
	}
}

// chainUnary chains interceptors as grpc.ChainUnaryInterceptor does: one
// closure per interceptor and call.
func chainUnary(interceptors []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return interceptors[0](ctx, req, info, chainedHandler(interceptors, 0, info, handler))
	}
}

func chainedHandler(interceptors []grpc.UnaryServerInterceptor, curr int, info *grpc.UnaryServerInfo, final grpc.UnaryHandler) grpc.UnaryHandler {
	if curr == len(interceptors)-1 {
		return final
	}
	return func(ctx context.Context, req any) (any, error) {
		return interceptors[curr+1](ctx, req, info, chainedHandler(interceptors, curr+1, info, final))
	}
}
