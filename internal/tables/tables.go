// Package tables owns the Iceberg side of a dataset: the table that holds its
// rows, in an Iceberg SQL catalog kept in the control plane's own database
// (SQLite or PostgreSQL), with Parquet data files under a warehouse location
// (file:///dir by default, or s3://bucket/prefix).
//
// Every table it makes is format version 2 and copy-on-write: no operation
// of this package ever writes a delete file. That keeps every read a plain
// scan of data files, and it keeps clear of apache/iceberg-go#2042 (a
// copy-on-write rewrite of a file that delete files already apply to brings
// the deleted rows back). A table that has delete files anyway (written by
// another engine) is refused by Write.
//
// Each Write is one atomic Iceberg commit: the records are streamed into
// Parquet files, the files are committed in one snapshot, and on any error
// or cancellation the table stays exactly as it was and the files written
// for it are removed.
package tables

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// catalogName is the catalog_name key of every row this package writes to
// the iceberg_tables and iceberg_namespace_properties tables.
const catalogName = "lakeplane"

// Errors a caller can tell apart with errors.Is. ErrNotFound and
// ErrAlreadyExists wrap the store's sentinels, so the gRPC edge maps them to
// NOT_FOUND and ALREADY_EXISTS as it does for datasets.
var (
	ErrNotFound      = fmt.Errorf("table %w", store.ErrNotFound)
	ErrAlreadyExists = fmt.Errorf("table %w", store.ErrAlreadyExists)
	// ErrDuplicateKey marks an upsert whose input holds one primary key
	// twice. The error also carries a fault.FieldError naming the key.
	ErrDuplicateKey = errors.New("duplicate primary key")
)

// Catalog is the Iceberg catalog of the lake's datasets. It is safe for
// concurrent use, also by several processes sharing one database.
type Catalog struct {
	cat       *sqlcat.Catalog
	warehouse string
	opts      options
	// versions reaches the old versions of objects in a versioned bucket
	// (a pointer: the catalog is copied with other options).
	versions *s3Versions
}

// Option tunes a Catalog.
type Option func(*options)

type options struct {
	targetFileSize int64
	commitAttempts int
	ioProps        map[string]string
	subjectBuckets int // see WithSubjectKeyBuckets
}

// Defaults of the options.
const (
	// DefaultTargetFileSize is the size at which a data file is closed and
	// the next one started.
	DefaultTargetFileSize = 128 << 20
	// DefaultCommitAttempts is how many times a write tries to commit when
	// other writers keep committing first.
	DefaultCommitAttempts = 20
)

// WithTargetFileSize sets the size in bytes at which Write rolls over to a
// new data file (default DefaultTargetFileSize).
func WithTargetFileSize(bytes int64) Option {
	return func(o *options) {
		if bytes > 0 {
			o.targetFileSize = bytes
		}
	}
}

// WithCommitAttempts sets how many times a write tries to commit before it
// gives up on a table that other writers keep changing (default
// DefaultCommitAttempts).
func WithCommitAttempts(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.commitAttempts = n
		}
	}
}

// WithIOProperties passes properties to iceberg-go's file IO (for an
// s3:// warehouse: "s3.region", "s3.endpoint", and so on).
func WithIOProperties(props map[string]string) Option {
	return func(o *options) {
		for k, v := range props {
			if o.ioProps == nil {
				o.ioProps = map[string]string{}
			}
			o.ioProps[k] = v
		}
	}
}

// Open returns the catalog kept in db, creating its two tables
// (iceberg_tables, iceberg_namespace_properties) if they are missing.
// dialect is "sqlite" or "postgres"; warehouse is the location under which
// tables are made, such as "file:///var/lib/lakeplane/warehouse".
//
// A SQLite db must be in WAL mode with a busy timeout on every connection
// (e.g. "file:x.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)");
// Open turns WAL on if it is off and refuses a db without a busy timeout.
// The caller keeps owning db.
func Open(ctx context.Context, db *sql.DB, dialect string, warehouse string, opts ...Option) (*Catalog, error) {
	o := options{targetFileSize: DefaultTargetFileSize, commitAttempts: DefaultCommitAttempts}
	for _, opt := range opts {
		opt(&o)
	}
	var d sqlcat.SupportedDialect
	switch dialect {
	case "sqlite":
		d = sqlcat.SQLite
		if err := checkSQLite(ctx, db); err != nil {
			return nil, err
		}
	case "postgres":
		d = sqlcat.Postgres
	default:
		return nil, fmt.Errorf("tables: unsupported dialect %q (want sqlite or postgres)", dialect)
	}
	wh, err := checkWarehouse(warehouse)
	if err != nil {
		return nil, err
	}
	props := iceberg.Properties{"warehouse": wh, "init_catalog_tables": "false"}
	for k, v := range o.ioProps {
		props[k] = v
	}
	cat, err := sqlcat.NewCatalog(catalogName, db, d, props)
	if err != nil {
		return nil, fmt.Errorf("tables: open catalog: %w", err)
	}
	// Several replicas may start at once; on PostgreSQL two concurrent
	// CREATE TABLE IF NOT EXISTS can still collide, so try twice.
	if err := cat.CreateSQLTables(ctx); err != nil {
		if err = cat.CreateSQLTables(ctx); err != nil {
			return nil, fmt.Errorf("tables: create catalog tables: %w", err)
		}
	}
	return &Catalog{cat: cat, warehouse: wh, opts: o, versions: &s3Versions{}}, nil
}

