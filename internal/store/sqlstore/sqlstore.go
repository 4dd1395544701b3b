// Package sqlstore is the SQL core shared by the store adapters: it
// implements store.Store once on top of database/sql, and leaves what differs
// between databases (bind parameters, unique-violation detection, time
// encoding, migration locking, row locking for job claims, the schema itself)
// to a small Dialect that each adapter supplies together with its embedded
// migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/lakeplane/lakeplane/internal/store"
)

// Dialect describes what differs between the SQL databases the core serves.
type Dialect struct {
	// Name names the database in error messages, for example "sqlite".
	Name string
	// Placeholder returns the bind parameter for the n-th argument of a
	// statement, counted from 1 (for example "$1"). Nil means "?".
	Placeholder func(n int) string
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation.
	IsUniqueViolation func(err error) bool
	// MigrationLock, when not empty, is a statement run first in the
	// migration transaction that serialises replicas migrating at once.
	// It may be empty when beginning the transaction already does that.
	MigrationLock string
	// TimeArg converts a UTC time, truncated to microseconds, into the
	// argument that stores it. Nil passes the time.Time as it is. The core
	// reads times back from time.Time, or from RFC 3339 text.
	TimeArg func(t time.Time) any
	// SkipLocked, when not empty, ends the SELECT with which a write picks
	// a row to take (a job to claim): it locks the row it returns and
	// passes over rows that concurrent transactions locked, so that
	// concurrent claimers take different rows without waiting for each
	// other (PostgreSQL: "FOR UPDATE SKIP LOCKED"). It may be empty when
	// the database runs one write at a time anyway.
	SkipLocked string
}

// Store implements store.Store on a *sql.DB. Adapters embed it.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	q       queries
	jq      jobQueries
}

var _ store.Store = (*Store)(nil)

// MigrationsDir is the folder of the migrations FS that holds the
// migrations, one file each, named "<version>_<name>.sql" with a positive
// integer version.
const MigrationsDir = "migrations"

// Open migrates db with the migrations in fsys (see MigrationsDir) and
// returns a Store on it. Migrations are applied in version order, each once,
// inside one transaction. The Store takes ownership of db: its Close closes
// db, and so does a failed Open.
func Open(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) (*Store, error) {
	if d.IsUniqueViolation == nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s: dialect has no IsUniqueViolation", d.Name)
	}
	s := &Store{db: db, dialect: d, now: time.Now}
	s.q = newQueries(s.bind)
	s.jq = newJobQueries(s.bind, d.SkipLocked)
	if err := s.migrate(ctx, fsys); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// DB is the store's database handle, for the components that keep their own
// tables in the same database (the Iceberg SQL catalog).
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s: ping: %w", s.dialect.Name, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", s.dialect.Name, err)
	}
	return nil
}

// inTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise (also when fn panics). fn's error is returned as it is.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin transaction: %w", s.dialect.Name, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.dialect.Name, err)
	}
	committed = true
	return nil
}

// affected returns the number of rows that a statement run with ExecContext
// changed, or its error.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// readPage reads the page that a listing query returned: rows and queryErr
// are the query's results, and the query asked for size+1 rows, so that one
// more row than fits tells that another page follows. Then the page gets
// the token that token makes of its last item. readPage closes rows.
func readPage[T any](rows *sql.Rows, queryErr error, size int, scan func(scanner) (T, error), token func(last T) string) (store.Page[T], error) {
	var page store.Page[T]
	if queryErr != nil {
		return page, queryErr
	}
	defer rows.Close()
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, item)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	if len(page.Items) > size {
		page.Items = page.Items[:size]
		page.NextPageToken = token(page.Items[size-1])
	}
	return page, nil
}

// bind rewrites the "?" parameters of query into the dialect's placeholders.
// The core's statements hold no "?" other than parameters.
func (s *Store) bind(query string) string {
	if s.dialect.Placeholder == nil {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(s.dialect.Placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// timestamp returns the current time as the store keeps it: UTC, truncated
// to microseconds.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// timeArg converts t into the argument that stores it.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect.TimeArg == nil {
		return t
	}
	return s.dialect.TimeArg(t)
}

// DollarPlaceholder renders PostgreSQL's numbered parameters: $1, $2, ...
func DollarPlaceholder(n int) string {
	return "$" + strconv.Itoa(n)
}

// timeScanner scans a stored time into *t, whether the driver gives a
// time.Time or RFC 3339 text, as UTC truncated to microseconds.
type timeScanner struct{ t *time.Time }

// nullTimeScanner is a timeScanner that scans NULL as the zero time.
type nullTimeScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (ns nullTimeScanner) Scan(src any) error {
	if src == nil {
		*ns.t = time.Time{}
		return nil
	}
	return timeScanner(ns).Scan(src)
}

// Scan implements sql.Scanner.
func (ts timeScanner) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case time.Time:
		t = v
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("stored time %q: %w", v, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return fmt.Errorf("stored time %q: %w", v, err)
		}
		t = p
	default:
		return fmt.Errorf("stored time: unsupported type %T", src)
	}
	*ts.t = t.UTC().Truncate(time.Microsecond)
	return nil
}
