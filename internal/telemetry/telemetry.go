// Package telemetry sets up OpenTelemetry for the server: metrics for the
// Prometheus scrape endpoint always, and OTLP traces and metrics when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT variables say where to send them.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Telemetry holds the providers the server instruments itself with.
type Telemetry struct {
	Meters      metric.MeterProvider
	Tracers     trace.TracerProvider
	Propagators propagation.TextMapPropagator
	// Tracing tells whether spans are exported (Tracers is not a no-op).
	Tracing bool
	// Metrics serves the Prometheus text format of every metric.
	Metrics  http.Handler
	shutdown []func(context.Context) error
}

// Setup builds the providers. getenv reads the OTEL_* variables; OTLP export
// starts only when OTEL_EXPORTER_OTLP_ENDPOINT (or its traces/metrics
// variant) is set, and then the exporters read the rest of the standard
// variables themselves.
func Setup(ctx context.Context, serviceVersion string, getenv func(string) string) (*Telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("lakeplane"),
		semconv.ServiceVersion(serviceVersion),
	))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}

	// A registry of our own, not the process-global one: two servers in one
	// test binary must not share (or collide on) metrics.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promExporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	meterOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}

	t := &Telemetry{
		Tracers:     noop.NewTracerProvider(),
		Propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		Metrics:     promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
	}

	if otlpWanted(getenv, "TRACES") {
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
		t.Tracers = tp
		t.Tracing = true
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	if otlpWanted(getenv, "METRICS") {
		exp, err := otlpmetricgrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		meterOpts = append(meterOpts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
	}
	mp := sdkmetric.NewMeterProvider(meterOpts...)
	t.Meters = mp
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return t, nil
}

func otlpWanted(getenv func(string) string, signal string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != ""
}

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
