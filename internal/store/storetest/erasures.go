package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
)

// erasureTests check store.Erasures.
var erasureTests = []conformanceTest{
	{"ErasuresRecordedOncePerJob", testErasures},
}

func testErasures(t *testing.T, s store.Store) {
	ctx := context.Background()
	j, _, err := s.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: []byte(`{"subjectIds":["900101-1234567"],"reason":"r"}`), Principal: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetErasureByJob(ctx, j.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetErasureByJob of none: %v", err)
	}
	in := &store.Erasure{
		JobID: j.ID, RedactedSpec: []byte(`{"subjectHashes":["aa"],"reason":"r"}`), Principal: "alice", Reason: "retention ended", Salt: "00ff",
		SubjectHashes: []string{"bb", "aa"}, Certificate: []byte(`{"subjectCount":2}`), Digest: "d1",
	}
	got, err := s.RecordErasure(ctx, in)
	if err != nil || got.ID == "" {
		t.Fatalf("RecordErasure: %+v %v", got, err)
	}
	assertStoredTime(t, "CreateTime", got.CreateTime)
	if _, err := s.RecordErasure(ctx, in); !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("second RecordErasure of one job: %v", err)
	}
	// The job's spec no longer holds the subject ids.
	if back, err := s.GetJob(ctx, j.ID); err != nil || string(back.Spec) != `{"subjectHashes":["aa"],"reason":"r"}` {
		t.Fatalf("spec of the erasure's job: %s, %v", back.Spec, err)
	}
	back, err := s.GetErasureByJob(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != got.ID || back.Principal != "alice" || back.Reason != "retention ended" || back.Salt != "00ff" ||
		!slices.Equal(back.SubjectHashes, []string{"aa", "bb"}) || string(back.Certificate) != `{"subjectCount":2}` ||
		back.Digest != "d1" || !back.CreateTime.Equal(got.CreateTime) {
		t.Fatalf("GetErasureByJob: %+v, recorded %+v", back, got)
	}
}
