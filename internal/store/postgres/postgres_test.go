package postgres

import (
	"context"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// openFresh opens a store on a fresh schema; it is closed before the schema
// is dropped.
func openFresh(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.FreshSchema(t))
	return storetest.Opened(t, s, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

func TestLifecycle(t *testing.T) {
	storetest.RunLifecycle(t, func(t *testing.T) storetest.Opener {
		dsn := pgtest.FreshSchema(t)
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
	dsn := pgtest.FreshSchema(t)
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
