package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// openTemp opens a store on a fresh file in t.TempDir and closes it at the
// end of the test.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "lakeplane.db"))
	return storetest.Opened(t, s, err)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestLifecycle(t *testing.T) {
	storetest.RunLifecycle(t, func(t *testing.T) storetest.Opener {
		// A path with the characters that file: URIs reserve.
		path := filepath.Join(t.TempDir(), "dir with space?#%", "lakeplane.db")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		return func() (store.Store, error) { return Open(context.Background(), path) }
	})
}

// TestClaimsAcrossStores checks that stores opened on one file, as separate
// processes would, claim every job once: SQLite's write lock makes each
// claim exclusive.
func TestClaimsAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lakeplane.db")
	var stores []store.Store
	for range 2 {
		s, err := Open(context.Background(), path)
		stores = append(stores, storetest.Opened(t, s, err))
	}
	storetest.CheckExclusiveClaims(t, stores...)
}

// TestPragmas checks the settings that the DSN gives every connection.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "lakeplane.db")))
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	for pragma, want := range map[string]string{
		"journal_mode":  "wal",
		"foreign_keys":  "1",
		"busy_timeout":  "5000",
		"secure_delete": "1",
	} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenRejectsNonFile(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}
