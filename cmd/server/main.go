// Command server runs lakeplane: the gRPC services and their REST gateway,
// on the embedded default (SQLite and local files under --data-dir) or on
// PostgreSQL. Run it with --help for every setting.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shopspring/decimal"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/audit/trail"
	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/config"
	"github.com/lakeplane/lakeplane/internal/cost"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/govern"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/quality"
	"github.com/lakeplane/lakeplane/internal/quality/alert"
	"github.com/lakeplane/lakeplane/internal/server"
	"github.com/lakeplane/lakeplane/internal/storage"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
	"github.com/lakeplane/lakeplane/internal/tables"
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
	return app.serve(ctx)
}

// app is the wired program: what start built and close releases.
type app struct {
	server      *server.Server
	workers     *jobrun.Pool
	sweeper     *erasure.Sweeper
	sweepEvery  time.Duration
	grants      *govern.Service
	followEvery time.Duration
	alerts      *alert.Dispatcher
	store       store.Store
	tables      *tables.Catalog
	telemetry   *telemetry.Telemetry
	logger      *slog.Logger
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
	a := &app{telemetry: tel, logger: logger}
	if err := a.wire(ctx, cfg, authn, getenv); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context, cfg *config.Config, authn auth.Authenticator, getenv func(string) string) error {
	st, db, dialect, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	a.store = st
	// Datasets with a subject key and no partitioning of their own are
	// bucketed on the key, so an erasure rewrites only its subjects' buckets.
	tableOpts := []tables.Option{tables.WithSubjectKeyBuckets(tables.DefaultSubjectBuckets)}
	if strings.HasPrefix(cfg.WarehouseURI(), "s3://") {
		tableOpts = append(tableOpts, tables.WithS3(cfg.S3Endpoint, cfg.S3Region, cfg.S3PathStyle))
	}
	if a.tables, err = tables.Open(ctx, db, dialect, cfg.WarehouseURI(), tableOpts...); err != nil {
		return err
	}
	sources, err := openSources(ctx, cfg, getenv)
	if err != nil {
		return err
	}
	rejectsDir, err := filepath.Abs(filepath.Join(cfg.DataDir, "rejects"))
	if err != nil {
		return fmt.Errorf("rejects dir: %w", err)
	}
	if err := os.MkdirAll(rejectsDir, 0o750); err != nil {
		return fmt.Errorf("rejects dir: %w", err)
	}
	rejects, err := objects.NewFileStore([]string{rejectsDir})
	if err != nil {
		return err
	}

	grants, err := govern.New(ctx, st, cfg.GradeTagKey, cfg.GradeLevels, cfg.GradeLabels,
		govern.WithLogger(a.logger), govern.WithMaxStaleness(cfg.GovernanceMaxStaleness))
	if err != nil {
		return err
	}
	// Other servers on the same store change tags, grants and datasets:
	// the index follows their changes every --governance-refresh, and its
	// answers fail once it has not for --governance-max-staleness.
	a.grants, a.followEvery = grants, cfg.GovernanceRefresh
	spillDir := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(spillDir, 0o750); err != nil {
		return fmt.Errorf("spill dir: %w", err)
	}
	sinks, err := alertSinks(cfg, os.Getenv)
	if err != nil {
		return err
	}
	a.alerts = alert.New(st, sinks, alert.Options{
		Attempts: cfg.AlertAttempts, InitialBackoff: cfg.AlertBackoff, MaxBackoff: cfg.AlertMaxBackoff, Logger: a.logger,
	})
	checks := quality.NewService(st, sources, a.tables, spillDir).WithAlerts(a.alerts)
	loader := &ingest.Loader{Datasets: st, Sources: sources, Rejects: rejects, RejectsDir: "file://" + filepath.ToSlash(rejectsDir), Tables: a.tables, Quality: checks}
	costs, err := cost.NewService(cost.Deps{Store: st, Objects: sources, Datasets: datasetLayouts{store: st, tables: a.tables}})
	if err != nil {
		return err
	}
	maintenance := &erasure.Runner{
		Store: st, Tables: a.tables, Objects: rejects, RejectsDir: "file://" + filepath.ToSlash(rejectsDir), Audit: st,
		DatasetChanged: grants.DatasetChanged,
	}
	a.workers = jobrun.New(st, map[job.Kind]jobrun.Executor{
		job.Ingest:   loader.Run,
		job.Erase:    maintenance.Erase,
		job.Separate: maintenance.Separate,
		job.Expire:   maintenance.Expire,
		job.Optimize: maintenance.Optimize,
	}, jobrun.Options{
		Workers: cfg.Workers, Logger: a.logger, OnEnd: recordJobUsage(costs, a.logger),
	})
	a.sweeper = &erasure.Sweeper{Store: st, Tables: a.tables, Queued: a.workers.Notify, Logger: a.logger}
	a.sweepEvery = cfg.RetentionSweepInterval
	datasets := ingest.NewService(ingest.Deps{
		Datasets:        st,
		Tables:          a.tables,
		Jobs:            st,
		Sources:         sources,
		GradeLevels:     cfg.GradeLevels,
		JobQueued:       a.workers.Notify,
		DatasetChanged:  grants.DatasetChanged,
		ReadableColumns: readableColumns(grants),
	})
	chores, err := openStorage(ctx, cfg, getenv, st, grants)
	if err != nil {
		return err
	}
	// ValidateObject without a dataset types the object's columns by
	// discovering its schema.
	checks.WithDiscovery(chores)
	a.server, err = server.New(ctx, server.Options{
		GRPCAddr:        cfg.GRPCAddr,
		HTTPAddr:        cfg.HTTPAddr,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          a.logger,
		Authenticator:   authn,
		Audit:           trail.NewRecorder(st, a.logger).UnaryInterceptor(),
		// Reads (access checks on every portal page among them) log their
		// successes at debug level; writes are logged, and audited.
		QuietCall: trail.ReadOnly,
		Telemetry: a.telemetry,
		// Not ready while the store is unreachable, or while the access
		// index has gone too long without following it.
		Ready: func(ctx context.Context) error {
			if err := st.Ping(ctx); err != nil {
				return err
			}
			return grants.Fresh()
		},
	}, server.Services{
		Ingest:  ingestServer{Handler: ingest.NewHandler(datasets), maintenance: erasure.NewHandler(st, a.workers.Notify)},
		Grants:  grantsServer{Handler: govern.NewHandler(grants), audit: trail.NewHandler(st)},
		Cost:    cost.NewHandler(costs),
		Quality: quality.NewHandler(checks, st),
		Storage: storage.NewHandler(chores),
	})
	return err
}

