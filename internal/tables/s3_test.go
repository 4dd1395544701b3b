package tables

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

// TestS3Warehouse runs a table's life on an s3:// warehouse, against an
// S3-compatible server in memory.
func TestS3Warehouse(t *testing.T) {
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
	mustWrite(t, c, d.ID, Append, reader(t, d, genRange(0, 100, 1)), map[string]string{"lakeplane.job-id": "j"})
	mustWrite(t, c, d.ID, Upsert, reader(t, d, genRange(50, 150, 2)), nil)
	got := readAll(t, c, d.ID)
	if len(got) != 150 || *got[49].Visits != 1 || *got[50].Visits != 2 {
		t.Fatalf("%d rows after append and upsert", len(got))
	}
	tbl, err := c.load(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if loc := tbl.Location(); loc != "s3://lake/warehouse/crm.db/customers" {
		t.Errorf("location %s", loc)
	}

	objects := func() []string {
		fsys, err := icebergio.LoadFS(ctx, c.opts.ioProps, "s3://lake/warehouse")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		err = fsys.(icebergio.ListableIO).WalkDir("s3://lake/warehouse", func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err == nil && !d.IsDir() {
				out = append(out, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// A file no snapshot references (say, left by a crashed writer) is
	// under the location too: purge removes it as well.
	fsys, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.(icebergio.WriteFileIO).WriteFile(tbl.Location()+"/data/orphan.parquet", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if n := len(objects()); n < 5 {
		t.Errorf("%d objects in the warehouse, want data and metadata files", n)
	}
	if err := c.Drop(ctx, d.ID, true); err != nil {
		t.Fatal(err)
	}
	if left := objects(); len(left) != 0 {
		t.Errorf("purge left %v", left)
	}
}
