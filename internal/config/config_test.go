package config

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/lakeplane/lakeplane/internal/auth"
)

// env returns a getenv over the given variables.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// writeFile writes a config file into a fresh directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lakeplane.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Load() = %+v\nwant %+v", got, want)
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

// TestPrecedence checks, for settings of every flag type, that a flag beats
// an environment variable, which beats the file, which beats the default.
func TestPrecedence(t *testing.T) {
	type layers struct {
		flag, env, file string // "" means not set at that layer
	}
	settings := []struct {
		flag     string
		yaml     string                  // the file line, with %s for the value
		values   [3]string               // flag, env and file values, all different
		get      func(*Config) any       // the setting
		parse    func(string) any        // what a value should become
		extraEnv func(map[string]string) // other settings that make the values valid
	}{
		{
			flag: "grpc-addr", yaml: "grpcAddr: %s",
			values: [3]string{"127.0.0.1:1", "127.0.0.2:2", "localhost:3"},
			get:    func(c *Config) any { return c.GRPCAddr },
			parse:  func(s string) any { return s },
		},
		{
			flag: "shutdown-timeout", yaml: "shutdownTimeout: %s",
			values: [3]string{"1s", "2m", "3h"},
			get:    func(c *Config) any { return c.ShutdownTimeout },
			parse:  func(s string) any { d, _ := time.ParseDuration(s); return d },
		},
		{
			flag: "retention-sweep-interval", yaml: "retentionSweepInterval: %s",
			values: [3]string{"1m", "2h", "0s"},
			get:    func(c *Config) any { return c.RetentionSweepInterval },
			parse:  func(s string) any { d, _ := time.ParseDuration(s); return d },
		},
		{
			flag: "governance-refresh", yaml: "governanceRefresh: %s",
			values: [3]string{"250ms", "5s", "0s"},
			get:    func(c *Config) any { return c.GovernanceRefresh },
			parse:  func(s string) any { d, _ := time.ParseDuration(s); return d },
		},
		{
			flag: "governance-max-staleness", yaml: "governanceMaxStaleness: %s",
			values: [3]string{"10s", "1m", "0s"},
			get:    func(c *Config) any { return c.GovernanceMaxStaleness },
			parse:  func(s string) any { d, _ := time.ParseDuration(s); return d },
		},
		{
			flag: "grade-levels", yaml: "gradeLevels: %s",
			values: [3]string{"4", "5", "6"},
			get:    func(c *Config) any { return c.GradeLevels },
			parse: func(s string) any {
				return map[string]int{"4": 4, "5": 5, "6": 6}[s]
			},
		},
		{
			flag: "log-level", yaml: "logLevel: %s",
			values: [3]string{"debug", "warn", "error"},
			get:    func(c *Config) any { return c.LogLevel },
			parse:  func(s string) any { return s },
		},
		{
			flag: "insecure-no-auth", yaml: "insecureNoAuth: %s",
			values: [3]string{"true", "false", "true"},
			get:    func(c *Config) any { return c.InsecureNoAuth },
			parse:  func(s string) any { return s == "true" },
		},
	}
	cases := []struct {
		name string
		set  layers
		want int // index of the winning layer in values, or -1 for the default
	}{
		{"default", layers{}, -1},
		{"file beats default", layers{file: "y"}, 2},
		{"env beats default", layers{env: "y"}, 1},
		{"env beats file", layers{env: "y", file: "y"}, 1},
		{"flag beats default", layers{flag: "y"}, 0},
		{"flag beats file", layers{flag: "y", file: "y"}, 0},
		{"flag beats env", layers{flag: "y", env: "y"}, 0},
		{"flag beats env and file", layers{flag: "y", env: "y", file: "y"}, 0},
	}
	for _, s := range settings {
		for _, tc := range cases {
			t.Run(s.flag+"/"+tc.name, func(t *testing.T) {
				var args []string
				vars := map[string]string{}
				if tc.set.flag != "" {
					args = append(args, "--"+s.flag+"="+s.values[0])
				}
				if tc.set.env != "" {
					vars[EnvName(s.flag)] = s.values[1]
				}
				if tc.set.file != "" {
					args = append(args, "--config", writeFile(t, strings.Replace(s.yaml, "%s", s.values[2], 1)))
				}
				c, err := Load(args, env(vars))
				if err != nil {
					t.Fatalf("Load(%q, %v): %v", args, vars, err)
				}
				want := s.get(Default())
				if tc.want >= 0 {
					want = s.parse(s.values[tc.want])
				}
				if got := s.get(c); got != want {
					t.Fatalf("%s = %v; want %v", s.flag, got, want)
				}
			})
		}
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	fromEnv := writeFile(t, "dataDir: /from/env\n")
	fromFlag := writeFile(t, "dataDir: /from/flag\n")
	vars := map[string]string{"LAKEPLANE_CONFIG": fromEnv}

	c, err := Load(nil, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/env" || c.ConfigPath != fromEnv {
		t.Fatalf("LAKEPLANE_CONFIG: data dir %q from %q; want /from/env from %q", c.DataDir, c.ConfigPath, fromEnv)
	}

	c, err = Load([]string{"--config", fromFlag}, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from/flag" || c.ConfigPath != fromFlag {
		t.Fatalf("--config: data dir %q from %q; want /from/flag from %q", c.DataDir, c.ConfigPath, fromFlag)
	}
}

func TestEmptyEnvIsUnset(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"LAKEPLANE_GRPC_ADDR": "", "LAKEPLANE_CONFIG": ""}))
	if err != nil {
		t.Fatal(err)
	}
	if c.GRPCAddr != Default().GRPCAddr {
		t.Fatalf("grpc addr %q; want the default", c.GRPCAddr)
	}
}

