package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migration is one schema change, read from a file of the migrations FS.
type migration struct {
	version int64
	name    string
	sql     string
}

// loadMigrations reads the "<version>_<name>.sql" files in the folder
// MigrationsDir of fsys, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, MigrationsDir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		prefix, name, _ := strings.Cut(base, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must start with a positive version number", e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(MigrationsDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the migrations of fsys that schema_migrations does not
// record yet, in one transaction. The dialect's MigrationLock (or, for
// SQLite, the write lock the transaction takes) makes replicas that start at
// once wait for each other, so each migration runs exactly once.
func (s *Store) migrate(ctx context.Context, fsys fs.FS) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return fmt.Errorf("%s: %w", s.dialect.Name, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect.MigrationLock != "" {
			if _, err := tx.ExecContext(ctx, s.dialect.MigrationLock); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := readVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if slices.Contains(applied, m.version) {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %d_%s: %w", m.version, m.name, err)
			}
			at := s.timestamp().Format(time.RFC3339Nano)
			if _, err := tx.ExecContext(ctx, s.bind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				m.version, m.name, at); err != nil {
				return fmt.Errorf("record %d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: migrate: %w", s.dialect.Name, err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx share for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readVersions returns the versions recorded in schema_migrations, in
// ascending order.
func readVersions(ctx context.Context, q querier) ([]int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return vs, nil
}

// MigrationVersions returns the versions recorded in schema_migrations, in
// ascending order, so that adapters and tests can check what Open applied.
func (s *Store) MigrationVersions(ctx context.Context) ([]int64, error) {
	vs, err := readVersions(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.dialect.Name, err)
	}
	return vs, nil
}
