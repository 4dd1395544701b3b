// Package server serves the lakeplane services over gRPC and, through a
// grpc-gateway, over REST: listeners, the interceptor chain, health,
// reflection, metrics, the OpenAPI document and graceful shutdown.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/gen/openapi"
	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// Services are the implementations to serve; a nil one answers UNIMPLEMENTED
// for each of its methods.
type Services struct {
	Ingest  lakeplanev1.IngestServiceServer
	Quality lakeplanev1.QualityServiceServer
	Grants  lakeplanev1.GrantsServiceServer
	Cost    lakeplanev1.CostReportServiceServer
	Storage lakeplanev1.StorageServiceServer
}

// Options configure a Server.
type Options struct {
	GRPCAddr        string
	HTTPAddr        string
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	Authenticator   auth.Authenticator
	// Audit, when set, records the calls that change state (see chain).
	Audit grpc.UnaryServerInterceptor
	// QuietCall names the methods whose successful calls are logged at
	// debug level rather than info (nil: none): the reads portals make on
	// every page, which would otherwise cost more to log than to answer.
	QuietCall func(fullMethod string) bool
	Telemetry *telemetry.Telemetry
	// Ready reports whether the server can do its work (e.g. the store
	// answers); GET /healthz asks it on each request, and the gRPC health
	// service every ReadyInterval (default 5s).
	Ready         func(context.Context) error
	ReadyInterval time.Duration
}

// Server is one lakeplane server: gRPC and the REST gateway.
type Server struct {
	opts         Options
	grpcServer   *grpc.Server
	health       *health.Server
	httpServer   *http.Server
	grpcListener net.Listener
	httpListener net.Listener
	gatewayConn  *grpc.ClientConn
}

// New builds a server and binds its listeners, so that the addresses are
// known (and a port taken is reported) before Serve.
func New(ctx context.Context, opts Options, services Services) (*Server, error) {
	if opts.Ready == nil {
		opts.Ready = func(context.Context) error { return nil }
	}
	s := &Server{opts: opts}
	metrics, err := newCallMetrics(opts.Telemetry)
	if err != nil {
		return nil, fmt.Errorf("call metrics: %w", err)
	}
	serverOpts := append(chain(opts, metrics),
		// Calls run on a pool of long-lived goroutines, one per CPU, whose
		// stacks have grown once, rather than each on a new goroutine whose
		// stack grows on every call (a tenth of the CPU of a short call).
		grpc.NumStreamWorkers(uint32(goruntime.GOMAXPROCS(0))),
	)
	if opts.Telemetry.Tracing {
		// Spans only: callMetrics records the calls' metrics.
		serverOpts = append(serverOpts, grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelgrpc.WithTracerProvider(opts.Telemetry.Tracers),
			otelgrpc.WithPropagators(opts.Telemetry.Propagators),
		)))
	}
	s.grpcServer = grpc.NewServer(serverOpts...)
	register(s.grpcServer, services)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpcServer, s.health)
	reflection.Register(s.grpcServer)
	for name := range s.grpcServer.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}

	if s.grpcListener, err = net.Listen("tcp", opts.GRPCAddr); err != nil {
		return nil, fmt.Errorf("listen for gRPC on %s: %w", opts.GRPCAddr, err)
	}
	if s.httpListener, err = net.Listen("tcp", opts.HTTPAddr); err != nil {
		s.grpcListener.Close()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", opts.HTTPAddr, err)
	}
	handler, err := s.httpHandler(ctx)
	if err != nil {
		s.grpcListener.Close()
		s.httpListener.Close()
		return nil, err
	}
	s.httpServer = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// register serves every service, with an UNIMPLEMENTED stand-in for the ones
// not provided.
func register(g *grpc.Server, s Services) {
	lakeplanev1.RegisterIngestServiceServer(g, orDefault(s.Ingest, lakeplanev1.IngestServiceServer(unimplementedIngest{})))
	lakeplanev1.RegisterQualityServiceServer(g, orDefault(s.Quality, lakeplanev1.QualityServiceServer(unimplementedQuality{})))
	lakeplanev1.RegisterGrantsServiceServer(g, orDefault(s.Grants, lakeplanev1.GrantsServiceServer(unimplementedGrants{})))
	lakeplanev1.RegisterCostReportServiceServer(g, orDefault(s.Cost, lakeplanev1.CostReportServiceServer(unimplementedCost{})))
	lakeplanev1.RegisterStorageServiceServer(g, orDefault(s.Storage, lakeplanev1.StorageServiceServer(unimplementedStorage{})))
}

func orDefault[T comparable](v, fallback T) T {
	var zero T
	if v == zero {
		return fallback
	}
	return v
}

