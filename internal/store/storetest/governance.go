package storetest

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// governanceTests check store.GovernanceLog; RunGrants runs them.
var governanceTests = []struct {
	name string
	fn   func(t *testing.T, s GrantsStore)
}{
	{"GovernanceLogEmpty", testGovernanceLogEmpty},
	{"GovernanceLogRecordsEveryWrite", testGovernanceLogRecordsEveryWrite},
	{"GovernanceLogFailedWritesLogNothing", testGovernanceLogFailedWrites},
	{"GovernanceChangesPaging", testGovernanceChangesPaging},
	{"GovernanceLogConcurrentWriters", testGovernanceLogConcurrentWriters},
}

// change is a governance change without its seq and time.
type change struct {
	kind store.GovernanceChangeKind
	key  string
}

// newChanges returns the changes after seq after, checking that their seqs
// follow after without gaps, that the last is the version, and that their
// times are set.
func newChanges(t *testing.T, s GrantsStore, after int64) []change {
	t.Helper()
	ctx := context.Background()
	v, err := s.GovernanceVersion(ctx)
	if err != nil {
		t.Fatalf("GovernanceVersion: %v", err)
	}
	cs, err := s.GovernanceChanges(ctx, after, store.MaxPageSize)
	if err != nil {
		t.Fatalf("GovernanceChanges(%d): %v", after, err)
	}
	var out []change
	for i, c := range cs {
		if c.Seq != after+int64(i)+1 {
			t.Fatalf("change %d after %d has seq %d, want %d (no gaps)", i, after, c.Seq, after+int64(i)+1)
		}
		if c.Time.IsZero() || time.Since(c.Time) > time.Hour || time.Until(c.Time) > time.Hour {
			t.Errorf("change %d has time %v, want about now", c.Seq, c.Time)
		}
		out = append(out, change{c.Kind, c.Key})
	}
	if want := after + int64(len(cs)); v != want {
		t.Fatalf("version %d, want %d (the last change's seq)", v, want)
	}
	return out
}

// sortedChanges sorts changes by kind and key.
func sortedChanges(cs []change) []change {
	return slices.SortedFunc(slices.Values(cs), func(a, b change) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.key, b.key))
	})
}

func testGovernanceLogEmpty(t *testing.T, s GrantsStore) {
	if cs := newChanges(t, s, 0); len(cs) != 0 {
		t.Errorf("a fresh store logs %v, want nothing", cs)
	}
	cs, err := s.GovernanceChanges(context.Background(), 42, 0)
	if err != nil || len(cs) != 0 {
		t.Errorf("GovernanceChanges after a seq not reached = %v, %v; want none", cs, err)
	}
}

// testGovernanceLogRecordsEveryWrite makes each kind of write and checks
// the changes it logs: one per row touched, named by kind and key.
func testGovernanceLogRecordsEveryWrite(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	var seq int64
	// step makes a write and checks that it logged want (or, when want is
	// nil, what wantAfter returns after the write).
	var wantAfter func() []change
	step := func(what string, want []change, write func() error) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if want == nil {
			want = wantAfter()
		}
		got := newChanges(t, s, seq)
		if !slices.Equal(sortedChanges(got), sortedChanges(want)) {
			t.Errorf("%s logged %v, want %v", what, got, want)
		}
		seq += int64(len(got))
	}
	var d *dataset.Dataset
	step("CreateDataset", []change{{store.ChangeDataset, "sales.clients"}}, func() (err error) {
		d, err = s.CreateDataset(ctx, FullDataset("sales.clients"))
		return err
	})
	step("UpdateDataset", []change{{store.ChangeDataset, "sales.clients"}}, func() error {
		d.Grade = 1
		_, err := s.UpdateDataset(ctx, d)
		return err
	})
	step("CreateTagKey", []change{{store.ChangeTagKey, "domain"}}, func() error {
		_, err := s.CreateTagKey(ctx, &store.TagKey{Key: "domain", Values: []string{"retail"}})
		return err
	})
	db := store.TagResource{Database: "sales"}
	tbl := store.TagResource{Database: "sales", Table: "clients"}
	col := store.TagResource{Database: "sales", Table: "clients", Column: "email"}
	step("SetResourceTags on a database", []change{{store.ChangeTags, "sales"}}, func() error {
		_, err := s.SetResourceTags(ctx, db, map[string]string{"domain": "retail"}, nil)
		return err
	})
	step("SetResourceTags of two tags on a column", []change{{store.ChangeTags, "sales.clients.email"}, {store.ChangeTags, "sales.clients.email"}}, func() error {
		_, err := s.SetResourceTags(ctx, col, map[string]string{"domain": "retail", "owner": "crm"}, nil)
		return err
	})
	step("SetResourceTags changing a value and removing a tag", []change{{store.ChangeTags, "sales.clients.email"}, {store.ChangeTags, "sales.clients.email"}}, func() error {
		_, err := s.SetResourceTags(ctx, col, map[string]string{"owner": "erp"}, []string{"domain"})
		return err
	})
	step("SetResourceTags on a table", []change{{store.ChangeTags, "sales.clients"}}, func() error {
		_, err := s.SetResourceTags(ctx, tbl, map[string]string{"owner": "crm"}, nil)
		return err
	})
	step("DeleteResourceTags", []change{{store.ChangeTags, "sales.clients"}, {store.ChangeTags, "sales.clients.email"}}, func() error {
		_, err := s.DeleteResourceTags(ctx, "sales", "clients")
		return err
	})
	var g *store.GroupGrant
	wantAfter = func() []change { return []change{{store.ChangeGrant, g.ID}} }
	step("CreateGroupGrant", nil, func() (err error) {
		g, err = s.CreateGroupGrant(ctx, &store.GroupGrant{Group: "analysts", Grade: 2, Permissions: []string{"SELECT"}})
		return err
	})
	step("DeleteGroupGrant", []change{{store.ChangeGrant, g.ID}}, func() error {
		return s.DeleteGroupGrant(ctx, g.ID)
	})
	step("SetResourceTags removing the database's tag", []change{{store.ChangeTags, "sales"}}, func() error {
		_, err := s.SetResourceTags(ctx, db, nil, []string{"domain"})
		return err
	})
	step("DeleteTagKey", []change{{store.ChangeTagKey, "domain"}}, func() error {
		return s.DeleteTagKey(ctx, "domain")
	})
	step("DeleteDataset", []change{{store.ChangeDataset, "sales.clients"}}, func() error {
		return s.DeleteDataset(ctx, "sales.clients", "")
	})
}

