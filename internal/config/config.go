// Package config loads the lakeplane server's configuration from command-line
// flags, LAKEPLANE_* environment variables, an optional YAML file and
// defaults, in that order of precedence, and validates the result as a whole
// before the server starts.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lakeplane/lakeplane/internal/auth"
)

// Store names a metadata store backend.
type Store string

// The metadata store backends.
const (
	StoreSQLite   Store = "sqlite"
	StorePostgres Store = "postgres"
)

// AuthMode says how callers are authenticated.
type AuthMode string

// The authentication modes.
const (
	// AuthNone makes every caller the local admin (see auth.Local).
	AuthNone AuthMode = "none"
	// AuthAPIKey requires a bearer API key listed in the config file.
	AuthAPIKey AuthMode = "apikey"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "LAKEPLANE_"

// Config is the server's validated configuration.
type Config struct {
	// ConfigPath is the YAML file the configuration was read from, if any.
	ConfigPath string
	// GRPCAddr is the host:port the gRPC server listens on.
	GRPCAddr string
	// HTTPAddr is the host:port the REST gateway listens on.
	HTTPAddr string
	// DataDir holds the SQLite database and local lake files.
	DataDir string
	// Store is the metadata store backend.
	Store Store
	// PostgresDSN is the PostgreSQL connection string when Store is postgres.
	PostgresDSN string
	// Auth is the authentication mode.
	Auth AuthMode
	// InsecureNoAuth allows AuthNone on listeners that are not loopback.
	InsecureNoAuth bool
	// LogLevel is debug, info, warn or error; see SlogLevel.
	LogLevel string
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration
	// GradeTagKey is the tag key that holds a column's or table's grade.
	GradeTagKey string
	// GradeLevels is the number of grade levels (2..9), 1 the most sensitive.
	GradeLevels int
	// GradeLabels optionally names the grade levels, one per level.
	GradeLabels []string
	// Warehouse is where Iceberg tables live: file:///dir or s3://bucket/prefix;
	// empty means file://<DataDir>/warehouse (see WarehouseURI).
	Warehouse string
	// AllowedSourceDirs are the directories file:// sources may be read from,
	// comma-separated; empty means <DataDir>/landing (see SourceDirs).
	AllowedSourceDirs string
	// Workers is the number of jobs run at once by this server.
	Workers int
	// S3Endpoint overrides the S3 endpoint (an S3-compatible server).
	S3Endpoint string
	// S3Region is the S3 region; the AWS default chain decides when empty.
	S3Region string
	// S3PathStyle addresses buckets by path instead of by host name.
	S3PathStyle bool
	// APIKeys are the keys accepted when Auth is apikey.
	APIKeys []auth.Key
	// Roles maps each role to the groups that hold it.
	Roles auth.RoleMap
	// AlertWebhooks are the webhooks told of every validation that does not
	// pass.
	AlertWebhooks []AlertWebhook
	// AlertAttempts is the number of tries of an alert delivery before it
	// becomes a dead letter.
	AlertAttempts int
	// AlertBackoff is the wait after an alert's first failed try, doubled
	// after each next one up to AlertMaxBackoff.
	AlertBackoff    time.Duration
	AlertMaxBackoff time.Duration
	// RetentionSweepInterval is how often the retention sweep starts the
	// SEPARATE and ERASE jobs that datasets' retention rules make due;
	// 0 turns the sweep off.
	RetentionSweepInterval time.Duration
	// GovernanceRefresh is how often the governance index applies the
	// tag, grant and dataset changes that other servers sharing the store
	// made, which bounds how stale its access answers can be; 0 turns
	// following off (a single server needs none).
	GovernanceRefresh time.Duration
	// GovernanceMaxStaleness is how long, while following, the governance
	// index may go without applying those changes (the store unreachable)
	// before access checks fail with UNAVAILABLE rather than answer from a
	// state that may miss a revoke; 0 sets no bound.
	GovernanceMaxStaleness time.Duration
}

// AlertWebhook is a webhook that receives signed alerts. Its secret is not
// part of the configuration: it is read from the environment variable
// SecretEnv names when the server starts.
type AlertWebhook struct {
	// Name names the sink in delivery records; unique among the webhooks.
	Name string
	// URL is the http:// or https:// URL alerts are POSTed to.
	URL string
	// SecretEnv is the environment variable holding the HMAC-SHA256 key.
	SecretEnv string
}

// Default returns the configuration used when nothing is set.
func Default() *Config {
	return &Config{
		GRPCAddr:               "127.0.0.1:9090",
		HTTPAddr:               "127.0.0.1:8080",
		DataDir:                "./data",
		Store:                  StoreSQLite,
		Auth:                   AuthNone,
		LogLevel:               "info",
		ShutdownTimeout:        15 * time.Second,
		GradeTagKey:            "grade",
		GradeLevels:            3,
		Workers:                2,
		AlertAttempts:          5,
		AlertBackoff:           time.Second,
		AlertMaxBackoff:        time.Minute,
		GovernanceRefresh:      time.Second,
		GovernanceMaxStaleness: 30 * time.Second,
	}
}

// EnvName returns the environment variable that sets the flag named
// flagName: "grpc-addr" is set by LAKEPLANE_GRPC_ADDR.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// yamlKey returns the config file key of the flag named flagName, in
// lowerCamelCase ("grpc-addr" is grpcAddr), or "" for --config itself.
func yamlKey(flagName string) string {
	if flagName == "config" {
		return ""
	}
	parts := strings.Split(flagName, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// Load returns the configuration given by the command-line arguments args
// (without the program name), the environment as seen through getenv (nil
// means an empty environment) and the YAML file named by --config or
// LAKEPLANE_CONFIG. A setting comes from its flag if given, else from its
// non-empty environment variable, else from the file, else from Default.
// The merged configuration is validated as a whole.
//
// On -h or --help Load prints the usage to standard error and returns
// flag.ErrHelp, so that main can exit 0.
func Load(args []string, getenv func(string) string) (*Config, error) {
	return load(args, getenv, os.Stderr)
}

// load is Load with the usage written to help.
func load(args []string, getenv func(string) string, help io.Writer) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}

	// The first pass over the command line rejects bad flags, answers
	// --help and finds the config file before anything else is read.
	first := Default()
	fs := newFlagSet(first)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(help, fs)
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("command line: %w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("command line: unexpected argument %q (every setting is a --flag; see --help)", fs.Arg(0))
	}
	onCommandLine := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	// Then the layers are applied from the lowest precedence up.
	c := Default()
	c.ConfigPath = first.ConfigPath
	if !onCommandLine["config"] {
		c.ConfigPath = getenv(EnvName("config"))
	}
	if c.ConfigPath != "" {
		data, err := os.ReadFile(c.ConfigPath)
		if err != nil {
			return nil, fmt.Errorf("reading config file: %w", err)
		}
		f, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", c.ConfigPath, err)
		}
		if err := c.applyFile(f); err != nil {
			return nil, fmt.Errorf("config file %s: %w", c.ConfigPath, err)
		}
	}
	final := newFlagSet(c) // its flags' defaults are the values so far
	var envErr error
	final.VisitAll(func(f *flag.Flag) {
		name := EnvName(f.Name)
		if onCommandLine[f.Name] || f.Name == "config" || envErr != nil {
			return
		}
		if v := getenv(name); v != "" {
			if err := final.Set(f.Name, v); err != nil {
				// Only typed settings can fail, and their values are no secrets.
				envErr = fmt.Errorf("environment variable %s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := final.Parse(args); err != nil {
		return nil, fmt.Errorf("command line: %w", err) // cannot happen: the first pass took args
	}

	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// newFlagSet returns the flag set of all settings, bound to c, with c's
// current values as defaults. It prints nothing: load reports errors and
// usage itself.
func newFlagSet(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("lakeplane", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.ConfigPath, "config", c.ConfigPath,
		"Path of a YAML configuration file. Its keys are the flag names in lowerCamelCase (grpcAddr, ...), "+
			"plus apiKeys, roles, gradeLabels and alertWebhooks, which exist only there. Unknown keys are errors.")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", c.GRPCAddr,
		"Address (host:port) the gRPC API listens on. A port of 0 picks a free one.")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr,
		"Address (host:port) the REST gateway listens on.")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir,
		"Directory for the SQLite metadata database and the local lake's files.")
	fs.StringVar((*string)(&c.Store), "store", string(c.Store),
		`Metadata store: "sqlite" (a file in --data-dir) or "postgres" (needs --postgres-dsn).`)
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", c.PostgresDSN,
		"PostgreSQL connection string (postgres://user:password@host/db?sslmode=...), required with --store=postgres. "+
			"Prefer the environment variable or the file to keep the password out of the process list.")
	fs.StringVar((*string)(&c.Auth), "auth", string(c.Auth),
		`How callers are authenticated: "none" (every caller is the local admin; loopback listeners only, `+
			`unless --insecure-no-auth) or "apikey" (a bearer API key listed by its SHA-256 under apiKeys in the config file).`)
	fs.BoolVar(&c.InsecureNoAuth, "insecure-no-auth", c.InsecureNoAuth,
		"Allow --auth=none on listeners that are not loopback, letting anyone who can reach them act as admin.")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel,
		"Least severe log level written: debug, info, warn or error.")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout,
		"How long a graceful shutdown waits for running calls before they are cut off (e.g. 15s, 1m).")
	fs.StringVar(&c.GradeTagKey, "grade-tag-key", c.GradeTagKey,
		"Tag key that holds the grade (sensitivity level) of tables and columns.")
	fs.IntVar(&c.GradeLevels, "grade-levels", c.GradeLevels,
		"Number of grade levels, 2 to 9; level 1 is the most sensitive. The config file's gradeLabels, if given, names each level.")
	fs.StringVar(&c.Warehouse, "warehouse", c.Warehouse,
		"Where Iceberg tables live: file:///dir or s3://bucket/prefix. Empty: file://<data-dir>/warehouse.")
	fs.StringVar(&c.AllowedSourceDirs, "allowed-source-dirs", c.AllowedSourceDirs,
		"Comma-separated directories that file:// ingest sources may be read from; anything outside, "+
			"symlinks out included, is refused. Empty: <data-dir>/landing.")
	fs.IntVar(&c.Workers, "workers", c.Workers,
		"Number of jobs (ingest, erase, ...) this server runs at once, 1 to 64.")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", c.S3Endpoint,
		"S3 endpoint URL for an S3-compatible server; empty uses AWS's.")
	fs.StringVar(&c.S3Region, "s3-region", c.S3Region,
		"S3 region; empty lets the AWS configuration chain decide.")
	fs.BoolVar(&c.S3PathStyle, "s3-path-style", c.S3PathStyle,
		"Address S3 buckets by path (http://host/bucket/key), as most S3-compatible servers need.")
	fs.IntVar(&c.AlertAttempts, "alert-attempts", c.AlertAttempts,
		"Tries of each alert delivery (webhook) before it is recorded as a dead letter, 1 to 20.")
	fs.DurationVar(&c.AlertBackoff, "alert-backoff", c.AlertBackoff,
		"Wait after an alert's first failed try; it doubles after each next one, up to --alert-max-backoff.")
	fs.DurationVar(&c.AlertMaxBackoff, "alert-max-backoff", c.AlertMaxBackoff,
		"Longest wait between two tries of an alert delivery.")
	fs.DurationVar(&c.RetentionSweepInterval, "retention-sweep-interval", c.RetentionSweepInterval,
		"How often to start the SEPARATE and ERASE jobs that retention rules make due (0: never).")
	fs.DurationVar(&c.GovernanceRefresh, "governance-refresh", c.GovernanceRefresh,
		"How often to apply the tag, grant and dataset changes that other servers sharing the store made to this "+
			"server's access checks, so that they lag by at most about this much (0: never, for a single server).")
	fs.DurationVar(&c.GovernanceMaxStaleness, "governance-max-staleness", c.GovernanceMaxStaleness,
		"How long access checks may go on answering while those changes cannot be read from the store; after it "+
			"they fail with UNAVAILABLE until the store answers again (0: no limit).")
	return fs
}