// checkSQLite makes sure a SQLite database is in WAL mode and waits for
// locks instead of failing at once.
func checkSQLite(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("tables: sqlite journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
			return fmt.Errorf("tables: sqlite: turn on WAL: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			return fmt.Errorf("tables: sqlite database cannot run in WAL mode (journal mode %q)", mode)
		}
	}
	var timeout int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		return fmt.Errorf("tables: sqlite busy timeout: %w", err)
	}
	if timeout <= 0 {
		return errors.New("tables: sqlite database has no busy timeout; open it with _pragma=busy_timeout(5000) in the DSN so that every connection waits for locks")
	}
	return nil
}

// checkWarehouse accepts an absolute URL (file:///abs/dir, s3://bucket/prefix)
// and returns it without a trailing slash.
func checkWarehouse(warehouse string) (string, error) {
	u, err := url.Parse(warehouse)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("tables: warehouse %q is not a URL such as file:///abs/dir or s3://bucket/prefix", warehouse)
	}
	if u.Scheme == "file" && (u.Host != "" || !strings.HasPrefix(u.Path, "/")) {
		return "", fmt.Errorf("tables: warehouse %q: a file location must be file:///absolute/path", warehouse)
	}
	if u.Scheme != "file" && u.Host == "" {
		return "", fmt.Errorf("tables: warehouse %q names no bucket", warehouse)
	}
	return strings.TrimRight(warehouse, "/"), nil
}

// Close releases what the catalog holds; the database handle stays open.
func (c *Catalog) Close() error { return c.cat.Close() }

// ident turns a dataset id ("namespace.table") into an Iceberg identifier.
func ident(id string) (table.Identifier, error) {
	if err := dataset.ValidateID(id); err != nil {
		return nil, fault.Invalid("id", "%v", err)
	}
	ns, name, _ := dataset.SplitID(id)
	return table.Identifier{ns, name}, nil
}

// load loads the table of dataset id.
func (c *Catalog) load(ctx context.Context, id string) (*table.Table, error) {
	ident, err := ident(id)
	if err != nil {
		return nil, err
	}
	tbl, err := c.cat.LoadTable(ctx, ident)
	if err != nil {
		if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
			return nil, fmt.Errorf("dataset %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("dataset %s: load table: %w", id, err)
	}
	return tbl, nil
}

// Create makes the table of d: its schema (field ids 1..n in column order,
// required where a column is not nullable), its partition spec (d's, or
// buckets of the subject key: see WithSubjectKeyBuckets), its primary
// key as identifier fields, and the properties of a copy-on-write,
// format-version-2 table (see tableProperties). The namespace is created if
// missing. A table that already exists is an error wrapping ErrAlreadyExists.
func (c *Catalog) Create(ctx context.Context, d *dataset.Dataset) error {
	ident, err := ident(d.ID)
	if err != nil {
		return err
	}
	sc, err := icebergSchema(d)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", d.ID, err)
	}
	spec, err := partitionSpec(c.layoutOf(d), sc)
	if err != nil {
		return fmt.Errorf("dataset %s: %w", d.ID, err)
	}
	if err := c.ensureNamespace(ctx, ident[:1]); err != nil {
		return fmt.Errorf("dataset %s: %w", d.ID, err)
	}
	_, err = c.cat.CreateTable(ctx, ident, sc,
		catalog.WithPartitionSpec(&spec),
		catalog.WithProperties(tableProperties(d, c.opts)))
	switch {
	case errors.Is(err, catalog.ErrTableAlreadyExists):
		return fmt.Errorf("dataset %s: %w", d.ID, ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("dataset %s: create table: %w", d.ID, err)
	}
	return nil
}

func (c *Catalog) ensureNamespace(ctx context.Context, ns table.Identifier) error {
	ok, err := c.cat.CheckNamespaceExists(ctx, ns)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns[0], err)
	}
	if ok {
		return nil
	}
	err = c.cat.CreateNamespace(ctx, ns, nil)
	if err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fmt.Errorf("create namespace %s: %w", ns[0], err)
	}
	return nil
}

// Drop removes the table of dataset id from the catalog. With purge it also
// deletes every file under the table's location (data, manifests, metadata),
// so nothing of the table remains.
func (c *Catalog) Drop(ctx context.Context, id string, purge bool) error {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return err
	}
	if err := c.cat.DropTable(ctx, tbl.Identifier()); err != nil {
		if errors.Is(err, catalog.ErrNoSuchTable) {
			return fmt.Errorf("dataset %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("dataset %s: drop table: %w", id, err)
	}
	if !purge {
		return nil
	}
	// The catalog entry is gone: from here on the files are garbage, and a
	// failure leaves garbage, not a broken table.
	if err := tbl.PurgeFiles(ctx); err != nil {
		return fmt.Errorf("dataset %s: dropped, but purging its files failed: %w", id, err)
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("dataset %s: dropped, but purging its files failed: %w", id, err)
	}
	// PurgeFiles leaves the (empty) directories of a local location. The
	// location must be the table's own, under the warehouse, before
	// anything is removed recursively.
	if rm, ok := fs.(icebergio.RemoveAllIO); ok && strings.HasPrefix(tbl.Location(), c.warehouse+"/") {
		if err := rm.RemoveAll(tbl.Location()); err != nil {
			return fmt.Errorf("dataset %s: dropped, but removing %s failed: %w", id, tbl.Location(), err)
		}
	}
	return nil
}

// summaryInt reads an integer property of a snapshot summary; absent or
// malformed is 0.
func summaryInt(s *table.Snapshot, key string) int64 {
	if s == nil || s.Summary == nil {
		return 0
	}
	n, _ := strconv.ParseInt(s.Summary.Properties[key], 10, 64)
	return n
}
