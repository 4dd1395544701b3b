package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// dsnEnv names the environment variable holding the DSN of a PostgreSQL
// database that the tests may create schemas in.
const dsnEnv = "LAKEPLANE_TEST_POSTGRES_DSN"

// freshSchema creates a schema with a random name in the test database,
// drops it when the test ends, and returns a DSN whose search_path is that
// schema, so that tests, parallel packages and reruns never share tables.
func freshSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv(dsnEnv)
	if base == "" {
		t.Skip(dsnEnv + " is not set; set it to a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable, to run the PostgreSQL store tests")
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("%s: %v", dsnEnv, err)
	}
	admin := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { admin.Close() })

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "lakeplane_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath returns dsn with its search_path runtime parameter set to
// schema.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", dsnEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema // key=value form
}

// openFresh opens a store on a fresh schema; it is closed before the schema
// is dropped.
func openFresh(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), freshSchema(t))
	return storetest.Opened(t, s, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

func TestLifecycle(t *testing.T) {
	storetest.RunLifecycle(t, func(t *testing.T) storetest.Opener {
		dsn := freshSchema(t)
		return func() (store.Store, error) { return Open(context.Background(), dsn) }
	})
}

// TestSchemaIsolation checks that the search_path in the DSN keeps the
// store's tables in its own schema.
func TestSchemaIsolation(t *testing.T) {
	ctx := context.Background()
	a, b := openFresh(t), openFresh(t)
	if _, err := a.CreateDataset(ctx, storetest.FullDataset("sales.clients")); err != nil {
		t.Fatalf("CreateDataset: %v", err)
	}
	page, err := b.ListDatasets(ctx, store.ListDatasetsOptions{})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	if len(page.Items) != 0 {
		t.Errorf("other schema lists %d datasets, want 0", len(page.Items))
	}
}

// TestClaimsAcrossReplicas checks that replicas sharing one database, each
// with its own connection pool, claim every job once: the exclusion comes
// from PostgreSQL's row locks, not from anything in one process.
func TestClaimsAcrossReplicas(t *testing.T) {
	dsn := freshSchema(t)
	var replicas []store.Store
	for range 2 {
		s, err := Open(context.Background(), dsn)
		replicas = append(replicas, storetest.Opened(t, s, err))
	}
	storetest.CheckExclusiveClaims(t, replicas...)
}

func TestOpenBadDSN(t *testing.T) {
	if s, err := Open(context.Background(), "postgres://%zz"); err == nil {
		s.Close()
		t.Error("Open with a malformed DSN succeeded")
	}
}
