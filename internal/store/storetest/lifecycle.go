package storetest

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
)

// Migrated is what a store that migrates its schema at open tells about it.
type Migrated interface {
	// MigrationVersions returns the versions of the applied migrations, in
	// ascending order.
	MigrationVersions(ctx context.Context) ([]int64, error)
}

// Opener opens a store on one database; each call opens it again.
type Opener func() (store.Store, error)

// RunLifecycle checks what happens across opens of one database: data
// survives a close and a reopen, migrations are applied once however often
// the store is opened, and replicas that open an empty database at once all
// succeed. fresh must prepare a new, empty database (arranging its removal
// with t.Cleanup) and return an Opener for it. The stores opened must
// implement Migrated.
func RunLifecycle(t *testing.T, fresh func(t *testing.T) Opener) {
	t.Run("Reopen", func(t *testing.T) {
		t.Parallel()
		testReopen(t, fresh(t))
	})
	t.Run("ConcurrentOpen", func(t *testing.T) {
		t.Parallel()
		testConcurrentOpen(t, fresh(t))
	})
}

// Opened is for an adapter test's open function: it fails the test when the
// store could not be opened (err != nil), and otherwise closes the store at
// the end of the test and returns it.
func Opened[S store.Store](t *testing.T, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustOpen opens a store and fails the test on error.
func mustOpen(t *testing.T, open Opener) store.Store {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// mustClose closes s and fails the test on error.
func mustClose(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// migrations returns the migration versions s reports, failing the test
// when it reports none or does not start at 1.
func migrations(t *testing.T, s store.Store) []int64 {
	t.Helper()
	m, ok := s.(Migrated)
	if !ok {
		t.Fatalf("%T does not implement storetest.Migrated", s)
	}
	vs, err := m.MigrationVersions(context.Background())
	if err != nil {
		t.Fatalf("MigrationVersions: %v", err)
	}
	if len(vs) == 0 || vs[0] != 1 {
		t.Fatalf("migrations applied = %v, want 1 first", vs)
	}
	return vs
}

func testReopen(t *testing.T, open Opener) {
	s := mustOpen(t, open)
	created := mustCreate(t, s, FullDataset("sales.clients"))
	first := migrations(t, s)
	mustClose(t, s)

	for i := range 2 {
		s := mustOpen(t, open)
		if got := mustGet(t, s, created.ID); !reflect.DeepEqual(got, created) {
			t.Errorf("open %d: dataset after reopen:\n got %#v\nwant %#v", i+2, got, created)
		}
		if again := migrations(t, s); !slices.Equal(again, first) {
			t.Errorf("open %d: migrations = %v, want %v (each applied once)", i+2, again, first)
		}
		mustClose(t, s)
	}
}

func testConcurrentOpen(t *testing.T, open Opener) {
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	stores := make([]store.Store, replicas)
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = open() })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("replica %d: open: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { s.Close() })
	}
	if t.Failed() {
		return
	}
	want := migrations(t, stores[0])
	for i, s := range stores[1:] {
		if got := migrations(t, s); !slices.Equal(got, want) {
			t.Errorf("replica %d sees migrations %v, want %v", i+1, got, want)
		}
	}
	// Every replica sees the others' writes.
	created := mustCreate(t, stores[1], FullDataset("sales.clients"))
	if got := mustGet(t, stores[replicas-1], created.ID); !reflect.DeepEqual(got, created) {
		t.Errorf("replica %d reads:\n got %#v\nwant %#v", replicas-1, got, created)
	}
}
