package objects_test

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

func TestS3StoreReadsNoncurrentVersions(t *testing.T) {
	f := objectstest.NewFakeS3(t, "lake")
	f.EnableVersioning(t, "lake")
	s := s3Store(t, f, func(o *objects.S3Options) { o.ListPageSize = 0 })
	objectstest.Put(t, s, "s3://lake/v/a.csv", []byte("first"))
	objectstest.Put(t, s, "s3://lake/v/a.csv", []byte("second"))
	if err := s.Delete(t.Context(), "s3://lake/v/a.csv"); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	markers := 0
	for v, err := range objects.ListVersions(t.Context(), s, "s3://lake/v/") {
		if err != nil {
			t.Fatal(err)
		}
		if v.DeleteMarker {
			markers++
			continue
		}
		rc, info, err := objects.ReadVersion(t.Context(), s, v.URI, v.VersionID)
		if err != nil {
			t.Fatalf("ReadVersion %s: %v", v.VersionID, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || info.Size != int64(len(b)) {
			t.Fatalf("read version %s: %q (%d bytes said), %v", v.VersionID, b, info.Size, err)
		}
		bodies = append(bodies, string(b))
	}
	// Versions written within one second may come in either order.
	slices.Sort(bodies)
	if markers != 1 || !slices.Equal(bodies, []string{"first", "second"}) {
		t.Errorf("versions after a delete: %d markers, bodies %q; want 1 and both bodies", markers, bodies)
	}
	files := newFileStore(t, t.TempDir())
	if _, _, err := objects.ReadVersion(t.Context(), files, "file:///x", "1"); !errors.Is(err, objects.ErrNoVersions) {
		t.Errorf("ReadVersion on a FileStore: %v, want ErrNoVersions", err)
	}
}