func TestEmptyFlagBeatsEnv(t *testing.T) {
	_, err := Load([]string{"--store=postgres", "--postgres-dsn="},
		env(map[string]string{"LAKEPLANE_POSTGRES_DSN": "postgres://x"}))
	if err == nil || !strings.Contains(err.Error(), "postgres-dsn") {
		t.Fatalf("err = %v; want the empty --postgres-dsn to win and fail validation", err)
	}
}

func TestLoadFullFile(t *testing.T) {
	c, err := Load([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		ConfigPath:        "testdata/full.yaml",
		GRPCAddr:          "0.0.0.0:9090",
		HTTPAddr:          "[::]:8080",
		DataDir:           "/var/lib/lakeplane",
		Store:             StorePostgres,
		PostgresDSN:       "postgres://lakeplane:secret@db.internal/lakeplane?sslmode=verify-full",
		Auth:              AuthAPIKey,
		LogLevel:          "warn",
		ShutdownTimeout:   90 * time.Second,
		GradeTagKey:       "sensitivity",
		GradeLevels:       3,
		GradeLabels:       []string{"resident registration numbers", "personal", "internal"},
		Warehouse:         "s3://lake-prod/warehouse",
		AllowedSourceDirs: "/srv/landing,/srv/partner-drops",
		Workers:           4,
		S3Endpoint:        "https://s3.ap-northeast-2.amazonaws.com",
		S3Region:          "ap-northeast-2",
		S3PathStyle:       true,
		APIKeys: []auth.Key{
			{Name: "alice", SHA256: auth.HashKey("alice-key"), Groups: []string{"data-eng", "analysts"}},
			{Name: "bob", SHA256: auth.HashKey("bob-key"), Groups: []string{"audit"}},
		},
		Roles: auth.RoleMap{
			auth.Admin:    {"platform-admins"},
			auth.Steward:  {"governance"},
			auth.Engineer: {"data-eng"},
			auth.Analyst:  {"analysts"},
			auth.Auditor:  {"audit"},
		},
		AlertWebhooks: []AlertWebhook{
			{Name: "data-oncall", URL: "https://hooks.example.com/services/T0KEN-IN-PATH", SecretEnv: "LAKEPLANE_ALERT_ONCALL_SECRET"},
			{Name: "audit-log", URL: "http://127.0.0.1:9999/alerts", SecretEnv: "AUDIT_HOOK_KEY"},
		},
		AlertAttempts:          7,
		AlertBackoff:           2 * time.Second,
		AlertMaxBackoff:        5 * time.Minute,
		GovernanceRefresh:      250 * time.Millisecond,
		GovernanceMaxStaleness: 5 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("Load = %+v\nwant %+v", c, want)
	}

	authn, err := c.Authenticator()
	if err != nil {
		t.Fatal(err)
	}
	p, err := authn.Authenticate(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer bob-key")))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "bob" || !p.HasRole(auth.Auditor) || p.HasRole(auth.Analyst) {
		t.Fatalf("bob-key authenticates %+v; want bob, an auditor", p)
	}
}

func TestAuthenticatorNone(t *testing.T) {
	authn, err := Default().Authenticator()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := authn.(auth.Local); !ok {
		t.Fatalf("Authenticator() = %T; want auth.Local", authn)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // written and passed with --config when not empty
		want []string
	}{
		{name: "unknown flag", args: []string{"--grpc"}, want: []string{"flag provided but not defined: -grpc"}},
		{name: "positional argument", args: []string{"serve"}, want: []string{`unexpected argument "serve"`}},
		{name: "bad flag value", args: []string{"--grade-levels=three"}, want: []string{"grade-levels", "three"}},
		{
			name: "bad env value", env: map[string]string{"LAKEPLANE_SHUTDOWN_TIMEOUT": "soon"},
			want: []string{"LAKEPLANE_SHUTDOWN_TIMEOUT", "soon"},
		},
		{
			name: "bad env bool", env: map[string]string{"LAKEPLANE_INSECURE_NO_AUTH": "maybe"},
			want: []string{"LAKEPLANE_INSECURE_NO_AUTH"},
		},
		{name: "missing file", args: []string{"--config", "testdata/nope.yaml"}, want: []string{"reading config file", "nope.yaml"}},
		{name: "unknown key", file: "grpcAddr: 127.0.0.1:1\ngrpc_addr: x\n", want: []string{"line 2", "grpc_addr"}},
		{name: "unknown nested key", file: "apiKeys:\n  - name: a\n    hash: x\n", want: []string{"line 3", "hash"}},
		{name: "bad duration in file", file: "shutdownTimeout: soon\n", want: []string{"line 1", "soon"}},
		{name: "int duration in file", file: "shutdownTimeout: 15\n", want: []string{"line 1"}},
		{name: "wrong type in file", file: "gradeLevels: [1]\n", want: []string{"line 1"}},
		{name: "two documents", file: "dataDir: a\n---\ndataDir: b\n", want: []string{"line 2", "one YAML document"}},
		{name: "config key in file", file: "config: other.yaml\n", want: []string{"line 1", "config"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, tc.file))
			}
			_, err := Load(args, env(tc.env))
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// validKeyFile is a file with one valid API key, for --auth=apikey.
const validKeyFile = `
apiKeys:
  - name: alice
    sha256: 72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20
    groups: [data-eng]
`

func TestValidationErrors(t *testing.T) {
	const hashA = "72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"
	const hashB = "9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"
	tests := []struct {
		name string
		args []string
		file string
		want []string // substrings of the error
	}{
		{name: "grpc addr without port", args: []string{"--grpc-addr=127.0.0.1"}, want: []string{"grpc-addr", "host:port"}},
		{name: "http addr bad port", args: []string{"--http-addr=127.0.0.1:http"}, want: []string{"http-addr", `port "http"`}},
		{name: "port out of range", args: []string{"--grpc-addr=127.0.0.1:65536"}, want: []string{"grpc-addr", "65536"}},
		{name: "unbracketed ipv6", args: []string{"--grpc-addr=::1:9090"}, want: []string{"grpc-addr"}},
		{name: "space in host", args: []string{"--http-addr=local host:80"}, want: []string{"http-addr", "spaces"}},
		{name: "empty data dir", args: []string{"--data-dir="}, want: []string{"data-dir"}},
		{name: "unknown store", args: []string{"--store=mysql"}, want: []string{"store", `"mysql"`}},
		{name: "postgres without dsn", args: []string{"--store=postgres"}, want: []string{"postgres-dsn", "LAKEPLANE_POSTGRES_DSN"}},
		{name: "unknown auth", args: []string{"--auth=oidc"}, want: []string{"auth", `"oidc"`}},
		{name: "apikey without keys", args: []string{"--auth=apikey"}, want: []string{"apiKeys", "at least one"}},
		{name: "unknown log level", args: []string{"--log-level=trace"}, want: []string{"log-level", `"trace"`}},
		{name: "zero shutdown timeout", args: []string{"--shutdown-timeout=0s"}, want: []string{"shutdown-timeout"}},
		{name: "negative shutdown timeout", args: []string{"--shutdown-timeout=-1s"}, want: []string{"shutdown-timeout"}},
		{name: "empty grade tag key", args: []string{"--grade-tag-key="}, want: []string{"grade-tag-key"}},
		{name: "grade tag key with space", args: []string{"--grade-tag-key=my grade"}, want: []string{"grade-tag-key"}},
		{name: "one grade level", args: []string{"--grade-levels=1"}, want: []string{"grade-levels", "2..9"}},
		{name: "ten grade levels", args: []string{"--grade-levels=10"}, want: []string{"grade-levels", "2..9"}},
		{
			name: "too few labels", file: "gradeLabels: [a, b]\n",
			want: []string{"gradeLabels", "2 labels for 3 grade levels"},
		},
		{
			name: "labels do not follow the levels flag", args: []string{"--grade-levels=4"},
			file: "gradeLabels: [a, b, c]\n", want: []string{"gradeLabels", "3 labels for 4"},
		},
		{name: "blank label", file: "gradeLabels: [a, ' ', c]\n", want: []string{"gradeLabels[1]"}},
		{
			name: "short hash", file: "apiKeys:\n  - name: a\n    sha256: abc\n",
			want: []string{`apiKeys[0] ("a").sha256`, "64 hex digits"},
		},
		{
			name: "non-hex hash", file: "apiKeys:\n  - name: a\n    sha256: " + strings.Repeat("zz", 32) + "\n",
			want: []string{`apiKeys[0] ("a").sha256`},
		},
		{
			name: "hash is not echoed", file: "apiKeys:\n  - name: a\n    sha256: my-secret-key\n",
			want: []string{`apiKeys[0] ("a").sha256`, "13 characters"},
		},
		{
			name: "key without name", file: "apiKeys:\n  - sha256: " + hashA + "\n",
			want: []string{"apiKeys[0]", "name: must not be empty"},
		},
		{
			name: "duplicate key name",
			file: "apiKeys:\n  - {name: a, sha256: " + hashA + "}\n  - {name: a, sha256: " + hashB + "}\n",
			want: []string{`apiKeys[1] ("a").name`, "duplicate of apiKeys[0]"},
		},
		{
			name: "duplicate hash",
			file: "apiKeys:\n  - {name: a, sha256: " + hashA + "}\n  - {name: b, sha256: " + strings.ToUpper(hashA) + "}\n",
			want: []string{`apiKeys[1] ("b").sha256`, "same hash as apiKeys[0]"},
		},
		{
			name: "blank group", file: "apiKeys:\n  - {name: a, sha256: " + hashA + ", groups: [x, '']}\n",
			want: []string{`apiKeys[0] ("a").groups[1]`},
		},
		{name: "zero alert attempts", args: []string{"--alert-attempts=0"}, want: []string{"alert-attempts", "1..20"}},
		{name: "zero alert backoff", args: []string{"--alert-backoff=0s"}, want: []string{"alert-backoff: must be positive"}},
		{name: "negative sweep interval", args: []string{"--retention-sweep-interval=-1s"}, want: []string{"retention-sweep-interval: must not be negative"}},
		{name: "negative governance refresh", args: []string{"--governance-refresh=-1s"}, want: []string{"governance-refresh: must not be negative"}},
		{name: "negative max staleness", args: []string{"--governance-max-staleness=-1s"}, want: []string{"governance-max-staleness: must not be negative"}},
		{name: "max staleness within two refreshes", args: []string{"--governance-refresh=1s", "--governance-max-staleness=1500ms"}, want: []string{"governance-max-staleness: must be at least twice governance-refresh (1s), got 1.5s"}},
		{name: "max backoff below backoff", args: []string{"--alert-backoff=2s", "--alert-max-backoff=1s"}, want: []string{"alert-max-backoff", "less than"}},
		{
			name: "webhook without name", file: "alertWebhooks:\n  - {url: 'https://h.example/x', secretEnv: K}\n",
			want: []string{`alertWebhooks[0] ("").name`},
		},
		{
			name: "duplicate webhook", file: "alertWebhooks:\n  - {name: a, url: 'https://h.example/x', secretEnv: K}\n  - {name: a, url: 'https://h.example/y', secretEnv: K}\n",
			want: []string{`alertWebhooks[1] ("a").name`, "duplicate of alertWebhooks[0]"},
		},
		{
			name: "webhook url not echoed", file: "alertWebhooks:\n  - {name: a, url: 'ftp://h/my-secret-key', secretEnv: K}\n",
			want: []string{`alertWebhooks[0] ("a").url`, "http:// or https://", "21 characters"},
		},
		{
			name: "relative webhook url", file: "alertWebhooks:\n  - {name: a, url: '/hook', secretEnv: K}\n",
			want: []string{`alertWebhooks[0] ("a").url`},
		},
		{
			name: "webhook secret in the file", file: "alertWebhooks:\n  - {name: a, url: 'https://h.example/x', secretEnv: 'not a name'}\n",
			want: []string{`alertWebhooks[0] ("a").secretEnv`, "environment variable"},
		},
		{
			name: "webhook without secret", file: "alertWebhooks:\n  - {name: a, url: 'https://h.example/x'}\n",
			want: []string{`alertWebhooks[0] ("a").secretEnv`},
		},
		{name: "unknown webhook key", file: "alertWebhooks:\n  - {name: a, secret: x}\n", want: []string{"secret"}},
		{name: "unknown role", file: "roles:\n  superuser: [root]\n", want: []string{"roles.superuser", `unknown role "superuser"`}},
		{name: "role names are lower case", file: "roles:\n  Admin: [root]\n", want: []string{"roles.Admin"}},
		{name: "blank role group", file: "roles:\n  admin: ['']\n", want: []string{"roles.admin[0]"}},
		{
			name: "auth none on all interfaces", args: []string{"--grpc-addr=0.0.0.0:9090"},
			want: []string{"--auth=apikey", "--insecure-no-auth", `"0.0.0.0:9090"`},
		},
		{
			name: "auth none with empty host", args: []string{"--http-addr=:8080"},
			want: []string{"--auth=apikey", "--insecure-no-auth", `":8080"`},
		},
		{
			name: "auth none on a private address", args: []string{"--grpc-addr=10.1.2.3:9090"},
			want: []string{"--insecure-no-auth"},
		},
		{
			name: "auth none on a host name", args: []string{"--http-addr=lakeplane.internal:80"},
			want: []string{"--insecure-no-auth"},
		},
		{
			name: "every error at once",
			args: []string{"--store=x", "--auth=y", "--log-level=z", "--grade-levels=0"},
			want: []string{"store:", "auth:", "log-level:", "grade-levels:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append(args, "--config", writeFile(t, tc.file))
			}
			_, err := Load(args, nil)
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "my-secret-key") {
				t.Errorf("error %q shows the configured value", err)
			}
		})
	}
}