// alertSinks returns the configured webhooks, each with the signing secret
// read from the environment variable it names (from the process
// environment, like every secret the file does not hold).
func alertSinks(cfg *config.Config, getenv func(string) string) ([]alert.Sink, error) {
	var sinks []alert.Sink
	for i, w := range cfg.AlertWebhooks {
		secret := getenv(w.SecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("alertWebhooks[%d] (%q).secretEnv: environment variable %s is not set; it must hold the webhook's signing secret", i, w.Name, w.SecretEnv)
		}
		hook, err := alert.NewWebhook(w.Name, w.URL, []byte(secret), nil)
		if err != nil {
			return nil, fmt.Errorf("alertWebhooks[%d]: %w", i, err)
		}
		sinks = append(sinks, hook)
	}
	return sinks, nil
}

// ingestServer is the IngestService: datasets, loads and jobs from ingest;
// erasure and table maintenance from erasure.
type ingestServer struct {
	*ingest.Handler
	maintenance *erasure.Handler
}

func (s ingestServer) EraseSubjects(ctx context.Context, req *lakeplanev1.EraseSubjectsRequest) (*lakeplanev1.EraseSubjectsResponse, error) {
	return s.maintenance.EraseSubjects(ctx, req)
}

func (s ingestServer) SeparateRecords(ctx context.Context, req *lakeplanev1.SeparateRecordsRequest) (*lakeplanev1.SeparateRecordsResponse, error) {
	return s.maintenance.SeparateRecords(ctx, req)
}

func (s ingestServer) ExpireSnapshots(ctx context.Context, req *lakeplanev1.ExpireSnapshotsRequest) (*lakeplanev1.ExpireSnapshotsResponse, error) {
	return s.maintenance.ExpireSnapshots(ctx, req)
}

func (s ingestServer) OptimizeDataset(ctx context.Context, req *lakeplanev1.OptimizeDatasetRequest) (*lakeplanev1.OptimizeDatasetResponse, error) {
	return s.maintenance.OptimizeDataset(ctx, req)
}

// grantsServer is the GrantsService: tags, grants and checks from govern,
// the audit trail's calls from trail.
type grantsServer struct {
	*govern.Handler
	audit *trail.Handler
}

