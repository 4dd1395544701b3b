package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
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
		health, stop := serve(t, Options{Telemetry: tel})
		if _, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		stop()

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

// TestGRPCHealthFollowsReady checks that the gRPC health service reports
// NOT_SERVING, for the server and for each service, while Ready fails, and
// SERVING again once it succeeds.
func TestGRPCHealthFollowsReady(t *testing.T) {
	var notReady atomic.Bool
	health, stop := serve(t, Options{
		Telemetry: &telemetry.Telemetry{Meters: sdkmetric.NewMeterProvider(), Metrics: http.NotFoundHandler()},
		Ready: func(context.Context) error {
			if notReady.Load() {
				return errors.New("store unreachable")
			}
			return nil
		},
		ReadyInterval: 5 * time.Millisecond,
	})
	defer stop()
	ctx := context.Background()
	waitFor := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, service := range []string{"", "lakeplane.v1.GrantsService"} {
			deadline := time.Now().Add(2 * time.Second)
			for {
				resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
				if err == nil && resp.GetStatus() == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("health of %q: %v, %v; want %v", service, resp.GetStatus(), err, want)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	waitFor(healthpb.HealthCheckResponse_SERVING)
	notReady.Store(true)
	waitFor(healthpb.HealthCheckResponse_NOT_SERVING)
	notReady.Store(false)
	waitFor(healthpb.HealthCheckResponse_SERVING)
}

// serve starts a server with opts on loopback ports (a silent logger and
// local auth unless set) and returns a health client on it, and stop,
// which shuts the server down and fails the test if serving failed.
func serve(t *testing.T, opts Options) (health healthpb.HealthClient, stop func()) {
	t.Helper()
	opts.GRPCAddr, opts.HTTPAddr, opts.ShutdownTimeout = "127.0.0.1:0", "127.0.0.1:0", time.Second
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Authenticator == nil {
		opts.Authenticator = auth.Local{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, opts, Services{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return healthpb.NewHealthClient(conn), func() {
		t.Helper()
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}
}
