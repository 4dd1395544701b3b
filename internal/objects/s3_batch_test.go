package objects_test

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

func TestS3StoreDeleteBatchReportsEveryKeyError(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f) // three keys per DeleteObjects call
	var uris []string
	for i := range 8 {
		uri := fmt.Sprintf("s3://lake/d/%d.csv", i)
		objectstest.Put(t, s, uri, []byte("x"))
		uris = append(uris, uri)
	}
	f.FailDeletes("lake", "d/2.csv", "d/6.csv")
	before := f.Deletes.Load()
	failed := objects.DeleteBatch(t.Context(), s, uris)
	if calls := f.Deletes.Load() - before; calls != 3 {
		t.Errorf("deleting 8 keys 3 to a call took %d DeleteObjects calls, want 3", calls)
	}
	var got []string
	for _, e := range failed {
		got = append(got, e.URI)
		if !strings.Contains(e.Error(), "AccessDenied") || !strings.Contains(e.Error(), e.URI) {
			t.Errorf("failure %s: %v, want AccessDenied naming the URI", e.URI, e.Err)
		}
	}
	if want := []string{"s3://lake/d/2.csv", "s3://lake/d/6.csv"}; !slices.Equal(got, want) {
		t.Errorf("failed = %q, want %q", got, want)
	}
	if left := objectstest.URIs(objectstest.List(t, s, "s3://lake/d/")); !slices.Equal(left, got) {
		t.Errorf("left after DeleteBatch: %q, want only the failed %q", left, got)
	}
}

func TestS3StoreDeleteBatchDefaultsToThousand(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	s := s3Store(t, f, func(o *objects.S3Options) { o.DeleteBatchSize = 0 })
	uris := make([]string, 2001)
	for i := range uris {
		uris[i] = fmt.Sprintf("s3://lake/none/%04d.csv", i)
	}
	if failed := objects.DeleteBatch(t.Context(), s, uris); len(failed) != 0 {
		t.Fatalf("DeleteBatch of absent keys failed: %v", failed[0])
	}
	// The fake counts HTTP requests: the SDK may retry one whose connection
	// the fake closed, so a fourth request is tolerated; a wrong batch size
	// would make hundreds (or, above 1,000 keys a call, fewer than 3).
	if calls := f.Deletes.Load(); calls < 3 || calls > 4 {
		t.Errorf("deleting 2001 keys took %d DeleteObjects requests, want 3 (1000, 1000, 1) and at most one retry", calls)
	}
}

func TestS3StoreCopyInParts(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake", "other")
	s := s3Store(t, f) // copies above MinPartSize go in MinPartSize parts
	data := objectstest.Body(11, objectstest.LargeSize)
	objectstest.Put(t, s, "s3://lake/big.bin", data)
	info, err := s.Copy(t.Context(), "s3://lake/big.bin", "s3://other/moved/big.bin")
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if f.PartCopies.Load() != 3 || f.Copies.Load() != 0 {
		t.Errorf("a %d-byte copy made %d UploadPartCopy and %d CopyObject calls, want 3 and 0", len(data), f.PartCopies.Load(), f.Copies.Load())
	}
	got, _ := objectstest.Get(t, s, "s3://other/moved/big.bin", nil)
	if info.Size != int64(len(data)) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Errorf("the multipart copy holds %d bytes that differ from the %d copied", len(got), len(data))
	}
	objectstest.Put(t, s, "s3://lake/small.csv", []byte("a,b\n"))
	if _, err := s.Copy(t.Context(), "s3://lake/small.csv", "s3://lake/small2.csv"); err != nil {
		t.Fatalf("Copy small: %v", err)
	}
	if f.Copies.Load() != 1 || f.PartCopies.Load() != 3 {
		t.Errorf("a small copy made %d CopyObject calls (%d part copies), want 1 (3)", f.Copies.Load(), f.PartCopies.Load())
	}
}

func TestS3StoreVersions(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	f.EnableVersioning(t, "lake")
	// gofakes3 pages versions without NextKeyMarker; list them in one page.
	s := s3Store(t, f, func(o *objects.S3Options) { o.ListPageSize = 0 })
	objectstest.Put(t, s, "s3://lake/v/a.csv", []byte("1"))
	objectstest.Put(t, s, "s3://lake/v/a.csv", []byte("22"))
	objectstest.Put(t, s, "s3://lake/v/b.csv", []byte("333"))
	objectstest.Put(t, s, "s3://lake/w/c.csv", []byte("4444"))
	var versions []objects.Version
	for v, err := range objects.ListVersions(t.Context(), s, "s3://lake/v/") {
		if err != nil {
			t.Fatalf("ListVersions: %v", err)
		}
		versions = append(versions, v)
	}
	if len(versions) != 3 {
		t.Fatalf("ListVersions = %+v, want 3 versions", versions)
	}
	if versions[0].URI != "s3://lake/v/a.csv" || !versions[0].Latest || versions[0].Size != 2 ||
		versions[1].URI != "s3://lake/v/a.csv" || versions[1].Latest || versions[1].Size != 1 {
		t.Errorf("versions of a.csv = %+v, %+v; want the latest (2 bytes) first, then the noncurrent one", versions[0], versions[1])
	}
	if failed := objects.DeleteVersions(t.Context(), s, versions); len(failed) != 0 {
		t.Fatalf("DeleteVersions: %v", failed)
	}
	for v, err := range objects.ListVersions(t.Context(), s, "s3://lake/v/") {
		t.Errorf("after DeleteVersions a version remains: %+v (%v)", v, err)
	}
	if got := objectstest.URIs(objectstest.List(t, s, "s3://lake/")); !slices.Equal(got, []string{"s3://lake/w/c.csv"}) {
		t.Errorf("after DeleteVersions List = %q, want only w/c.csv", got)
	}
}

func TestFileStoreHasNoVersions(t *testing.T) {
	s := newFileStore(t, t.TempDir())
	for _, err := range objects.ListVersions(t.Context(), s, "file:///x/") {
		if err == nil || !strings.Contains(err.Error(), objects.ErrNoVersions.Error()) {
			t.Errorf("ListVersions on a FileStore: %v, want ErrNoVersions", err)
		}
	}
}
