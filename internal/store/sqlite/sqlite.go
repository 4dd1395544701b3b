// Package sqlite is the store adapter for a single SQLite database file,
// through the pure-Go driver modernc.org/sqlite. It suits one control-plane
// replica; use the postgres adapter to run several.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlstore"
)

// migrations holds the schema, in the layout sqlstore.Open reads.
//
//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long a connection waits for another's write lock
// before it fails with SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a store.Store kept in a SQLite database file.
type Store struct {
	*sqlstore.Store
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database file at path,
// applies the migrations it lacks and returns a Store on it. The database
// runs in WAL mode with foreign keys and secure_delete on; transactions begin IMMEDIATE, so
// that concurrent writers queue on the write lock (for up to 5 s) instead of
// failing.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	// While another connection turns a new file to WAL mode, SQLite may
	// answer SQLITE_BUSY at once rather than through the busy handler: try
	// again for as long as the busy timeout.
	deadline := time.Now().Add(busyTimeout)
	for {
		s, err := open(ctx, path)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: open %q: %w (after %w)", path, ctx.Err(), err)
		case <-time.After(busyRetryDelay):
		}
	}
}

// busyRetryDelay is how long Open waits before it tries again after
// SQLITE_BUSY.
const busyRetryDelay = 20 * time.Millisecond

// open is one attempt of Open.
func open(ctx context.Context, path string) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	s, err := sqlstore.Open(ctx, db, dialect(), migrations)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", path, err)
	}
	return &Store{Store: s}, nil
}

// dsn returns the driver's data source name for the file at path: a "file:"
// URI, with the characters that URIs reserve escaped, and the connection
// settings as query parameters that the driver applies to every connection.
func dsn(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + escaped +
		"?_pragma=" + fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()) +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)" +
		// Deleted and overwritten rows leave zeros, not their old bytes,
		// in freed cells and pages (see PurgeRemnants).
		"&_pragma=secure_delete(1)" +
		"&_txlock=immediate"
}

// dialect describes SQLite to the shared core.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:              "sqlite",
		IsUniqueViolation: isUniqueViolation,
		// BEGIN IMMEDIATE takes the write lock: migrators queue on it.
		MigrationLock: "",
		TimeArg: func(t time.Time) any {
			return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		},
		// SQLite runs one write at a time: a claim, one statement, is
		// exclusive without row locks.
		SkipLocked: "",
	}
}

// isBusy reports whether err is SQLITE_BUSY, in any of its extended forms.
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint violation.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
