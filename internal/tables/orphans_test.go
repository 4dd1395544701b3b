package tables

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

// writeUncommitted writes rows into new data files of the table of id and
// stops there, as a process that crashed before its commit does, and
// returns the files' local paths.
func writeUncommitted(t *testing.T, c *Catalog, d *dataset.Dataset, rows []customer) []string {
	t.Helper()
	ctx := context.Background()
	tbl, err := c.load(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{c: c, id: d.ID, tableUUID: tbl.Metadata().TableUUID(), written: map[string]struct{}{}}
	rdr := reader(t, d, rows)
	files, err := w.writeFiles(ctx, tbl, rdr.Schema(), w.input(ctx, tbl, rdr, nil))
	if err != nil || len(files) == 0 {
		t.Fatalf("writeFiles = %d files, %v", len(files), err)
	}
	var out []string
	for _, df := range files {
		out = append(out, strings.TrimPrefix(df.FilePath(), "file://"))
	}
	return out
}

// age sets the modification time of files to d ago.
func age(t *testing.T, d time.Duration, files ...string) {
	t.Helper()
	when := time.Now().Add(-d)
	for _, f := range files {
		if err := os.Chtimes(f, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// countRows counts the rows of a snapshot (0: the current one).
func countRows(t *testing.T, c *Catalog, id string, snapshotID int64) int64 {
	t.Helper()
	var n int64
	if _, err := c.Read(context.Background(), id, snapshotID, func(rec arrow.RecordBatch) error {
		n += rec.NumRows()
		return nil
	}); err != nil {
		t.Fatalf("Read snapshot %d: %v", snapshotID, err)
	}
	return n
}

func TestRemoveOrphans(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *Catalog, dir string) {
		ctx := context.Background()
		d := customers("crm.customers")
		mustCreate(t, c, d)
		if n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("RemoveOrphans of a table without data = %d, %v", n, err)
		}
		first := mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 50, 1)), nil)
		mustWrite(t, c, d.ID, Upsert, reader(t, d, genRange(25, 75, 2)), nil)
		// The overwrite leaves the files of the first two snapshots
		// referenced by those snapshots only: they must stay.
		mustWrite(t, c, d.ID, Overwrite, reader(t, d, genRange(100, 140, 3)), nil)
		committed := filesUnder(t, dir, ".parquet")
		metadata := filesUnder(t, filepath.Join(dir, "crm", "customers", "metadata"), "")
		want := readAll(t, c, d.ID)

		// Orphans: the files of a write that crashed before its commit,
		// and a Parquet file planted under the data directory.
		crashed := writeUncommitted(t, c, d, genRange(200, 260, 4))
		body, err := os.ReadFile(committed[0])
		if err != nil {
			t.Fatal(err)
		}
		planted := filepath.Join(filepath.Dir(committed[0]), "00000-0-planted.parquet")
		if err := os.WriteFile(planted, body, 0o644); err != nil {
			t.Fatal(err)
		}
		old := append([]string{planted}, crashed...)
		age(t, 2*time.Hour, old...)
		// A fresh orphan is younger than the guard.
		fresh := writeUncommitted(t, c, d, genRange(300, 310, 5))
		age(t, 2*time.Hour, committed...)

		n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(-time.Hour))
		if err != nil || n != len(old) {
			t.Fatalf("RemoveOrphans(an hour ago) = %d, %v; want the %d old orphans", n, err, len(old))
		}
		left := filesUnder(t, dir, ".parquet")
		if wantLeft := slices.Sorted(slices.Values(append(slices.Clone(committed), fresh...))); !slices.Equal(left, wantLeft) {
			t.Fatalf("files left:\n%s\nwant:\n%s", strings.Join(left, "\n"), strings.Join(wantLeft, "\n"))
		}

		n, err = c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Minute))
		if err != nil || n != len(fresh) {
			t.Fatalf("RemoveOrphans(now) = %d, %v; want the %d fresh orphans", n, err, len(fresh))
		}
		if left := filesUnder(t, dir, ".parquet"); !slices.Equal(left, committed) {
			t.Errorf("files left:\n%s\nwant the committed ones:\n%s", strings.Join(left, "\n"), strings.Join(committed, "\n"))
		}
		if after := filesUnder(t, filepath.Join(dir, "crm", "customers", "metadata"), ""); !slices.Equal(after, metadata) {
			t.Errorf("metadata files changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(metadata, "\n"))
		}

		// The table reads the same, and so does its history.
		got := readAll(t, c, d.ID)
		if len(got) != len(want) {
			t.Fatalf("%d rows, want %d", len(got), len(want))
		}
		for id, r := range want {
			if describe(got[id]) != describe(r) {
				t.Errorf("row %d = %s, want %s", id, describe(got[id]), describe(r))
			}
		}
		if n := countRows(t, c, d.ID, first); n != 50 {
			t.Errorf("first snapshot reads %d rows, want 50", n)
		}
		if n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour)); err != nil || n != 0 {
			t.Errorf("RemoveOrphans again = %d, %v; want nothing to do", n, err)
		}
	})
}

