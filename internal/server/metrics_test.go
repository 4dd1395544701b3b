package server

import (
	"context"
	"errors"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// codedHealth answers Check and Watch with the status its request's service
// names ("OK", "NOT_FOUND", ..., or "plain" for an error without a status).
type codedHealth struct {
	healthpb.UnimplementedHealthServer
}

func codedError(service string) error {
	if service == "plain" {
		return errors.New("no status")
	}
	for c, name := range codeNames {
		if name == service {
			return status.Error(codes.Code(c), "as asked")
		}
	}
	return status.Error(codes.InvalidArgument, "unknown code name "+service)
}

func (codedHealth) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if err := codedError(req.Service); err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (codedHealth) Watch(req *healthpb.HealthCheckRequest, _ grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	return codedError(req.Service)
}

// TestCallMetricsMatchOtelgrpc serves calls that end with every code, unary
// and streaming, through both callMetrics and otelgrpc's server handler, each
// with a meter provider of its own, and checks that the two record the same
// instrument (name, unit, description, buckets) with the same attribute sets
// and counts.
func TestCallMetricsMatchOtelgrpc(t *testing.T) {
	ours, theirs := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	metrics, err := newCallMetrics(&telemetry.Telemetry{Meters: sdkmetric.NewMeterProvider(sdkmetric.WithReader(ours))})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(metrics.unary),
		grpc.ChainStreamInterceptor(metrics.stream),
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(theirs))))),
	)
	healthpb.RegisterHealthServer(srv, codedHealth{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx := context.Background()
	services := append(codeNames[:], "plain", "OK")
	for _, service := range services {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if want := status.Code(codedError(service)); status.Code(err) != want {
			t.Fatalf("Check(%s) = %v, want code %v", service, err, want)
		}
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); status.Code(err) == codes.OK {
			t.Fatalf("Watch(%s) gave a message", service)
		}
	}
	// Both are recorded when the call ends on the server, which may be just
	// after the client has its answer; stopping the server waits for that.
	srv.GracefulStop()

	got, want := callDurations(t, ours), callDurations(t, theirs)
	if got.Name != want.Name || got.Unit != want.Unit || got.Description != want.Description {
		t.Errorf("instrument %s (%s, %q), otelgrpc's %s (%s, %q)", got.Name, got.Unit, got.Description, want.Name, want.Unit, want.Description)
	}
	gotPoints, wantPoints := pointsByAttributes(got), pointsByAttributes(want)
	if len(wantPoints) != 2*len(codeNames) {
		t.Fatalf("otelgrpc recorded %d series, want one per code and method (%d)", len(wantPoints), 2*len(codeNames))
	}
	for attrs, w := range wantPoints {
		g, ok := gotPoints[attrs]
		if !ok {
			t.Errorf("no series {%s}; have:\n%s", attrs, strings.Join(slices.Sorted(maps.Keys(gotPoints)), "\n"))
			continue
		}
		if g.Count != w.Count || !slices.Equal(g.Bounds, w.Bounds) {
			t.Errorf("{%s}: %d calls in buckets %v, otelgrpc %d in %v", attrs, g.Count, g.Bounds, w.Count, w.Bounds)
		}
	}
	if len(gotPoints) != len(wantPoints) {
		t.Errorf("%d series, otelgrpc %d", len(gotPoints), len(wantPoints))
	}
}

func callDurations(t *testing.T, r *sdkmetric.ManualReader) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "rpc.server.call.duration" {
				return m
			}
		}
	}
	t.Fatalf("no rpc.server.call.duration in %+v", rm)
	return metricdata.Metrics{}
}

func pointsByAttributes(m metricdata.Metrics) map[string]metricdata.HistogramDataPoint[float64] {
	out := map[string]metricdata.HistogramDataPoint[float64]{}
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		var kvs []string
		for _, kv := range p.Attributes.ToSlice() {
			kvs = append(kvs, string(kv.Key)+"="+kv.Value.Emit())
		}
		out[strings.Join(kvs, ",")] = p
	}
	return out
}
