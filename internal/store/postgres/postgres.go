// Package postgres is the store adapter for PostgreSQL, through pgx v5 and
// its database/sql driver. Several control-plane replicas may share one
// database: migrations take a transaction-scoped advisory lock.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlstore"
)

// migrations holds the schema, in the layout sqlstore.Open reads.
//
//go:embed migrations/*.sql
var migrations embed.FS

// uniqueViolation is the SQLSTATE of a unique or primary key violation.
const uniqueViolation = "23505"

// migrationLock serialises the replicas that migrate one schema at once. The
// lock is keyed by the current schema, so that databases holding several
// schemas (one per test, for instance) do not wait for each other.
const migrationLock = `SELECT pg_advisory_xact_lock(hashtextextended('lakeplane.schema_migrations.' || coalesce(current_schema(), ''), 0))`

// Store is a store.Store kept in a PostgreSQL database.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database that dsn names (a URL or a
// key=value string, as libpq takes; runtime parameters such as search_path
// may be given in it), applies the migrations it lacks and returns a Store
// on it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	s, err := sqlstore.Open(ctx, db, dialect(), migrations)
	if err != nil {
		return nil, fmt.Errorf("open %s@%s/%s: %w", cfg.User, cfg.Host, cfg.Database, err)
	}
	return &Store{Store: s}, nil
}

// dialect describes PostgreSQL to the shared core.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "postgres",
		Placeholder:       sqlstore.DollarPlaceholder,
		IsUniqueViolation: isUniqueViolation,
		MigrationLock:     migrationLock,
		// Claimers lock the job they pick and pass over those that others
		// are taking, so that replicas claim in parallel.
		SkipLocked: "FOR UPDATE SKIP LOCKED",
	}
}

// isUniqueViolation reports whether err is a unique or primary key violation.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}
