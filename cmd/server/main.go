// Command server runs lakeplane: the gRPC services and their REST gateway,
// on the embedded default (SQLite and local files under --data-dir) or on
// PostgreSQL. Run it with --help for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/lakeplane/lakeplane/internal/config"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/server"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := config.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lakeplane:", err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	if err := run(ctx, cfg, logger, os.Getenv); err != nil {
		logger.Error("lakeplane stopped", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, cfg *config.Config, logger *slog.Logger, getenv func(string) string) error {
	app, err := start(ctx, cfg, logger, getenv)
	if err != nil {
		return err
	}
	defer app.close()
	return app.server.Serve(ctx)
}

// app is the wired program: what start built and close releases.
type app struct {
	server    *server.Server
	store     store.Store
	telemetry *telemetry.Telemetry
	logger    *slog.Logger
}

// start wires the configuration into a server bound to its listeners.
func start(ctx context.Context, cfg *config.Config, logger *slog.Logger, getenv func(string) string) (*app, error) {
	logger.Info("starting lakeplane", "version", version, "config", cfg)
	authn, err := cfg.Authenticator()
	if err != nil {
		return nil, err
	}
	tel, err := telemetry.Setup(ctx, version, getenv)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, errors.Join(err, tel.Shutdown(context.Background()))
	}
	a := &app{store: st, telemetry: tel, logger: logger}

	datasets := ingest.NewService(st, cfg.GradeLevels)
	a.server, err = server.New(ctx, server.Options{
		GRPCAddr:        cfg.GRPCAddr,
		HTTPAddr:        cfg.HTTPAddr,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          logger,
		Authenticator:   authn,
		Telemetry:       tel,
		Ready:           st.Ping,
	}, server.Services{
		Ingest: ingest.NewHandler(datasets),
	})
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store {
	case config.StorePostgres:
		return postgres.Open(ctx, cfg.PostgresDSN)
	default:
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "lakeplane.db"))
	}
}

// close releases the store and flushes telemetry; the server has stopped.
func (a *app) close() {
	if err := a.store.Close(); err != nil {
		a.logger.Error("closing the store", "error", err)
	}
	if err := a.telemetry.Shutdown(context.Background()); err != nil {
		a.logger.Warn("flushing telemetry", "error", err)
	}
}
