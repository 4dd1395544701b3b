package erasure_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// TestEraseOnVersionedBucket erases subjects from a table whose warehouse
// is a versioned bucket: the old versions of every removed object go too,
// the certificate counts them, and the verification finds no subject in
// any version under the table's location.
func TestEraseOnVersionedBucket(t *testing.T) {
	ctx := context.Background()
	fake := objectstest.NewFakeS3(t, "lake")
	fake.EnableVersioning(t, "lake")
	l := newLakeOn(t, "s3://lake/warehouse", tables.WithS3(fake.URL, "us-east-1", true))
	var all []row
	for k := range 2 {
		all = append(all, l.load(t, "part.csv", k*2000, (k+1)*2000, nil)...)
	}
	subjects := []string{all[10].rrn, all[2500].rrn, all[3999].rrn}
	spec, _ := json.Marshal(erasure.EraseSpec{SubjectIDs: subjects, Reason: "test"})
	j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.runner.Erase(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	var cert erasure.Certificate
	if err := json.Unmarshal(out.Result, &cert); err != nil || !cert.Verified || len(cert.Datasets) != 1 {
		t.Fatalf("certificate %s, %v", out.Result, err)
	}
	dc := cert.Datasets[0]
	if dc.RowsDeleted != 3 || dc.VersionsRemoved < dc.FilesRemoved || dc.FilesRemoved == 0 {
		t.Errorf("dataset certificate %+v; want 3 rows deleted and an old version of each removed file deleted", dc)
	}
	s, err := objects.NewS3Store(ctx, objects.S3Options{Endpoint: fake.URL, Region: "us-east-1", PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test-access-key", "test-secret-key", "")})
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for v, err := range s.ListVersions(ctx, "s3://lake/warehouse/") {
		if err != nil {
			t.Fatal(err)
		}
		if !v.Latest || v.DeleteMarker {
			t.Errorf("%s: an old version or delete marker remains (%+v)", v.URI, v)
		}
		current++
	}
	if current == 0 {
		t.Fatal("no object in the warehouse")
	}
}
