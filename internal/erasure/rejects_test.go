package erasure

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/objects"
	"github.com/lakeplane/lakeplane/internal/objects/objectstest"
)

func TestDropRecordsKeepsOtherRecordsByteForByte(t *testing.T) {
	in := "line,column,value,reason,fields\n" +
		`6,birth_date,x,bad,"[""100003"",""900101-1234567"",""a, b""]"` + "\n" +
		`7,birth_date,y,bad,"[""100004"",""800101-2345678"",""multi` + "\n" + `line""]"` + "\n" +
		"8,rrn,900101-1234567,too long,\"100005;900101-1234567\"\n" +
		"9,rrn,700101-1111111,bad,\"100006,700101-1111111\"\n"
	isID := map[string]bool{"900101-1234567": true, "100006": true}
	out, removed, err := dropRecords([]byte(in), func(rec []string) bool { return holdsID(rec, isID) })
	if err != nil {
		t.Fatal(err)
	}
	want := "line,column,value,reason,fields\n" +
		`7,birth_date,y,bad,"[""100004"",""800101-2345678"",""multi` + "\n" + `line""]"` + "\n"
	if removed != 3 || string(out) != want {
		t.Fatalf("removed %d, kept:\n%s\nwant:\n%s", removed, out, want)
	}
}

func TestScrubRejectsRewritesOnlyFilesHoldingAnID(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "rejects", "crm.customers")
	if err := os.MkdirAll(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	a := "line,column,value,reason,fields\n5,x,C000123,bad,\"[\"\"C000123\"\"]\"\n6,x,C000124,bad,\"[\"\"C000124\"\"]\"\n"
	b := "line,column,value,reason,fields\n5,x,C000200,bad,\"[\"\"C000200\"\"]\"\n"
	for name, body := range map[string]string{"a.csv": a, "b.csv": b} {
		if err := os.WriteFile(filepath.Join(sub, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	infoB, _ := os.Stat(filepath.Join(sub, "b.csv"))
	files, err := objects.NewFileStore([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Objects: files, RejectsDir: "file://" + filepath.Join(dir, "rejects")}
	n, err := r.scrubRejects(context.Background(), "crm.customers", []string{"C000123"})
	if err != nil || n != 1 {
		t.Fatalf("scrub: %d, %v", n, err)
	}
	got, _ := os.ReadFile(filepath.Join(sub, "a.csv"))
	if strings.Contains(string(got), "C000123") || !strings.Contains(string(got), "C000124") {
		t.Errorf("a.csv after the scrub:\n%s", got)
	}
	if after, _ := os.Stat(filepath.Join(sub, "b.csv")); !after.ModTime().Equal(infoB.ModTime()) {
		t.Error("b.csv, which holds no id, was rewritten")
	}
}

// TestScrubRejectsOnVersionedBucket scrubs a rejects file in a versioned
// bucket: the file as it was before, kept as an old version, goes too.
func TestScrubRejectsOnVersionedBucket(t *testing.T) {
	ctx := context.Background()
	fake := objectstest.NewFakeS3(t, "lake")
	fake.EnableVersioning(t, "lake")
	s, err := objects.NewS3Store(ctx, objects.S3Options{Endpoint: fake.URL, Region: "us-east-1", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	uri := "s3://lake/rejects/crm.customers/j1.csv"
	body := "line,column,value,reason,fields\n5,x,C000123,bad,\"[\"\"C000123\"\"]\"\n6,x,C000124,bad,\"[\"\"C000124\"\"]\"\n"
	objectstest.Put(t, s, uri, []byte(body))
	r := &Runner{Objects: s, RejectsDir: "s3://lake/rejects"}
	if n, err := r.scrubRejects(ctx, "crm.customers", []string{"C000123"}); err != nil || n != 1 {
		t.Fatalf("scrub: %d, %v", n, err)
	}
	var versions []objects.Version
	for v, err := range s.ListVersions(ctx, "s3://lake/rejects/") {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if len(versions) != 1 || !versions[0].Latest {
		t.Fatalf("versions after the scrub: %+v; want the current one only", versions)
	}
	rc, _, err := s.GetVersion(ctx, uri, versions[0].VersionID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if strings.Contains(string(got), "C000123") || !strings.Contains(string(got), "C000124") {
		t.Errorf("after the scrub:\n%s", got)
	}
}