// TestRemoveOrphansSparesRunningWrites checks that the files of a write
// running in this process are never taken, whatever olderThan says.
func TestRemoveOrphansSparesRunningWrites(t *testing.T) {
	ctx := context.Background()
	c, dir := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 10, 1)), nil)
	committed := filesUnder(t, dir, ".parquet")
	tbl, err := c.load(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}

	running := &writer{tableUUID: tbl.Metadata().TableUUID()}
	inflight.begin(running)
	pending := writeUncommitted(t, c, d, genRange(10, 20, 1))
	n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour))
	inflight.end(running)
	if err != nil || n != 0 {
		t.Fatalf("RemoveOrphans during a write = %d, %v; want 0", n, err)
	}
	for _, f := range pending {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a running write's file is gone: %v", err)
		}
	}
	if n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour)); err != nil || n != len(pending) {
		t.Fatalf("RemoveOrphans after the write = %d, %v; want %d", n, err, len(pending))
	}
	if left := filesUnder(t, dir, ".parquet"); !slices.Equal(left, committed) {
		t.Errorf("files left:\n%s\nwant the committed ones:\n%s", strings.Join(left, "\n"), strings.Join(committed, "\n"))
	}
	if n := countRows(t, c, d.ID, 0); n != 10 {
		t.Errorf("%d rows, want 10", n)
	}
}

// TestRemoveOrphansS3 sweeps a table on an s3:// warehouse, whose listing
// names objects by full URI, against an S3-compatible server in memory.
func TestRemoveOrphansS3(t *testing.T) {
	ctx := context.Background()
	fake := objectstest.NewFakeS3(t, "lake")
	db, _ := sqliteDB(t)
	c, err := Open(ctx, db, "sqlite", "s3://lake/warehouse/", WithS3(fake.URL, "us-east-1", true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := customers("crm.customers")
	mustCreate(t, c, d)
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 100, 1)), nil)
	mustWrite(t, c, d.ID, Upsert, reader(t, d, genRange(50, 150, 2)), nil)
	crashed := writeUncommitted(t, c, d, genRange(200, 230, 3))
	tbl, err := c.load(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	planted := tbl.Location() + "/data/planted.parquet"
	if err := fsys.(icebergio.WriteFileIO).WriteFile(planted, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// Object times are the server's; a cutoff ahead of now takes them.
	n, err := c.RemoveOrphans(ctx, d.ID, time.Now().Add(time.Hour))
	if err != nil || n != len(crashed)+1 {
		t.Fatalf("RemoveOrphans = %d, %v; want %d", n, err, len(crashed)+1)
	}
	if _, err := fsys.Open(planted); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("planted orphan still there: %v", err)
	}
	if got := readAll(t, c, d.ID); len(got) != 150 || *got[50].Visits != 2 {
		t.Errorf("%d rows after the sweep, want 150", len(got))
	}
	if n := countRows(t, c, d.ID, mustSnapshots(t, c, d.ID)[1].ID); n != 100 {
		t.Errorf("first snapshot reads %d rows, want 100", n)
	}
}
