package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// TestTracingAddsSpansNotMetrics serves one call with and without traces
// exported: the call's duration is recorded once either way (by
// callMetrics, not also by otelgrpc), and a server span is made only when
// traces are exported.
func TestTracingAddsSpansNotMetrics(t *testing.T) {
	for _, tracing := range []bool{false, true} {
		spans := tracetest.NewSpanRecorder()
		reader := sdkmetric.NewManualReader()
		tel := &telemetry.Telemetry{
			Meters:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
			Tracers:     sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
			Propagators: propagation.TraceContext{},
			Tracing:     tracing,
			Metrics:     http.NotFoundHandler(),
		}
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := New(ctx, Options{
			GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ShutdownTimeout: time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Authenticator: auth.Local{}, Telemetry: tel,
		}, Services{})
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx) }()
		conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}

		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		series := 0
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "rpc.server.call.duration" {
					for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
						series++
						if p.Count != 1 {
							t.Errorf("tracing %v: %d calls recorded in a series, want 1", tracing, p.Count)
						}
					}
				}
			}
		}
		if series != 1 {
			t.Errorf("tracing %v: %d series of rpc.server.call.duration, want 1", tracing, series)
		}
		var serverSpans []string
		for _, s := range spans.Ended() {
			serverSpans = append(serverSpans, s.Name())
		}
		if want := map[bool]int{false: 0, true: 1}[tracing]; len(serverSpans) != want {
			t.Errorf("tracing %v: spans %v, want %d", tracing, serverSpans, want)
		}
		if tracing && len(serverSpans) == 1 && serverSpans[0] != "grpc.health.v1.Health/Check" {
			t.Errorf("span %q, want grpc.health.v1.Health/Check", serverSpans[0])
		}
	}
}
