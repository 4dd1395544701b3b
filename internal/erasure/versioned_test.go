package erasure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
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

// purgeCounter is the store, counting the purges of its remnants.
type purgeCounter struct {
	*sqlite.Store
	purges int
}

func (p *purgeCounter) PurgeRemnants(ctx context.Context) error {
	p.purges++
	return p.Store.PurgeRemnants(ctx)
}

// TestSeparateErasesTheSourceAsEraseDoes separates rows from a table in a
// versioned bucket and checks that their erasure from the source went as
// far as an ERASE job goes: the old versions of the removed objects are
// deleted, the moved subjects' rejected rows and validation samples are
// removed (others' stay), the load sources are listed, and the store's
// remnants are purged.
func TestSeparateErasesTheSourceAsEraseDoes(t *testing.T) {
	ctx := context.Background()
	fake := objectstest.NewFakeS3(t, "lake")
	fake.EnableVersioning(t, "lake")
	l := newLakeOn(t, "s3://lake/warehouse", tables.WithS3(fake.URL, "us-east-1", true))
	st := &purgeCounter{Store: l.st}
	l.runner.Store = st
	bad := map[int]bool{10: true, 2500: true, 3000: true}
	var all []row
	for k := range 2 {
		all = append(all, l.load(t, fmt.Sprintf("part-%d.csv", k), k*2000, (k+1)*2000, bad)...)
	}
	samples, _ := json.Marshal([]map[string]any{{
		"Rule": `ColumnValues "rrn" matches "[0-9]{6}-[1-4][0-9]{6}"`, "FailingRows": 2,
		"Samples": []map[string]any{{"Row": 1, "Value": all[10].rrn}, {"Row": 2, "Value": all[3000].rrn}},
	}})
	validation, err := l.st.CreateValidation(ctx, &suite.Validation{Suite: "rrn-format", Target: "file:///landing/part-0.csv", Outcome: suite.Fail, RuleResults: samples})
	if err != nil {
		t.Fatal(err)
	}

	// Customers 100000..100999 (rows 0..999) move.
	cond := tables.Condition{Column: "customer_id", Op: tables.Less, Value: "101000"}
	spec, _ := json.Marshal(erasure.SeparateSpec{Condition: &cond})
	j, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Separate, Dataset: datasetID, Spec: spec, Principal: "steward"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.runner.Separate(ctx, j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("Separate: %v", err)
	}
	res := separation(t, out)
	cert := res.Certificate
	if res.RowsMoved != 1000 || !cert.Verified || len(cert.Datasets) != 1 || cert.SubjectCount != 1000 {
		t.Fatalf("result: %+v", res)
	}
	dc := cert.Datasets[0]
	if dc.RowsDeleted != 1000 || dc.FilesRemoved == 0 || dc.VersionsRemoved < dc.FilesRemoved {
		t.Errorf("dataset certificate %+v; want 1000 rows deleted and an old version of each removed file deleted", dc)
	}
	s, err := objects.NewS3Store(ctx, objects.S3Options{Endpoint: fake.URL, Region: "us-east-1", PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test-access-key", "test-secret-key", "")})
	if err != nil {
		t.Fatal(err)
	}
	for v, err := range s.ListVersions(ctx, "s3://lake/warehouse/") {
		if err != nil {
			t.Fatal(err)
		}
		if !v.Latest || v.DeleteMarker {
			t.Errorf("%s: an old version or delete marker remains (%+v)", v.URI, v)
		}
	}

	// Rejects: the moved customer 100010's record goes, 102500's and
	// 103000's stay.
	if cert.RejectsRowsRemoved != 1 {
		t.Errorf("rejects rows removed: %d, want 1", cert.RejectsRowsRemoved)
	}
	var rejects []byte
	for _, p := range filesUnder(t, filepath.Join(l.dir, "rejects"), ".csv") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rejects = append(rejects, b...)
	}
	if bytes.Contains(rejects, []byte(all[10].id)) || !bytes.Contains(rejects, []byte(all[2500].id)) || !bytes.Contains(rejects, []byte(all[3000].id)) {
		t.Errorf("rejects after the separation:\n%s", rejects)
	}
	// Validation samples: the moved subject's goes, the other stays.
	kept, err := l.st.GetValidation(ctx, validation.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SamplesRemoved != 1 || bytes.Contains(kept.RuleResults, []byte(all[10].rrn)) || !bytes.Contains(kept.RuleResults, []byte(all[3000].rrn)) {
		t.Errorf("%d samples removed, validation kept as %s", cert.SamplesRemoved, kept.RuleResults)
	}
	want := []string{"file://" + filepath.Join(l.dir, "landing", "part-0.csv"), "file://" + filepath.Join(l.dir, "landing", "part-1.csv")}
	if !slices.Equal(cert.SourcesToReview, want) {
		t.Errorf("sources to review: %v, want %v", cert.SourcesToReview, want)
	}
	if st.purges != 1 {
		t.Errorf("the store's remnants were purged %d times, want once", st.purges)
	}
}
