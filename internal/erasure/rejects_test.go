package erasure

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
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
	has := func(v string) bool { return isID[strings.TrimSpace(v)] }
	out, removed, err := dropRecords([]byte(in), func(rec []string) bool { return holdsID(rec, has) })
	if err != nil {
		t.Fatal(err)
	}
	want := "line,column,value,reason,fields\n" +
		`7,birth_date,y,bad,"[""100004"",""800101-2345678"",""multi` + "\n" + `line""]"` + "\n"
	if removed != 3 || string(out) != want {
		t.Fatalf("removed %d, kept:\n%s\nwant:\n%s", removed, out, want)
	}
}

// customers is a dataset whose subject key is a string.
func customers() *dataset.Dataset {
	return &dataset.Dataset{ID: "crm.customers", SubjectKey: "customer_no", Columns: []dataset.Column{{Name: "customer_no", Type: dataset.TypeString}}}
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
	n, err := r.scrubRejects(context.Background(), customers(), []string{"C000123"})
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
	if n, err := r.scrubRejects(ctx, customers(), []string{"C000123"}); err != nil || n != 1 {
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

// TestScrubRejectsWithoutIndex scrubs rejects files written before rejects
// had indexes: the header names the columns, and only the subject key's
// column (or, in a loader's rejects, the value and the rejected line's
// fields) is compared with the ids, in canonical form for the key's type:
// an integer key's "042" is subject 42, and line 42 is not.
func TestScrubRejectsWithoutIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sub := filepath.Join(dir, "rejects", "crm.accounts")
	if err := os.MkdirAll(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	rows := "line,Customer_ID,name,reason\n" +
		"42,7,alice,bad date\n" + // line 42 of subject 7
		"43,042,bob,bad date\n" + // subject 42, written with a zero
		"44,0007,carol,bad date\n" + // subject 7 again
		"45,8,dave,bad date\n"
	loader := "line,column,value,reason,fields\n" +
		`42,closed,x,bad,"[""8"",""x""]"` + "\n" + // line 42 of subject 8
		`50,closed,x,bad,"[""00042"",""x""]"` + "\n" + // subject 42
		`51,customer_id,+42x,not an integer,"[""+42x"",""y""]"` + "\n"
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(sub, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rows.csv", rows)
	write("loader.csv", loader)
	files, err := objects.NewFileStore([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Objects: files, RejectsDir: "file://" + filepath.Join(dir, "rejects")}
	d := &dataset.Dataset{ID: "crm.accounts", SubjectKey: "customer_id", Columns: []dataset.Column{
		{Name: "customer_id", Type: dataset.TypeInt64}, {Name: "name", Type: dataset.TypeString},
	}}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(sub, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	// The id as the key's canonical form, the files with leading zeros.
	if n, err := r.scrubRejects(ctx, d, []string{"42"}); err != nil || n != 2 {
		t.Fatalf("scrub of 42: %d, %v; want 2 records removed", n, err)
	}
	if got, want := read("rows.csv"), "line,Customer_ID,name,reason\n42,7,alice,bad date\n44,0007,carol,bad date\n45,8,dave,bad date\n"; got != want {
		t.Errorf("rows.csv after the scrub of 42:\n%s\nwant:\n%s", got, want)
	}
	if got, want := read("loader.csv"), "line,column,value,reason,fields\n"+`42,closed,x,bad,"[""8"",""x""]"`+"\n"+`51,customer_id,+42x,not an integer,"[""+42x"",""y""]"`+"\n"; got != want {
		t.Errorf("loader.csv after the scrub of 42:\n%s\nwant:\n%s", got, want)
	}
	// The other way: the id with leading zeros, the file without.
	if n, err := r.scrubRejects(ctx, d, []string{" 0007"}); err != nil || n != 2 {
		t.Fatalf("scrub of 0007: %d, %v; want 2 records removed", n, err)
	}
	if got, want := read("rows.csv"), "line,Customer_ID,name,reason\n45,8,dave,bad date\n"; got != want {
		t.Errorf("rows.csv after the scrub of 0007:\n%s\nwant:\n%s", got, want)
	}
	// A string key compares as stored: "042" is not "42".
	write("rows.csv", "line,customer_id\n1,042\n2,42\n")
	d.Columns[0].Type = dataset.TypeString
	if n, err := r.scrubRejects(ctx, d, []string{"42"}); err != nil || n != 1 || read("rows.csv") != "line,customer_id\n1,042\n" {
		t.Fatalf("scrub of string 42: %d, %v:\n%s", n, err, read("rows.csv"))
	}
}