// testGovernanceLogFailedWrites checks that writes that fail or change
// nothing log nothing: their transaction rolls the change back.
func testGovernanceLogFailedWrites(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	if _, err := s.CreateDataset(ctx, FullDataset("sales.clients")); err != nil {
		t.Fatalf("CreateDataset: %v", err)
	}
	mustTagKey(t, s, "domain", "retail")
	col := store.TagResource{Database: "sales", Table: "clients", Column: "email"}
	if _, err := s.SetResourceTags(ctx, col, map[string]string{"domain": "retail"}, nil); err != nil {
		t.Fatalf("SetResourceTags: %v", err)
	}
	before := int64(len(newChanges(t, s, 0)))

	stale := FullDataset("sales.clients")
	stale.Etag = "stale"
	too := map[string]string{}
	for i := range store.MaxTagsPerResource + 1 {
		too[fmt.Sprintf("k%02d", i)] = "v"
	}
	errOf := func(_ any, err error) error { return err }
	for _, w := range []struct {
		what string
		err  error
	}{
		{"CreateDataset of a taken id", errOf(s.CreateDataset(ctx, FullDataset("sales.clients")))},
		{"UpdateDataset with a stale etag", errOf(s.UpdateDataset(ctx, stale))},
		{"DeleteDataset with a stale etag", s.DeleteDataset(ctx, "sales.clients", "stale")},
		{"DeleteDataset of none", s.DeleteDataset(ctx, "sales.nope", "")},
		{"CreateTagKey of a taken key", errOf(s.CreateTagKey(ctx, &store.TagKey{Key: "domain", Values: []string{"x"}}))},
		{"DeleteTagKey of a key in use", s.DeleteTagKey(ctx, "domain")},
		{"DeleteTagKey of none", s.DeleteTagKey(ctx, "nope")},
		{"SetResourceTags of too many", errOf(s.SetResourceTags(ctx, col, too, nil))},
		{"DeleteGroupGrant of none", s.DeleteGroupGrant(ctx, "nope")},
	} {
		if w.err == nil {
			t.Errorf("%s succeeded", w.what)
		}
	}
	if _, err := s.SetResourceTags(ctx, col, nil, []string{"absent"}); err != nil {
		t.Fatalf("SetResourceTags removing an absent tag: %v", err)
	}
	if n, err := s.DeleteResourceTags(ctx, "sales", "nope"); err != nil || n != 0 {
		t.Fatalf("DeleteResourceTags of none: %d, %v", n, err)
	}
	if cs := newChanges(t, s, before); len(cs) != 0 {
		t.Errorf("failed and empty writes logged %v, want nothing", cs)
	}
}

func testGovernanceChangesPaging(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	for i := range 7 {
		mustTagKey(t, s, fmt.Sprintf("key_%d", i), "v")
	}
	var keys []string
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cs, err := s.GovernanceChanges(ctx, after, 3)
		if err != nil {
			t.Fatalf("GovernanceChanges(%d, 3): %v", after, err)
		}
		if len(cs) > 3 {
			t.Fatalf("GovernanceChanges(%d, 3) returned %d", after, len(cs))
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			keys = append(keys, c.Key)
		}
		after = cs[len(cs)-1].Seq
	}
	if want := []string{"key_0", "key_1", "key_2", "key_3", "key_4", "key_5", "key_6"}; !slices.Equal(keys, want) {
		t.Errorf("paged keys %v, want %v", keys, want)
	}
	if cs, err := s.GovernanceChanges(ctx, 5, 0); err != nil || len(cs) != 2 || cs[0].Seq != 6 {
		t.Errorf("GovernanceChanges(5, 0) = %+v, %v; want seqs 6 and 7", cs, err)
	}
}