func TestValidConfigurations(t *testing.T) {
	keyFile := writeFile(t, validKeyFile)
	tests := []struct {
		name string
		args []string
	}{
		{"auth none on ipv4 loopback", []string{"--grpc-addr=127.0.0.1:1", "--http-addr=127.9.9.9:2"}},
		{"auth none on ipv6 loopback", []string{"--grpc-addr=[::1]:1", "--http-addr=[::1]:0"}},
		{"auth none on localhost", []string{"--grpc-addr=localhost:1", "--http-addr=LocalHost:2"}},
		{"auth none anywhere when insecure", []string{"--grpc-addr=:9090", "--http-addr=0.0.0.0:8080", "--insecure-no-auth"}},
		{"apikey on all interfaces", []string{"--grpc-addr=:9090", "--http-addr=[::]:8080", "--auth=apikey", "--config", keyFile}},
		{"postgres with dsn", []string{"--store=postgres", "--postgres-dsn=postgres://localhost/lake"}},
		{"two grade levels", []string{"--grade-levels=2"}},
		{"nine grade levels", []string{"--grade-levels=9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(tc.args, nil); err != nil {
				t.Fatalf("Load(%q): %v", tc.args, err)
			}
		})
	}
}

func TestCheckAddrLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:80", true},
		{"127.255.255.254:80", true},
		{"[::1]:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"localhost:80", true},
		{"LOCALHOST:80", true},
		{":80", false},
		{"0.0.0.0:80", false},
		{"[::]:80", false},
		{"128.0.0.1:80", false},
		{"192.168.1.10:80", false},
		{"localhost.example.com:80", false},
		{"[fe80::1%lo]:80", false},
	}
	for _, tc := range tests {
		got, err := checkAddr(tc.addr)
		if err != nil || got != tc.want {
			t.Errorf("checkAddr(%q) = %v, %v; want %v, nil", tc.addr, got, err, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		var out bytes.Buffer
		_, err := load([]string{arg}, nil, &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("load(%s) error = %v; want flag.ErrHelp", arg, err)
		}
		help := out.String()
		var usage bytes.Buffer
		Usage(&usage)
		if help != usage.String() {
			t.Errorf("%s printed something other than Usage", arg)
		}
		newFlagSet(Default()).VisitAll(func(f *flag.Flag) {
			for _, want := range []string{"--" + f.Name, EnvName(f.Name), f.Usage} {
				if !strings.Contains(help, want) {
					t.Errorf("help does not mention %q", want)
				}
			}
			if key := yamlKey(f.Name); key != "" && !strings.Contains(help, "yaml "+key) {
				t.Errorf("help does not mention the yaml key %q", key)
			}
		})
		for _, want := range []string{
			"LAKEPLANE_GRPC_ADDR", `default "127.0.0.1:9090"`, "yaml grpcAddr", "yaml postgresDsn",
			"apiKeys", "roles", "gradeLabels", "alertWebhooks", "secretEnv", "LAKEPLANE_CONFIG",
		} {
			if !strings.Contains(help, want) {
				t.Errorf("help does not mention %q", want)
			}
		}
	}
}

func TestNames(t *testing.T) {
	for flagName, want := range map[string][2]string{
		"grpc-addr":        {"LAKEPLANE_GRPC_ADDR", "grpcAddr"},
		"insecure-no-auth": {"LAKEPLANE_INSECURE_NO_AUTH", "insecureNoAuth"},
		"postgres-dsn":     {"LAKEPLANE_POSTGRES_DSN", "postgresDsn"},
		"store":            {"LAKEPLANE_STORE", "store"},
	} {
		if got := EnvName(flagName); got != want[0] {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want[0])
		}
		if got := yamlKey(flagName); got != want[1] {
			t.Errorf("yamlKey(%q) = %q, want %q", flagName, got, want[1])
		}
	}
}