func (g grantsServer) ListAuditEvents(ctx context.Context, req *lakeplanev1.ListAuditEventsRequest) (*lakeplanev1.ListAuditEventsResponse, error) {
	return g.audit.ListAuditEvents(ctx, req)
}

func (g grantsServer) VerifyAuditLog(ctx context.Context, req *lakeplanev1.VerifyAuditLogRequest) (*lakeplanev1.VerifyAuditLogResponse, error) {
	return g.audit.VerifyAuditLog(ctx, req)
}

// openStorage builds the storage chores over the landing zone and, for a
// file:// warehouse, the warehouse directory.
func openStorage(ctx context.Context, cfg *config.Config, getenv func(string) string, st store.Store, grants *govern.Service) (*storage.Service, error) {
	var roots []string
	if dir, ok := strings.CutPrefix(cfg.WarehouseURI(), "file://"); ok {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("warehouse dir: %w", err)
		}
		roots = append(roots, dir)
	}
	objs, err := openSources(ctx, cfg, getenv, roots...)
	if err != nil {
		return nil, err
	}
	warehouse := cfg.WarehouseURI()
	return storage.New(storage.Config{
		Store:     objs,
		Warehouse: warehouse,
		Tables: func(ctx context.Context) ([]storage.TableLocation, error) {
			var out []storage.TableLocation
			opts := store.ListDatasetsOptions{PageSize: store.MaxPageSize}
			for {
				page, err := st.ListDatasets(ctx, opts)
				if err != nil {
					return nil, err
				}
				for _, d := range page.Items {
					out = append(out, storage.TableLocation{Dataset: d.ID, URI: storage.LocationOf(warehouse, d.ID)})
				}
				if opts.PageToken = page.NextPageToken; opts.PageToken == "" {
					return out, nil
				}
			}
		},
		Access:      storageAccess{grants: grants, datasets: st},
		GradeLevels: cfg.GradeLevels,
	})
}

// storageAccess lets raw-data chores (grep, line count, discovery) touch a
// dataset's files only for callers who may read every column of it.
type storageAccess struct {
	grants   *govern.Service
	datasets store.Datasets
}

// CanReadAll implements storage.AccessChecker.
func (a storageAccess) CanReadAll(ctx context.Context, id string) (bool, string) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return false, "the caller is not authenticated"
	}
	if p.HasRole(auth.Admin) {
		return true, ""
	}
	if err := a.grants.Fresh(); err != nil {
		return false, err.Error()
	}
	d, err := a.datasets.GetDataset(ctx, id)
	if err != nil {
		return false, fmt.Sprintf("dataset %s: %v", id, err)
	}
	ns, table, _ := dataset.SplitID(id)
	for _, c := range d.Columns {
		if !a.grants.Index().Allowed(p.Groups, ns, table, c.Name, govern.Select) {
			return false, fmt.Sprintf("column %q of %s is closed to groups %v", c.Name, id, p.Groups)
		}
	}
	return true, ""
}

// datasetLayouts tells the cost recommendations how a dataset is stored.
type datasetLayouts struct {
	store  store.Datasets
	tables *tables.Catalog
}

// DatasetLayout implements cost.DatasetStats.
func (l datasetLayouts) DatasetLayout(ctx context.Context, id string) (cost.DatasetLayout, bool, error) {
	if dataset.ValidateID(id) != nil {
		return cost.DatasetLayout{}, false, nil
	}
	d, err := l.store.GetDataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return cost.DatasetLayout{}, false, nil
	}
	if err != nil {
		return cost.DatasetLayout{}, false, err
	}
	st, err := l.tables.Stats(ctx, id)
	if err != nil {
		return cost.DatasetLayout{}, false, err
	}
	return cost.DatasetLayout{SizeBytes: st.SizeBytes, Files: st.FileCount, Partitioned: len(d.PartitionBy) > 0}, true, nil
}