// testGovernanceLogConcurrentWriters runs writers of every kind at once
// while a reader follows the log: every change it sees must follow the last
// one it saw (a reader that sees seq N has seen every seq below), and in
// the end the log holds one change per write.
func testGovernanceLogConcurrentWriters(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	const writers, writes = 4, 10
	done := make(chan struct{})
	var readerErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		var last int64
		for {
			select {
			case <-done:
				return
			default:
			}
			cs, err := s.GovernanceChanges(ctx, last, store.MaxPageSize)
			if err != nil {
				readerErr = err
				return
			}
			for _, c := range cs {
				if c.Seq != last+1 {
					readerErr = fmt.Errorf("after seq %d the reader saw seq %d", last, c.Seq)
					return
				}
				last = c.Seq
			}
		}
	})
	var writersWG sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		writersWG.Go(func() {
			for i := range writes {
				var err error
				switch i % 3 {
				case 0:
					_, err = s.CreateDataset(ctx, &dataset.Dataset{ID: fmt.Sprintf("w%d.t%d", w, i)})
				case 1:
					_, err = s.SetResourceTags(ctx, store.TagResource{Database: "shared", Table: "t"}, map[string]string{"owner": fmt.Sprint(w)}, nil)
				default:
					_, err = s.CreateGroupGrant(ctx, &store.GroupGrant{Group: fmt.Sprintf("g%d", w), Grade: 1, Permissions: []string{"SELECT"}})
				}
				errs <- err
			}
		})
	}
	writersWG.Wait()
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent write: %v", err)
		}
	}
	if readerErr != nil {
		t.Errorf("reader: %v", readerErr)
	}
	if got := len(newChanges(t, s, 0)); got != writers*writes {
		t.Errorf("%d writes logged %d changes, want one each", writers*writes, got)
	}
}

// CheckGovernanceLogSQL checks what only SQL can reach: that writes made
// without the store, by any SQL, are logged too (the log is kept by
// triggers), and that the log keeps only its newest keep_changes changes.
// db is s's database; the check changes rows and keep_changes in it.
func CheckGovernanceLogSQL(t *testing.T, s GrantsStore, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	exec := func(query string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	mustTagKey(t, s, "owner", "x")
	if _, err := s.SetResourceTags(ctx, store.TagResource{Database: "sales", Table: "t"}, map[string]string{"owner": "x"}, nil); err != nil {
		t.Fatalf("SetResourceTags: %v", err)
	}
	seq := int64(len(newChanges(t, s, 0)))
	exec(`UPDATE resource_tags SET tbl = 'u' WHERE tbl = 't'`)
	exec(`UPDATE tag_keys SET key = 'holder' WHERE key = 'owner'`)
	exec(`DELETE FROM resource_tags`)
	got := newChanges(t, s, seq)
	want := []change{
		{store.ChangeTags, "sales.t"}, {store.ChangeTags, "sales.u"},
		{store.ChangeTagKey, "owner"}, {store.ChangeTagKey, "holder"},
		{store.ChangeTags, "sales.u"},
	}
	if !slices.Equal(sortedChanges(got), sortedChanges(want)) {
		t.Errorf("SQL writes logged %v, want %v (an update that moves a row logs both keys)", got, want)
	}
	seq += int64(len(got))

	exec(`UPDATE governance_version SET keep_changes = 3`)
	for i := range 5 {
		mustTagKey(t, s, fmt.Sprintf("key_%d", i), "v")
	}
	v, err := s.GovernanceVersion(ctx)
	if err != nil || v != seq+5 {
		t.Fatalf("GovernanceVersion = %d, %v; want %d", v, err, seq+5)
	}
	cs, err := s.GovernanceChanges(ctx, 0, 0)
	if err != nil {
		t.Fatalf("GovernanceChanges: %v", err)
	}
	var seqs []int64
	for _, c := range cs {
		seqs = append(seqs, c.Seq)
	}
	if want := []int64{v - 2, v - 1, v}; !slices.Equal(seqs, want) {
		t.Errorf("kept seqs %v, want the newest 3: %v (the first one above 1 shows the gap)", seqs, want)
	}
	if err := s.DeleteTagKey(ctx, "key_0"); err != nil {
		t.Fatalf("DeleteTagKey: %v", err)
	}
	cs, err = s.GovernanceChanges(ctx, 0, 0)
	if err != nil || len(cs) != 3 || cs[0].Seq != v-1 || cs[2].Key != "key_0" {
		t.Errorf("after one more change: %+v, %v; want the seqs from %d, the last of key_0", cs, err, v-1)
	}
}
