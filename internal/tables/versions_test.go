package tables

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

// TestEraseOnVersionedBucket erases subjects from a table in a versioned
// bucket: after the delete and the expiry, the bucket still keeps the
// removed files as noncurrent versions, which VerifyAbsent reads and finds;
// PurgeVersions deletes them, and then no version of any object under the
// table's location holds a subject.
func TestEraseOnVersionedBucket(t *testing.T) {
	ctx := context.Background()
	fake := objectstest.NewFakeS3(t, "lake")
	fake.EnableVersioning(t, "lake")
	db, _ := sqliteDB(t)
	c, err := Open(ctx, db, "sqlite", "s3://lake/warehouse", WithS3(fake.URL, "us-east-1", true))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := customers("crm.customers")
	mustCreate(t, c, d)
	for i := range int64(3) {
		mustWrite(t, c, d.ID, Append, reader(t, d, genRange(i*100, (i+1)*100, 1)), nil)
	}
	subjects := []string{"C000007", "C000150", "C000299"}
	del, err := c.DeleteWhere(ctx, d.ID, "customer_no", subjects)
	if err != nil || del.RowsDeleted != 3 {
		t.Fatalf("DeleteWhere: %+v, %v", del, err)
	}
	if _, err := c.Expire(ctx, d.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}

	rep, err := c.VerifyAbsent(ctx, d.ID, "customer_no", subjects)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verified || rep.VersionsScanned == 0 || rep.FilesScanned == 0 {
		t.Fatalf("before the versions are purged: %+v; want findings in old versions", rep)
	}
	for _, f := range rep.Findings {
		if !strings.HasPrefix(f.Path, "s3://lake/warehouse/crm.db/customers/") {
			t.Errorf("finding outside the table: %+v", f)
		}
	}

	st, err := c.PurgeVersions(ctx, d.ID)
	if err != nil {
		t.Fatalf("PurgeVersions: %v", err)
	}
	if st.VersionsRemoved == 0 || st.DeleteMarkersRemoved == 0 {
		t.Errorf("PurgeVersions: %+v; want old versions and delete markers removed", st)
	}
	rep, err = c.VerifyAbsent(ctx, d.ID, "customer_no", subjects)
	if err != nil || !rep.Verified || rep.VersionsScanned != 0 || rep.DataFilesRead == 0 {
		t.Fatalf("after the purge: %+v, %v", rep, err)
	}
	if got := len(readAll(t, c, d.ID)); got != 297 {
		t.Errorf("%d rows left, want 297", got)
	}

	// Every version of every object under the location, read raw: none
	// holds a subject's number or name.
	s, err := objects.NewS3Store(ctx, objects.S3Options{Endpoint: fake.URL, Region: "us-east-1", PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test-access-key", "test-secret-key", "")})
	if err != nil {
		t.Fatal(err)
	}
	versions := 0
	for v, err := range s.ListVersions(ctx, "s3://lake/warehouse/crm.db/customers/") {
		if err != nil {
			t.Fatal(err)
		}
		if v.DeleteMarker || !v.Latest {
			t.Errorf("%s: a version that is not current remains (%+v)", v.URI, v)
			continue
		}
		versions++
		rc, _, err := s.GetVersion(ctx, v.URI, v.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, subject := range subjects {
			if bytes.Contains(b, []byte(subject)) {
				t.Errorf("%s holds %s", v.URI, subject)
			}
		}
	}
	if versions == 0 {
		t.Fatal("no object under the table's location")
	}
}

// TestPurgeVersionsOnFiles is a no-op on a file:// warehouse.
func TestPurgeVersionsOnFiles(t *testing.T) {
	c, _ := openSQLite(t)
	d := customers("crm.customers")
	mustCreate(t, c, d)
	if st, err := c.PurgeVersions(context.Background(), d.ID); err != nil || st != (VersionStats{}) {
		t.Errorf("PurgeVersions on files: %+v, %v", st, err)
	}
}
