package erasure_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/benchdata"
	"github.com/lakeplane/lakeplane/internal/erasure"
	"github.com/lakeplane/lakeplane/internal/ingest"
	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/jobrun"
	"github.com/lakeplane/lakeplane/internal/pii"
)

// loadCSV writes content as a landing-zone object and loads it into
// dataset id (up to 10 bad rows) through the INGEST executor.
func (l *lake) loadCSV(t *testing.T, id, name string, content []byte) *job.Job {
	t.Helper()
	path := filepath.Join(l.dir, "landing", name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(ingest.IngestSpec{SourceURI: "file://" + path, Format: ingest.Format{Header: true}, Mode: ingest.ModeAppend, MaxBadRows: 10})
	load, _, err := l.st.CreateJob(context.Background(), &job.Job{Kind: job.Ingest, Dataset: id, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.loader.Run(context.Background(), load, &jobrun.Progress{}); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return load
}

// erase runs an ERASE job of spec, which must succeed, and returns its
// certificate.
func (l *lake) erase(t *testing.T, spec erasure.EraseSpec) erasure.Certificate {
	t.Helper()
	body, _ := json.Marshal(spec)
	j, _, err := l.st.CreateJob(context.Background(), &job.Job{Kind: job.Erase, Spec: body})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.runner.Erase(context.Background(), j, &jobrun.Progress{})
	if err != nil {
		t.Fatalf("erase: %v", err)
	}
	var cert erasure.Certificate
	if err := json.Unmarshal(out.Result, &cert); err != nil {
		t.Fatalf("certificate %s: %v", out.Result, err)
	}
	return cert
}

// TestEraseFindsMaskedSubjectsInRejects loads bad rows of two subjects
// into rejects, where the loader masks the subject key: a bad value and a
// wrong field count (whose every field is masked) of subject X, a bad
// value of subject Y. Erasing X removes both of X's rejected rows, found
// through the rejects index, and keeps Y's.
func TestEraseFindsMaskedSubjectsInRejects(t *testing.T) {
	l := newLake(t)
	rng := benchdata.NewRand()
	fields := func(i int) []string {
		rec, err := csv.NewReader(bytes.NewReader(benchdata.AppendRow(nil, rng, i))).Read()
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	var src bytes.Buffer
	src.WriteString(benchdata.Header())
	w := csv.NewWriter(&src)
	for i := range 5 {
		_ = w.Write(fields(i))
	}
	x, y := fields(100), fields(101)
	badX, badY := append([]string(nil), x...), append([]string(nil), y...)
	badX[3], badY[3] = "1990-13-45", "1990-13-46"
	_ = w.Write(badX)                                         // line 7: a bad date
	_ = w.Write(append(append([]string(nil), x...), "extra")) // line 8: one field too many
	_ = w.Write(badY)                                         // line 9: Y's bad date
	w.Flush()
	load := l.loadCSV(t, datasetID, "masked.csv", src.Bytes())
	rejects := filepath.Join(l.dir, "rejects", datasetID, load.ID+".csv")
	before, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	// The key is masked in every rejected record: nothing but the index
	// can tell X's records.
	for _, rrn := range []string{x[2], y[2]} {
		if bytes.Contains(before, []byte(rrn)) || !bytes.Contains(before, []byte(pii.Mask(rrn))) {
			t.Fatalf("rejects hold %s in clear, or not masked:\n%s", rrn, before)
		}
	}
	index, err := os.ReadFile(rejects + ".subjects")
	if err != nil || bytes.Count(index, []byte("\n")) != 4 || bytes.Contains(index, []byte(x[2])) {
		t.Fatalf("index (%v):\n%s", err, index)
	}

	if cert := l.erase(t, erasure.EraseSpec{SubjectIDs: []string{x[2]}, Reason: "test"}); cert.RejectsRowsRemoved != 2 {
		t.Fatalf("certificate %+v, want 2 rejects rows removed", cert)
	}
	after, _ := os.ReadFile(rejects)
	recs, err := csv.NewReader(bytes.NewReader(after)).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "9" || !strings.Contains(recs[1][4], y[0]) {
		t.Fatalf("rejects after the erasure (%v):\n%s", err, after)
	}
	for _, f := range x {
		if len(f) >= 6 && !strings.Contains(strings.Join(y, ","), f) && bytes.Contains(after, []byte(f)) {
			t.Errorf("rejects still hold %q of subject X:\n%s", f, after)
		}
	}
	if !bytes.Contains(after, []byte(y[0])) {
		t.Errorf("Y's rejected row lost its customer id:\n%s", after)
	}
	index, _ = os.ReadFile(rejects + ".subjects")
	if got := strings.Count(string(index), "\n"); got != 2 || !strings.HasPrefix(string(index), "line,tags\n9,") {
		t.Errorf("index after the erasure:\n%s", index)
	}
}

// TestLoadErrorMasksSubjectKey checks that the decoder, told of no PII
// column while the rejects are indexed, still leaves no subject key in
// clear in a failed load's error: the rejects sink masks it first.
func TestLoadErrorMasksSubjectKey(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	d := benchdata.Customers("bench.bykey")
	d.SubjectKey = "customer_id"
	if _, err := l.st.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := l.catalog.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	rec, err := csv.NewReader(bytes.NewReader(benchdata.AppendRow(nil, benchdata.NewRand(), 0))).Read()
	if err != nil {
		t.Fatal(err)
	}
	rec[0] = "7654x321"
	var src bytes.Buffer
	src.WriteString(benchdata.Header())
	w := csv.NewWriter(&src)
	_ = w.Write(rec)
	w.Flush()
	path := filepath.Join(l.dir, "landing", "badkey.csv")
	if err := os.WriteFile(path, src.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(ingest.IngestSpec{SourceURI: "file://" + path, Format: ingest.Format{Header: true}, Mode: ingest.ModeAppend})
	load, _, err := l.st.CreateJob(ctx, &job.Job{Kind: job.Ingest, Dataset: d.ID, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.loader.Run(ctx, load, &jobrun.Progress{})
	if err == nil || strings.Contains(err.Error(), "7654x321") || !strings.Contains(err.Error(), pii.Mask("7654x321")) {
		t.Fatalf("load of a bad subject key: %v; want an error with the key masked", err)
	}
}

// TestRejectsIndexTagsIntegerKeysCanonically loads bad rows of a dataset
// whose subject key is a masked INT64, written "042" and "43" in the
// source: erasing ids "42" and "0043" finds both through the index (each
// id and each stored value in another form), and keeps subject 44's.
func TestRejectsIndexTagsIntegerKeysCanonically(t *testing.T) {
	ctx := context.Background()
	l := newLake(t)
	d := benchdata.Customers("bench.byint")
	d.SubjectKey = "customer_id"
	d.Columns[0].PII = true // masked in rejects: only the index finds it
	if _, err := l.st.CreateDataset(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := l.catalog.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	rng := benchdata.NewRand()
	var src bytes.Buffer
	src.WriteString(benchdata.Header())
	w := csv.NewWriter(&src)
	for i, key := range []string{"042", "43", "44"} {
		rec, err := csv.NewReader(bytes.NewReader(benchdata.AppendRow(nil, rng, i))).Read()
		if err != nil {
			t.Fatal(err)
		}
		rec[0], rec[3] = key, "1990-13-45" // a bad birth date: rejected
		_ = w.Write(rec)
	}
	w.Flush()
	load := l.loadCSV(t, d.ID, "byint.csv", src.Bytes())
	rejects := filepath.Join(l.dir, "rejects", d.ID, load.ID+".csv")
	before, err := os.ReadFile(rejects)
	if err != nil || strings.Count(string(before), "\n") != 4 || bytes.Contains(before, []byte(`""042""`)) {
		t.Fatalf("rejects (%v), want 3 records with the key masked:\n%s", err, before)
	}
	if cert := l.erase(t, erasure.EraseSpec{SubjectIDs: []string{"42", "0043"}, Datasets: []string{d.ID}, Reason: "test"}); cert.RejectsRowsRemoved != 2 {
		t.Fatalf("certificate %+v, want 2 rejects rows removed", cert)
	}
	after, _ := os.ReadFile(rejects)
	recs, err := csv.NewReader(bytes.NewReader(after)).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "4" {
		t.Fatalf("rejects after the erasure (%v), want the record of line 4 (subject 44) only:\n%s", err, after)
	}
	index, _ := os.ReadFile(rejects + ".subjects")
	if got := strings.Count(string(index), "\n"); got != 2 || !strings.HasPrefix(string(index), "line,tags\n4,") {
		t.Errorf("index after the erasure:\n%s", index)
	}
}
