package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

// TestPurgeRemnantsLeavesNoRedactedBytes redacts an ERASE job's spec (ids
// in clear, enough of them to need overflow pages) after it reached the
// database file, and finds none of the ids in the raw bytes of the
// database file or its write-ahead log after PurgeRemnants.
func TestPurgeRemnantsLeavesNoRedactedBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lakeplane.db")
	s, err := Open(ctx, path)
	s = storetest.Opened(t, s, err)
	var ids []string
	for i := range 500 {
		ids = append(ids, fmt.Sprintf("%06d-%07d", 900101+i, 1234567+i))
	}
	spec, _ := json.Marshal(map[string]any{"subjectIds": ids, "reason": "test"})
	j, _, err := s.CreateJob(ctx, &job.Job{Kind: job.Erase, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	// The spec reaches the database file, as automatic checkpoints do.
	if err := s.PurgeRemnants(ctx); err != nil {
		t.Fatal(err)
	}
	if n := holding(t, path, ids); n == 0 {
		t.Fatal("the database files do not hold the spec before the redaction: the test proves nothing")
	}
	_, err = s.RecordErasure(ctx, &store.Erasure{JobID: j.ID, Salt: "00", Certificate: []byte(`{}`), RedactedSpec: []byte(`{"subjectCount":500}`)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PurgeRemnants(ctx); err != nil {
		t.Fatal(err)
	}
	if n := holding(t, path, ids); n > 0 {
		t.Errorf("the database files still hold %d of %d redacted ids", n, len(ids))
	}
	if info, err := os.Stat(path + "-wal"); err == nil && info.Size() != 0 {
		t.Errorf("the WAL holds %d bytes after the purge", info.Size())
	}
}

// holding counts the ids found in the raw bytes of the database file at
// path and its -wal file.
func holding(t *testing.T, path string, ids []string) int {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	n := 0
	for _, id := range ids {
		if bytes.Contains(all, []byte(id)) {
			n++
		}
	}
	return n
}

// TestSecret checks that a secret is made once and kept across reopening.
func TestSecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lakeplane.db")
	s, err := Open(ctx, path)
	s = storetest.Opened(t, s, err)
	a, err := s.Secret(ctx, "k")
	if err != nil || len(a) != 32 {
		t.Fatalf("Secret: %x, %v", a, err)
	}
	again, err := Open(ctx, path)
	again = storetest.Opened(t, again, err)
	if b, err := again.Secret(ctx, "k"); err != nil || !bytes.Equal(a, b) {
		t.Errorf("after reopening: %x, %v; want %x", b, err, a)
	}
	if c, err := s.Secret(ctx, "other"); err != nil || bytes.Equal(a, c) {
		t.Errorf("another name: %x, %v", c, err)
	}
}
