package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/lakeplane/lakeplane/internal/auth"
)

// applyFile sets every setting present in f. Empty lists and maps become nil
// so that a file round-trips to the same Config.
func (c *Config) applyFile(f *File) error {
	setIf(&c.GRPCAddr, f.GRPCAddr)
	setIf(&c.HTTPAddr, f.HTTPAddr)
	setIf(&c.DataDir, f.DataDir)
	setIf((*string)(&c.Store), f.Store)
	setIf(&c.PostgresDSN, f.PostgresDSN)
	setIf((*string)(&c.Auth), f.Auth)
	setIf(&c.InsecureNoAuth, f.InsecureNoAuth)
	setIf(&c.LogLevel, f.LogLevel)
	setIf(&c.ShutdownTimeout, f.ShutdownTimeout)
	setIf(&c.GradeTagKey, f.GradeTagKey)
	setIf(&c.GradeLevels, f.GradeLevels)
	setIf(&c.Warehouse, f.Warehouse)
	setIf(&c.AllowedSourceDirs, f.AllowedSourceDirs)
	setIf(&c.Workers, f.Workers)
	setIf(&c.S3Endpoint, f.S3Endpoint)
	setIf(&c.S3Region, f.S3Region)
	setIf(&c.S3PathStyle, f.S3PathStyle)
	setIf(&c.AlertAttempts, f.AlertAttempts)
	setIf(&c.AlertBackoff, f.AlertBackoff)
	setIf(&c.AlertMaxBackoff, f.AlertMaxBackoff)
	setIf(&c.RetentionSweepInterval, f.RetentionSweep)
	setIf(&c.GovernanceRefresh, f.GovernanceRefresh)
	setIf(&c.GovernanceMaxStaleness, f.GovernanceMaxStale)
	c.AlertWebhooks = nil
	for _, w := range f.AlertWebhooks {
		c.AlertWebhooks = append(c.AlertWebhooks, AlertWebhook(w))
	}
	c.GradeLabels = nilIfEmpty(f.GradeLabels)

	c.APIKeys = nil
	for i, k := range f.APIKeys {
		// The value is never echoed: it may be a key pasted by mistake.
		sum, err := hex.DecodeString(k.SHA256)
		if err != nil || len(sum) != 32 {
			return fmt.Errorf("apiKeys[%d] (%q).sha256: must be 64 hex digits, the SHA-256 of the key "+
				"(the value is not shown, in case it is a key; it has %d characters)",
				i, k.Name, len(k.SHA256))
		}
		c.APIKeys = append(c.APIKeys, auth.Key{Name: k.Name, SHA256: [32]byte(sum), Groups: nilIfEmpty(k.Groups)})
	}

	c.Roles = nil
	if len(f.Roles) > 0 {
		c.Roles = make(auth.RoleMap, len(f.Roles))
		for role, groups := range f.Roles {
			c.Roles[auth.Role(role)] = nilIfEmpty(groups)
		}
	}
	return nil
}