// WarehouseURI is the warehouse location with the default applied.
func (c *Config) WarehouseURI() string {
	if c.Warehouse != "" {
		return c.Warehouse
	}
	abs, err := filepath.Abs(filepath.Join(c.DataDir, "warehouse"))
	if err != nil {
		abs = filepath.Join(c.DataDir, "warehouse")
	}
	return "file://" + filepath.ToSlash(abs)
}

// SourceDirs are the allowed file:// source directories, absolute, with the
// default applied.
func (c *Config) SourceDirs() []string {
	var dirs []string
	for _, d := range strings.Split(c.AllowedSourceDirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		dirs = []string{filepath.Join(c.DataDir, "landing")}
	}
	for i, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			dirs[i] = abs
		}
	}
	return dirs
}

// Usage writes the help text: every flag with its explanation, environment
// variable, config file key and default.
func Usage(w io.Writer) {
	writeUsage(w, newFlagSet(Default()))
}

// writeUsage writes the help text of fs to w.
func writeUsage(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	b.WriteString(`Usage: lakeplane [flags]

Serves lakeplane, the control plane of a governed data lakehouse, over gRPC and REST.

Each setting comes from, highest precedence first: its flag, its environment variable,
the YAML file given by --config, its default.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(&b, " %s", typ)
		}
		fmt.Fprintf(&b, "\n      %s\n      env %s", usage, EnvName(f.Name))
		if key := yamlKey(f.Name); key != "" {
			fmt.Fprintf(&b, ", yaml %s", key)
		}
		if f.DefValue != "" {
			fmt.Fprintf(&b, ", default %q", f.DefValue)
		}
		b.WriteString("\n")
	})
	b.WriteString(`
Config file only:
  apiKeys      list of {name, sha256, groups}: the principals of --auth=apikey; sha256 is
               the hex SHA-256 of the key (e.g. printf %s "$KEY" | sha256sum)
  roles        map of role (admin, steward, engineer, analyst, auditor) to the groups holding it
  gradeLabels  one label per grade level, level 1 first
  alertWebhooks
               list of {name, url, secretEnv}: webhooks POSTed a signed JSON alert on every
               validation that does not pass; secretEnv names the environment variable that
               holds the HMAC-SHA256 key (the key itself is never in the file)
`)
	_, _ = io.WriteString(w, b.String())
}

// SlogLevel returns the log level as a slog.Level (info if it is not valid).
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// redactURL shows a URL's scheme and host only: webhook paths and queries
// often carry tokens.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted]"
	}
	return u.Scheme + "://" + u.Host + "/[redacted]"
}

// Authenticator returns the authenticator of c's auth mode.
func (c *Config) Authenticator() (auth.Authenticator, error) {
	switch c.Auth {
	case AuthNone:
		return auth.Local{}, nil
	case AuthAPIKey:
		return auth.NewAPIKeys(c.APIKeys, c.Roles)
	default:
		return nil, fmt.Errorf("auth: unknown mode %q", c.Auth)
	}
}

// LogValue shows the configuration in logs without secrets: the PostgreSQL
// connection string is redacted and API keys are shown by name only.
func (c *Config) LogValue() slog.Value {
	dsn := ""
	if c.PostgresDSN != "" {
		dsn = "[redacted]"
	}
	hooks := make([]string, len(c.AlertWebhooks))
	for i, w := range c.AlertWebhooks {
		hooks[i] = w.Name + " " + redactURL(w.URL)
	}
	keys := make([]string, len(c.APIKeys))
	for i, k := range c.APIKeys {
		keys[i] = k.Name
	}
	return slog.GroupValue(
		slog.String("config", c.ConfigPath),
		slog.String("grpcAddr", c.GRPCAddr),
		slog.String("httpAddr", c.HTTPAddr),
		slog.String("dataDir", c.DataDir),
		slog.String("store", string(c.Store)),
		slog.String("postgresDsn", dsn),
		slog.String("auth", string(c.Auth)),
		slog.Bool("insecureNoAuth", c.InsecureNoAuth),
		slog.String("logLevel", c.LogLevel),
		slog.String("shutdownTimeout", c.ShutdownTimeout.String()),
		slog.String("warehouse", c.WarehouseURI()),
		slog.Any("allowedSourceDirs", c.SourceDirs()),
		slog.Int("workers", c.Workers),
		slog.String("s3Endpoint", c.S3Endpoint),
		slog.String("s3Region", c.S3Region),
		slog.Bool("s3PathStyle", c.S3PathStyle),
		slog.String("gradeTagKey", c.GradeTagKey),
		slog.Int("gradeLevels", c.GradeLevels),
		slog.Any("gradeLabels", c.GradeLabels),
		slog.Any("apiKeys", keys),
		slog.Any("roles", c.Roles),
		slog.Any("alertWebhooks", hooks),
		slog.Int("alertAttempts", c.AlertAttempts),
		slog.String("alertBackoff", c.AlertBackoff.String()),
		slog.String("alertMaxBackoff", c.AlertMaxBackoff.String()),
		slog.String("retentionSweepInterval", c.RetentionSweepInterval.String()),
		slog.String("governanceRefresh", c.GovernanceRefresh.String()),
		slog.String("governanceMaxStaleness", c.GovernanceMaxStaleness.String()),
	)
}
