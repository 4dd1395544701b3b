package postgres

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
)

// TestPurgeRemnantsVacuums redacts an ERASE job's spec and purges: VACUUM
// must run outside a transaction, on the store's own schema.
func TestPurgeRemnantsVacuums(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	j, _, err := s.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: []byte(`{"subjectIds":["900101-1234567"],"reason":"test"}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.RecordErasure(ctx, &store.Erasure{JobID: j.ID, Salt: "00", Certificate: []byte(`{}`), RedactedSpec: []byte(`{"subjectCount":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeRemnants(ctx); err != nil {
		t.Fatalf("PurgeRemnants: %v", err)
	}
	got, err := s.GetJob(ctx, j.ID)
	if err != nil || bytes.Contains(got.Spec, []byte("900101")) {
		t.Errorf("job after the purge: %s, %v", got.Spec, err)
	}
}

func TestSecret(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	a, err := s.Secret(ctx, "k")
	if err != nil || len(a) != 32 {
		t.Fatalf("Secret: %x, %v", a, err)
	}
	b, err := s.Secret(ctx, "k")
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("second Secret: %x, %v; want %x", b, err, a)
	}
	if c, err := s.Secret(ctx, "other"); err != nil || bytes.Equal(a, c) {
		t.Errorf("another name: %x, %v", c, err)
	}
}

// TestRedactSamples removes the samples holding a value, also in the parts
// of a composite rule, and keeps the rest of the results.
func TestRedactSamples(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	results := `[{"Rule":"a","FailingRows":2,"Samples":[{"Row":1,"Value":"900101-1234567"},{"Row":2,"Value":"x"}]},` +
		`{"Rule":"b","Parts":[{"Rule":"c","Samples":[{"Row":7,"Value":" 900101-1234567 "}]}]},{"Rule":"d","Samples":null}]`
	v, err := s.CreateValidation(ctx, &suite.Validation{Suite: "s", Target: "t", Outcome: suite.Fail, RuleResults: []byte(results)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.RedactSamples(ctx, func(v string) bool { return strings.TrimSpace(v) == "900101-1234567" })
	if err != nil || n != 2 {
		t.Fatalf("RedactSamples: %d, %v; want 2", n, err)
	}
	got, err := s.GetValidation(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"FailingRows":2,"Rule":"a","Samples":[{"Row":2,"Value":"x"}]},{"Parts":[{"Rule":"c","Samples":[]}],"Rule":"b"},{"Rule":"d","Samples":null}]`
	if string(got.RuleResults) != want {
		t.Errorf("results after the redaction:\n%s\nwant\n%s", got.RuleResults, want)
	}
	if n, err := s.RedactSamples(ctx, func(v string) bool { return strings.TrimSpace(v) == "900101-1234567" }); err != nil || n != 0 {
		t.Errorf("second RedactSamples: %d, %v; want 0", n, err)
	}
}