// TestEveryFlagIsAFileKey makes sure that each flag but --config can be set
// in the file under its lowerCamelCase name.
func TestEveryFlagIsAFileKey(t *testing.T) {
	newFlagSet(Default()).VisitAll(func(f *flag.Flag) {
		key := yamlKey(f.Name)
		if key == "" {
			return
		}
		_, err := Parse([]byte(key + ": " + f.DefValue + "\n"))
		if err != nil {
			t.Errorf("flag --%s has no file key %s: %v", f.Name, key, err)
		}
	})
}

func TestSlogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "bad": slog.LevelInfo,
	} {
		if got := (&Config{LogLevel: in}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	c, err := Load([]string{"--config", "testdata/full.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", c)
	s := out.String()
	for _, secret := range []string{"secret@", "72ee9d43", "9B94DC1A", "T0KEN"} {
		if strings.Contains(s, secret) {
			t.Errorf("log %q shows %q", s, secret)
		}
	}
	for _, want := range []string{"grpcAddr=0.0.0.0:9090", "[redacted]", "alice", "data-oncall https://hooks.example.com/[redacted]"} {
		if !strings.Contains(s, want) {
			t.Errorf("log %q does not show %q", s, want)
		}
	}
}

func TestLakeLocationsDefaultUnderDataDir(t *testing.T) {
	c, err := Load([]string{"--data-dir=/srv/lake"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.WarehouseURI(); got != "file:///srv/lake/warehouse" {
		t.Errorf("WarehouseURI = %q", got)
	}
	if got := c.SourceDirs(); len(got) != 1 || got[0] != "/srv/lake/landing" {
		t.Errorf("SourceDirs = %q", got)
	}
	c, err = Load([]string{"--warehouse=s3://b/w", "--allowed-source-dirs=/a, /b ,"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.WarehouseURI() != "s3://b/w" || strings.Join(c.SourceDirs(), "|") != "/a|/b" {
		t.Errorf("explicit locations: %q %q", c.WarehouseURI(), c.SourceDirs())
	}
}

func TestLakeSettingsValidated(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		field string
	}{
		{[]string{"--workers=0"}, "workers"},
		{[]string{"--warehouse=/relative/dir"}, "warehouse"},
		{[]string{"--s3-endpoint=localhost:9000"}, "s3-endpoint"},
	} {
		_, err := Load(tt.args, nil)
		if err == nil || !strings.Contains(err.Error(), tt.field+":") {
			t.Errorf("Load(%v) = %v; want an error naming %s", tt.args, err, tt.field)
		}
	}
}