// setIf sets *dst to *src if src is not nil.
func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// nilIfEmpty returns s, or nil if s is empty.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Validate checks c as a whole and returns an error naming every field that
// is wrong, one per line, or nil. It does not change c.
func (c *Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}

	grpcLoopback, err := checkAddr(c.GRPCAddr)
	if err != nil {
		fail("grpc-addr: %w", err)
	}
	httpLoopback, err := checkAddr(c.HTTPAddr)
	if err != nil {
		fail("http-addr: %w", err)
	}
	if c.DataDir == "" {
		fail("data-dir: must not be empty")
	}

	switch c.Store {
	case StoreSQLite:
	case StorePostgres:
		if strings.TrimSpace(c.PostgresDSN) == "" {
			fail("postgres-dsn: required with --store=postgres (or set %s)", EnvName("postgres-dsn"))
		}
	default:
		fail("store: unknown store %q (want %q or %q)", c.Store, StoreSQLite, StorePostgres)
	}

	switch c.Auth {
	case AuthNone:
		// Without authentication everyone who can connect is admin, so by
		// default only this machine may connect.
		if !c.InsecureNoAuth && (!grpcLoopback || !httpLoopback) {
			addr := c.GRPCAddr
			if grpcLoopback {
				addr = c.HTTPAddr
			}
			fail("auth: --auth=none (no authentication, every caller is admin) is only allowed when "+
				"--grpc-addr and --http-addr are loopback addresses (127.0.0.0/8, ::1, localhost), but %q is not: "+
				"set --auth=apikey with apiKeys in the config file, listen on loopback, "+
				"or pass --insecure-no-auth to serve without authentication anyway", addr)
		}
	case AuthAPIKey:
		if len(c.APIKeys) == 0 {
			fail("apiKeys: --auth=apikey needs at least one entry under apiKeys in the config file")
		}
	default:
		fail("auth: unknown mode %q (want %q or %q)", c.Auth, AuthNone, AuthAPIKey)
	}

	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		fail("log-level: unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}
	if c.ShutdownTimeout <= 0 {
		fail("shutdown-timeout: must be positive, got %s", c.ShutdownTimeout)
	}

	if c.GovernanceRefresh < 0 {
		fail("governance-refresh: must not be negative, got %s", c.GovernanceRefresh)
	}
	switch {
	case c.GovernanceMaxStaleness < 0:
		fail("governance-max-staleness: must not be negative, got %s", c.GovernanceMaxStaleness)
	case c.GovernanceMaxStaleness > 0 && c.GovernanceRefresh > 0 && c.GovernanceMaxStaleness < 2*c.GovernanceRefresh:
		fail("governance-max-staleness: must be at least twice governance-refresh (%s), got %s, or 0 for no limit",
			c.GovernanceRefresh, c.GovernanceMaxStaleness)
	}

	if c.Workers < 1 || c.Workers > 64 {
		fail("workers: %d is out of range 1..64", c.Workers)
	}
	if c.Warehouse != "" && !strings.HasPrefix(c.Warehouse, "file:///") && !strings.HasPrefix(c.Warehouse, "s3://") {
		fail("warehouse: %q must be file:///absolute/dir or s3://bucket/prefix", c.Warehouse)
	}
	if c.S3Endpoint != "" && !strings.HasPrefix(c.S3Endpoint, "http://") && !strings.HasPrefix(c.S3Endpoint, "https://") {
		fail("s3-endpoint: %q must be an http:// or https:// URL", c.S3Endpoint)
	}

	if c.GradeTagKey == "" || strings.ContainsFunc(c.GradeTagKey, isSpaceOrControl) {
		fail("grade-tag-key: %q must be non-empty, without spaces or control characters", c.GradeTagKey)
	}
	if c.GradeLevels < 2 || c.GradeLevels > 9 {
		fail("grade-levels: %d is out of range 2..9", c.GradeLevels)
	}
	if len(c.GradeLabels) > 0 && len(c.GradeLabels) != c.GradeLevels {
		fail("gradeLabels: %d labels for %d grade levels; give exactly one per level, level 1 first",
			len(c.GradeLabels), c.GradeLevels)
	}
	for i, l := range c.GradeLabels {
		if strings.TrimSpace(l) == "" {
			fail("gradeLabels[%d]: must not be blank", i)
		}
	}

	names := make(map[string]int)
	hashes := make(map[[32]byte]int)
	for i, k := range c.APIKeys {
		field := fmt.Sprintf("apiKeys[%d] (%q)", i, k.Name)
		if k.Name == "" {
			fail("%s.name: must not be empty", field)
		} else if j, dup := names[k.Name]; dup {
			fail("%s.name: duplicate of apiKeys[%d]", field, j)
		} else {
			names[k.Name] = i
		}
		if j, dup := hashes[k.SHA256]; dup {
			fail("%s.sha256: same hash as apiKeys[%d]; every key must be different", field, j)
		} else {
			hashes[k.SHA256] = i
		}
		if i := slices.IndexFunc(k.Groups, isBlank); i >= 0 {
			fail("%s.groups[%d]: must not be blank", field, i)
		}
	}

	// Sorted, so that the same configuration always gives the same error.
	roles := make([]string, 0, len(c.Roles))
	for r := range c.Roles {
		roles = append(roles, string(r))
	}
	slices.Sort(roles)
	for _, r := range roles {
		if _, err := auth.ParseRole(r); err != nil {
			fail("roles.%s: %w", r, err)
		}
		if i := slices.IndexFunc(c.Roles[auth.Role(r)], isBlank); i >= 0 {
			fail("roles.%s[%d]: must not be blank", r, i)
		}
	}

	errs = append(errs, c.validateAlerts()...)

	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration:\n%w", errors.Join(errs...))
}

// checkAddr checks that addr is host:port with a numeric port and reports
// whether the host is a loopback one. An empty host (":8080") listens on
// every interface, so it is not loopback.
func checkAddr(addr string) (loopback bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("%q must be host:port ([host]:port for IPv6): %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return false, fmt.Errorf("%q: port %q must be a number from 0 to 65535", addr, port)
	}
	if strings.ContainsFunc(host, isSpaceOrControl) {
		return false, fmt.Errorf("%q: host %q must not contain spaces or control characters", addr, host)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// isSpaceOrControl reports whether r is white space or a control character.
func isSpaceOrControl(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// isBlank reports whether s is empty or only white space.
func isBlank(s string) bool {
	return strings.TrimSpace(s) == ""
}

// validateAlerts checks the alert settings and returns one error per wrong
// field. Webhook URLs are not echoed: their paths often carry tokens.
func (c *Config) validateAlerts() []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.AlertAttempts < 1 || c.AlertAttempts > 20 {
		fail("alert-attempts: %d is out of range 1..20", c.AlertAttempts)
	}
	if c.AlertBackoff <= 0 {
		fail("alert-backoff: must be positive, got %s", c.AlertBackoff)
	}
	if c.RetentionSweepInterval < 0 {
		fail("retention-sweep-interval: must not be negative, got %s", c.RetentionSweepInterval)
	}
	if c.AlertMaxBackoff < c.AlertBackoff {
		fail("alert-max-backoff: %s is less than alert-backoff %s", c.AlertMaxBackoff, c.AlertBackoff)
	}
	names := make(map[string]int)
	for i, w := range c.AlertWebhooks {
		field := fmt.Sprintf("alertWebhooks[%d] (%q)", i, w.Name)
		if w.Name == "" || strings.ContainsFunc(w.Name, isSpaceOrControl) {
			fail("%s.name: must be non-empty, without spaces or control characters", field)
		} else if j, dup := names[w.Name]; dup {
			fail("%s.name: duplicate of alertWebhooks[%d]", field, j)
		} else {
			names[w.Name] = i
		}
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("%s.url: must be an absolute http:// or https:// URL (the value is not shown; it has %d characters)", field, len(w.URL))
		}
		if !isEnvName(w.SecretEnv) {
			fail("%s.secretEnv: %q must name the environment variable holding the signing secret "+
				"(letters, digits and _, not starting with a digit); the secret itself never goes in the file", field, w.SecretEnv)
		}
	}
	return errs
}

// isEnvName reports whether s is a portable environment variable name.
func isEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}