type (
	unimplementedIngest struct {
		lakeplanev1.UnimplementedIngestServiceServer
	}
	unimplementedQuality struct {
		lakeplanev1.UnimplementedQualityServiceServer
	}
	unimplementedGrants struct {
		lakeplanev1.UnimplementedGrantsServiceServer
	}
	unimplementedCost struct {
		lakeplanev1.UnimplementedCostReportServiceServer
	}
	unimplementedStorage struct {
		lakeplanev1.UnimplementedStorageServiceServer
	}
)

// GRPCAddr is the address the gRPC listener is bound to.
func (s *Server) GRPCAddr() string { return s.grpcListener.Addr().String() }

// HTTPAddr is the address the REST gateway is bound to.
func (s *Server) HTTPAddr() string { return s.httpListener.Addr().String() }

// httpHandler routes the gateway and the plain HTTP endpoints. The gateway
// reaches the gRPC server over its own listener, so every REST call passes
// the same interceptors as a gRPC call.
func (s *Server) httpHandler(ctx context.Context) (http.Handler, error) {
	conn, err := grpc.NewClient(dialable(s.grpcListener.Addr()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("gateway connection to gRPC: %w", err)
	}
	s.gatewayConn = conn
	gateway := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		lakeplanev1.RegisterIngestServiceHandler,
		lakeplanev1.RegisterQualityServiceHandler,
		lakeplanev1.RegisterGrantsServiceHandler,
		lakeplanev1.RegisterCostReportServiceHandler,
		lakeplanev1.RegisterStorageServiceHandler,
	} {
		if err := register(ctx, gateway, conn); err != nil {
			return nil, fmt.Errorf("register gateway handler: %w", err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", gateway)
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI)
	mux.Handle("GET /metrics", s.opts.Telemetry.Metrics)
	return mux, nil
}

// dialable turns a wildcard listen address into one a client can dial.
func dialable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return addr.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
}

func incomingHeader(key string) (string, bool) {
	if strings.EqualFold(key, requestIDHeader) {
		return requestIDHeader, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func outgoingHeader(key string) (string, bool) {
	if strings.EqualFold(key, requestIDHeader) {
		return "X-Request-Id", true
	}
	return "", false
}

func (s *Server) serveHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	body := map[string]string{"status": "SERVING"}
	if err := s.opts.Ready(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		body = map[string]string{"status": "NOT_SERVING", "error": err.Error()}
	}
	_ = json.NewEncoder(w).Encode(body)
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapi.Document)
}

// Serve serves until ctx ends, then shuts down gracefully: health turns
// NOT_SERVING, the listeners close, calls in flight get ShutdownTimeout to
// finish and are then cut off. It returns the first serving error.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		if err := s.grpcServer.Serve(s.grpcListener); err != nil {
			errc <- fmt.Errorf("serve gRPC: %w", err)
		}
	}()
	go func() {
		if err := s.httpServer.Serve(s.httpListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve HTTP: %w", err)
		}
	}()
	readyDone := make(chan struct{})
	readyCtx, stopReady := context.WithCancel(ctx)
	go func() {
		s.followReady(readyCtx)
		close(readyDone)
	}()
	defer func() {
		stopReady()
		<-readyDone
	}()
	s.opts.Logger.Info("serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr())

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.shutdown()
	return serveErr
}

// followReady sets the gRPC health service's status of every service (and
// of the server, "") from Ready every ReadyInterval until ctx ends, and
// logs each change.
func (s *Server) followReady(ctx context.Context) {
	every := s.opts.ReadyInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	serving := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		checkCtx, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		err := s.opts.Ready(checkCtx)
		cancel()
		if ctx.Err() != nil || (err == nil) == serving {
			continue
		}
		serving = err == nil
		status := healthpb.HealthCheckResponse_SERVING
		if serving {
			s.opts.Logger.Info("ready again: gRPC health reports SERVING")
		} else {
			status = healthpb.HealthCheckResponse_NOT_SERVING
			s.opts.Logger.Warn("not ready: gRPC health reports NOT_SERVING", "error", err)
		}
		s.health.SetServingStatus("", status)
		for name := range s.grpcServer.GetServiceInfo() {
			s.health.SetServingStatus(name, status)
		}
	}
}

func (s *Server) shutdown() {
	s.opts.Logger.Info("shutting down", "timeout", s.opts.ShutdownTimeout.String())
	s.health.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()

	var wg sync.WaitGroup
	wg.Go(func() {
		// REST calls go through the gRPC server, so HTTP drains first.
		if err := s.httpServer.Shutdown(ctx); err != nil {
			s.opts.Logger.Warn("HTTP calls cut off at shutdown", "error", err)
			s.httpServer.Close()
		}
		s.gatewayConn.Close()
	})
	stopped := make(chan struct{})
	go func() {
		wg.Wait()
		s.grpcServer.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.opts.Logger.Warn("gRPC calls cut off at shutdown")
		s.grpcServer.Stop()
		<-stopped
	}
}