// recordJobUsage prices every job that ends into the cost records.
func recordJobUsage(costs *cost.Service, logger *slog.Logger) func(context.Context, *job.Job, time.Duration) {
	return func(ctx context.Context, j *job.Job, cpu time.Duration) {
		var spec struct {
			Team string `json:"team"`
		}
		_ = json.Unmarshal(j.Spec, &spec) // a spec without a team leaves it empty
		run := cost.JobRun{
			JobID: j.ID, Kind: string(j.Kind), Dataset: j.Dataset, Team: spec.Team, Start: j.StartTime, End: j.EndTime,
			Usage: cost.JobUsage{CPUSeconds: decimal.New(cpu.Microseconds(), -6), BytesRead: j.Progress.BytesRead},
		}
		if _, err := costs.RecordJob(ctx, run); err != nil {
			logger.Warn("job usage not recorded", "job", j.ID, "error", err)
		}
	}
}

// readableColumns answers, for PreviewRows, which columns of a dataset the
// caller's groups may read: the union over its groups. Admins read all.
func readableColumns(grants *govern.Service) func(ctx context.Context, d *dataset.Dataset) (map[string]bool, error) {
	return func(ctx context.Context, d *dataset.Dataset) (map[string]bool, error) {
		p, ok := auth.FromContext(ctx)
		if !ok {
			return map[string]bool{}, nil
		}
		if p.HasRole(auth.Admin) {
			return nil, nil
		}
		if err := grants.Fresh(); err != nil {
			return nil, err
		}
		ix := grants.Index()
		ns, table, _ := dataset.SplitID(d.ID)
		open := map[string]bool{}
		var cols []string
		for _, g := range p.Groups {
			cols = ix.ReadableColumns(cols[:0], g, ns, table)
			for _, c := range cols {
				open[c] = true
			}
		}
		return open, nil
	}
}

// serve runs the workers, the retention sweep and the server until ctx
// ends.
func (a *app) serve(ctx context.Context) error {
	workersDone := make(chan struct{})
	go func() {
		a.workers.Run(ctx)
		close(workersDone)
	}()
	sweepDone := make(chan struct{})
	go func() {
		a.sweeper.Run(ctx, a.sweepEvery)
		close(sweepDone)
	}()
	followDone := make(chan struct{})
	go func() {
		a.grants.Follow(ctx, a.followEvery)
		close(followDone)
	}()
	err := a.server.Serve(ctx)
	<-followDone
	<-sweepDone
	<-workersDone
	// The jobs have ended, so no alert comes any more: the ones not yet
	// delivered are recorded as dead letters.
	a.alerts.Close()
	return err
}

// openStore opens the control-plane store and returns, beside it, the
// database handle and dialect the Iceberg catalog shares.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, *sql.DB, string, error) {
	switch cfg.Store {
	case config.StorePostgres:
		st, err := postgres.Open(ctx, cfg.PostgresDSN)
		if err != nil {
			return nil, nil, "", err
		}
		return st, st.DB(), "postgres", nil
	default:
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, nil, "", fmt.Errorf("data dir: %w", err)
		}
		st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "lakeplane.db"))
		if err != nil {
			return nil, nil, "", err
		}
		return st, st.DB(), "sqlite", nil
	}
}

// openSources returns the object access of ingest sources: file:// within
// the allowed directories (created when they are the default) and any more
// roots given, and s3:// when an endpoint or region is configured.
func openSources(ctx context.Context, cfg *config.Config, getenv func(string) string, moreRoots ...string) (*objects.Router, error) {
	dirs := cfg.SourceDirs()
	if cfg.AllowedSourceDirs == "" {
		if err := os.MkdirAll(dirs[0], 0o750); err != nil {
			return nil, fmt.Errorf("landing dir: %w", err)
		}
	}
	files, err := objects.NewFileStore(append(dirs, moreRoots...))
	if err != nil {
		return nil, err
	}
	stores := map[string]objects.Store{objects.SchemeFile: files}
	if cfg.S3Endpoint != "" || cfg.S3Region != "" || getenv("AWS_REGION") != "" {
		s3, err := objects.NewS3Store(ctx, objects.S3Options{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, PathStyle: cfg.S3PathStyle})
		if err != nil {
			return nil, err
		}
		stores[objects.SchemeS3] = s3
	}
	return objects.NewRouter(stores)
}

// close releases what start opened; the server and workers have stopped.
func (a *app) close() {
	if a.alerts != nil {
		a.alerts.Close()
	}
	if a.tables != nil {
		if err := a.tables.Close(); err != nil {
			a.logger.Warn("closing the catalog", "error", err)
		}
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.logger.Error("closing the store", "error", err)
		}
	}
	if err := a.telemetry.Shutdown(context.Background()); err != nil {
		a.logger.Warn("flushing telemetry", "error", err)
	}
}
