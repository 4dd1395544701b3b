package govern

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/errcode"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/postgres"
	"github.com/lakeplane/lakeplane/internal/store/postgres/pgtest"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// sharedStore is one handle on a database that other handles share, as
// each replica of a deployment has its own.
type sharedStore interface {
	Store
	DB() *sql.DB
	Close() error
}

// backend opens a fresh database and returns a function that opens another
// handle on it each time it is called.
type backend struct {
	name string
	open func(tb testing.TB) func() sharedStore
}

// backends are the stores replicas can share: a SQLite file, and a
// PostgreSQL schema when LAKEPLANE_TEST_POSTGRES_DSN is set (else the
// PostgreSQL tests skip).
var backends = []backend{
	{"sqlite", func(tb testing.TB) func() sharedStore {
		path := filepath.Join(tb.TempDir(), "lakeplane.db")
		return func() sharedStore {
			st, err := sqlite.Open(context.Background(), path)
			return closedAtEnd(tb, st, err)
		}
	}},
	{"postgres", func(tb testing.TB) func() sharedStore {
		dsn := pgtest.FreshSchema(tb)
		return func() sharedStore {
			st, err := postgres.Open(context.Background(), dsn)
			return closedAtEnd(tb, st, err)
		}
	}},
}

// closedAtEnd fails on err, else closes st when the test ends.
func closedAtEnd[S sharedStore](tb testing.TB, st S, err error) sharedStore {
	tb.Helper()
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// eachBackend runs fn as a subtest on every backend.
func eachBackend(t *testing.T, fn func(t *testing.T, handle func() sharedStore)) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			fn(t, be.open(t))
		})
	}
}

// logBuffer collects what a replica logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// replica is a service on its own store handle, and what it logs.
type replica struct {
	*Service
	st  sharedStore
	log *logBuffer
}

// newReplica starts a service on a new handle of the shared database.
func newReplica(tb testing.TB, handle func() sharedStore, opts ...Option) *replica {
	tb.Helper()
	st := handle()
	log := &logBuffer{}
	s, err := New(context.Background(), st, "grade", 3, nil, append([]Option{WithLogger(slog.New(slog.NewTextHandler(log, nil)))}, opts...)...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return &replica{Service: s, st: st, log: log}
}

// follow runs r.Follow until the test ends.
func follow(t *testing.T, r *replica, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Follow(ctx, interval)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// universe is what replicas' answers are compared over: tables (those
// that come and go among them) with their columns, and groups.
type universe struct {
	tables map[string][]string
	groups []string
}

// answers renders everything s answers over u: every group's decision on
// every table and column for every permission, the tables each group
// reaches, every resource's tags and the tag keys.
func answers(tb testing.TB, s *Service, u universe) []string {
	tb.Helper()
	var out []string
	add := func(what string, v any, err error) {
		if err != nil {
			tb.Fatalf("%s: %v", what, err)
		}
		out = append(out, fmt.Sprintf("%s: %+v", what, v))
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range u.tables {
			if !yield(id) {
				return
			}
		}
	})
	for _, g := range u.groups {
		for _, id := range ids {
			ns, tbl, _ := dataset.SplitID(id)
			for p := range numPermissions {
				c := Check{Groups: []string{g}, Database: ns, Table: tbl, Permission: p}
				d, err := s.CheckAccess(c)
				add(fmt.Sprintf("%s %s %s", g, id, p), d, err)
				for _, col := range u.tables[id] {
					c.Columns = []string{col}
					d, err := s.CheckAccess(c)
					add(fmt.Sprintf("%s %s.%s %s", g, id, col, p), d, err)
				}
			}
		}
		at, _, err := s.ListAccessibleTables(g, store.MaxPageSize, "")
		add("accessible to "+g, at, err)
	}
	tags, _, err := s.ListResourceTags("", "", store.MaxPageSize, "")
	if err != nil {
		tb.Fatalf("ListResourceTags: %v", err)
	}
	for _, v := range tags {
		add("tags", *v, nil)
	}
	keys, _, err := s.ListTagKeys(store.MaxPageSize, "")
	add("tag keys", keys, err)
	return out
}

// diff returns the first answer where got and want differ, or "".
func diff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			return "missing " + want[i]
		case i >= len(want):
			return "extra " + got[i]
		case got[i] != want[i]:
			return fmt.Sprintf("got  %s\nwant %s", got[i], want[i])
		}
	}
	return ""
}

// mustAgree fails unless b answers as a does over u.
func mustAgree(t *testing.T, what string, b, a *replica, u universe) {
	t.Helper()
	if d := diff(answers(t, b.Service, u), answers(t, a.Service, u)); d != "" {
		t.Fatalf("%s: the replicas disagree:\n%s", what, d)
	}
}

// mustRefresh runs r.Refresh.
func mustRefresh(t *testing.T, r *replica) {
	t.Helper()
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
}

// eventually polls check every millisecond until it returns "" and returns
// how long that took; after limit it fails the test with check's last
// answer.
func eventually(t *testing.T, limit time.Duration, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		msg := check()
		if msg == "" {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still after %s: %s", limit, msg)
		}
		time.Sleep(time.Millisecond)
	}
}

// seen returns a check for eventually: "" once cond holds, else that what
// is not seen yet.
func seen(what string, cond func() bool) func() string {
	return func() string {
		if cond() {
			return ""
		}
		return what + " not seen"
	}
}

// columnsAllowed returns which of the columns of db.tbl the group may
// SELECT, by s.
func columnsAllowed(t *testing.T, s *Service, group, db, tbl string) []string {
	t.Helper()
	d, err := s.CheckAccess(Check{Groups: []string{group}, Database: db, Table: tbl, Permission: Select})
	if err != nil {
		t.Fatalf("CheckAccess: %v", err)
	}
	return d.AllowedColumns
}

// must fails the test on a call's error; it takes the call's results as
// they come.
func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestReplicasAgreeAfterRefresh makes each kind of governance write on
// replica A and checks that replica B, on its own store handle, answers
// stale until its Refresh and exactly as A after it.
func TestReplicasAgreeAfterRefresh(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		setup := handle()
		tags, none := must[*TagsView](t), must[any](t)
		clients := &dataset.Dataset{ID: "sales.clients", Grade: 3}
		for _, c := range []string{"client_id", "email", "amount"} {
			clients.Columns = append(clients.Columns, dataset.Column{Name: c, Type: dataset.TypeString})
		}
		must[*dataset.Dataset](t)(setup.CreateDataset(ctx, clients))
		a, b := newReplica(t, handle), newReplica(t, handle)
		u := universe{
			tables: map[string][]string{"sales.clients": {"client_id", "email", "amount"}, "sales.orders": {"order_id", "total"}},
			groups: []string{"analysts", "auditors"},
		}
		mustAgree(t, "at start", b, a, u)
		// step checks that B answers otherwise than A before its refresh,
		// what it allows analysts on a table before (stale) and after
		// (fresh), and that it then answers as A does.
		step := func(what, tbl string, stale, fresh []string) {
			t.Helper()
			if diff(answers(t, b.Service, u), answers(t, a.Service, u)) == "" {
				t.Fatalf("%s: B answers as A before its refresh; the step would prove nothing", what)
			}
			if got := columnsAllowed(t, b.Service, "analysts", "sales", tbl); !slices.Equal(got, stale) {
				t.Fatalf("%s: B before its refresh allows %v of %s, want %v", what, got, tbl, stale)
			}
			mustRefresh(t, b)
			if got := columnsAllowed(t, b.Service, "analysts", "sales", tbl); !slices.Equal(got, fresh) {
				t.Errorf("%s: B allows %v of %s, want %v", what, got, tbl, fresh)
			}
			mustAgree(t, "after "+what, b, a, u)
		}
		all := []string{"client_id", "email", "amount"}

		g := must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 2, Permissions: []Permission{Select, Describe}}))
		step("a grant", "clients", nil, all)

		tags(a.AssignTags(ctx, Resource{Database: "sales", Table: "clients", Column: "email"}, map[string]string{"grade": "1"}))
		step("grading a column 1", "clients", all, []string{"client_id", "amount"})

		must[*TagKeyInfo](t)(a.CreateTagKey(ctx, "domain", []string{"retail", "card"}))
		tags(a.AssignTags(ctx, Resource{Database: "sales"}, map[string]string{"domain": "retail"}))
		tags(a.AssignTags(ctx, Resource{Database: "sales", Table: "clients", Column: "amount"}, map[string]string{"domain": "card"}))
		step("tagging domains", "clients", []string{"client_id", "amount"}, []string{"client_id", "amount"})

		// A dataset created and deleted in the store, as ingest does.
		orders := &dataset.Dataset{ID: "sales.orders", Grade: 2, Columns: []dataset.Column{{Name: "order_id", Type: dataset.TypeString}, {Name: "total", Type: dataset.TypeString}}}
		must[*dataset.Dataset](t)(setup.CreateDataset(ctx, orders))
		none(nil, a.DatasetChanged(ctx, "sales.orders"))
		tags(a.AssignTags(ctx, Resource{Database: "sales", Table: "orders", Column: "total"}, map[string]string{"domain": "card"}))
		step("a dataset's creation", "orders", nil, []string{"order_id", "total"})
		none(nil, setup.DeleteDataset(ctx, "sales.orders", ""))
		none(nil, a.DatasetChanged(ctx, "sales.orders"))
		step("a dataset's deletion", "orders", []string{"order_id", "total"}, nil)

		tags(a.RemoveTags(ctx, Resource{Database: "sales", Table: "clients", Column: "amount"}, []string{"domain"}))
		tags(a.RemoveTags(ctx, Resource{Database: "sales"}, []string{"domain"}))
		none(nil, a.DeleteTagKey(ctx, "domain"))
		step("removing the domains", "clients", []string{"client_id", "amount"}, []string{"client_id", "amount"})

		// A revoke on A is a denial on B.
		none(nil, a.DeleteGroupGrant(ctx, g.ID))
		step("the revoke", "clients", []string{"client_id", "amount"}, nil)
		dec, err := b.CheckAccess(Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"client_id"}, Permission: Select})
		if err != nil || dec.Allowed {
			t.Errorf("B after the revoke decides %+v, %v; want denied", dec, err)
		}
		if s := b.log.String(); s != "" {
			t.Errorf("B logged %q, want nothing (no reload)", s)
		}
	})
}

// TestFollowPicksUpChanges checks that Follow applies another replica's
// writes within a few intervals, and stops when its context ends.
func TestFollowPicksUpChanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		d := &dataset.Dataset{ID: "sales.clients", Grade: 3, Columns: []dataset.Column{{Name: "client_id", Type: dataset.TypeString}, {Name: "email", Type: dataset.TypeString}}}
		if _, err := handle().CreateDataset(ctx, d); err != nil {
			t.Fatalf("CreateDataset: %v", err)
		}
		a, b := newReplica(t, handle), newReplica(t, handle)
		const interval = 10 * time.Millisecond
		fctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			b.Follow(fctx, interval)
			close(stopped)
		}()
		defer func() {
			cancel()
			<-stopped
		}()

		g, err := a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}})
		if err != nil {
			t.Fatalf("CreateGroupGrant: %v", err)
		}
		if got := columnsAllowed(t, a.Service, "analysts", "sales", "clients"); len(got) != 2 {
			t.Fatalf("A allows %v after its grant, want both columns", got)
		}
		took := eventually(t, 2*time.Second, seen("the grant", func() bool { return len(columnsAllowed(t, b.Service, "analysts", "sales", "clients")) == 2 }))
		t.Logf("grant seen after %s", took)
		if err := a.DeleteGroupGrant(ctx, g.ID); err != nil {
			t.Fatalf("DeleteGroupGrant: %v", err)
		}
		took = eventually(t, 2*time.Second, seen("the revoke", func() bool { return len(columnsAllowed(t, b.Service, "analysts", "sales", "clients")) == 0 }))
		t.Logf("revoke seen after %s", took)

		cancel()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			t.Fatal("Follow did not return within 2s of its context ending")
		}
	})
}

// flakyStore fails GovernanceVersion while fail is set, and blocks in it
// until ctx ends while hang is set.
type flakyStore struct {
	sharedStore
	fail, hang atomic.Bool
}

func (f *flakyStore) GovernanceVersion(ctx context.Context) (int64, error) {
	if f.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if f.fail.Load() {
		return 0, errors.New("store unreachable")
	}
	return f.sharedStore.GovernanceVersion(ctx)
}

// TestFollowRetriesAfterStoreErrors checks that Follow keeps going when
// the store fails, logs the failure once, and catches up when it is back.
func TestFollowRetriesAfterStoreErrors(t *testing.T) {
	ctx := context.Background()
	handle := backends[0].open(t)
	createClients(t, handle())
	a := newReplica(t, handle)
	flaky := &flakyStore{sharedStore: handle()}
	b := newReplica(t, func() sharedStore { return flaky })
	flaky.fail.Store(true)
	follow(t, b, 5*time.Millisecond)
	eventually(t, 2*time.Second, seen("the failure in the log", func() bool { return strings.Contains(b.log.String(), "refresh failed") }))
	must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
	if got := columnsAllowed(t, b.Service, "analysts", "sales", "clients"); len(got) != 0 {
		t.Fatalf("B allows %v while its store fails", got)
	}
	flaky.fail.Store(false)
	eventually(t, 2*time.Second, seen("the grant", func() bool { return len(columnsAllowed(t, b.Service, "analysts", "sales", "clients")) == 1 }))
	eventually(t, 2*time.Second, seen("the recovery in the log", func() bool { return strings.Contains(b.log.String(), "refresh recovered") }))
	if n := strings.Count(b.log.String(), "refresh failed"); n != 1 {
		t.Errorf("the failure was logged %d times at info level or above, want once:\n%s", n, b.log.String())
	}
}

// TestRefreshRebuildsAfterPrunedGap checks that a replica whose next
// changes the log no longer keeps reloads its whole index.
func TestRefreshRebuildsAfterPrunedGap(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		mustDataset(t, handle(), "sales.clients", "client_id", "email")
		a, b := newReplica(t, handle), newReplica(t, handle)
		if _, err := a.st.DB().ExecContext(ctx, `UPDATE governance_version SET keep_changes = 2`); err != nil {
			t.Fatalf("lower keep_changes: %v", err)
		}
		for _, grp := range []string{"g1", "g2", "g3", "g4"} {
			if _, err := a.CreateGroupGrant(ctx, GrantSpec{Group: grp, Grade: 3, Permissions: []Permission{Select}}); err != nil {
				t.Fatalf("CreateGroupGrant: %v", err)
			}
		}
		if cs, err := a.st.GovernanceChanges(ctx, 0, 0); err != nil || len(cs) != 2 || cs[0].Seq != 4 {
			t.Fatalf("kept changes %+v, %v; want seqs 4 and 5 (1, the dataset, and 2, 3 pruned)", cs, err)
		}
		u := universe{tables: map[string][]string{"sales.clients": {"client_id", "email"}}, groups: []string{"g1", "g2", "g3", "g4"}}
		if got := columnsAllowed(t, b.Service, "g1", "sales", "clients"); len(got) != 0 {
			t.Fatalf("B before refresh allows %v", got)
		}
		mustRefresh(t, b)
		mustAgree(t, "after refresh over a gap", b, a, u)
		if s := b.log.String(); !strings.Contains(s, "reloading the index") {
			t.Errorf("B logged %q, want a reload", s)
		}
		// And it follows on from the reload.
		if _, err := a.CreateGroupGrant(ctx, GrantSpec{Group: "g5", Grade: 3, Permissions: []Permission{Select}}); err != nil {
			t.Fatalf("CreateGroupGrant: %v", err)
		}
		mustRefresh(t, b)
		u.groups = append(u.groups, "g5")
		mustAgree(t, "after the next change", b, a, u)
	})
}

// TestConcurrentWritersConverge runs writers on replicas A and C while B
// follows, and checks that B ends with the answers of an index rebuilt
// from the store, as do A and C after a refresh.
func TestConcurrentWritersConverge(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		setup := handle()
		u := universe{tables: map[string][]string{}, groups: []string{"g0", "g1", "g2"}}
		cols := []string{"c0", "c1", "c2"}
		for i := range 4 {
			id := fmt.Sprintf("db%d.t%d", i%2, i)
			mustDataset(t, setup, id, cols...)
			u.tables[id] = cols
		}
		for i := range 2 {
			u.tables[fmt.Sprintf("tmp.w%d", i)] = cols
		}
		a, b, c := newReplica(t, handle), newReplica(t, handle), newReplica(t, handle)
		stale := newReplica(t, handle) // never refreshed
		if _, err := a.CreateTagKey(ctx, "domain", []string{"retail", "card"}); err != nil {
			t.Fatalf("CreateTagKey: %v", err)
		}
		follow(t, b, 5*time.Millisecond)

		write := func(w int, r *replica) error {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			var grants []string
			for range 30 {
				n := rnd.IntN(4)
				id := fmt.Sprintf("db%d.t%d", n%2, n)
				ns, tbl, _ := dataset.SplitID(id)
				col := cols[rnd.IntN(len(cols))]
				var err error
				switch rnd.IntN(7) {
				case 0:
					var g *store.GroupGrant
					g, err = r.CreateGroupGrant(ctx, GrantSpec{Group: u.groups[rnd.IntN(3)], Grade: 1 + rnd.IntN(3), Permissions: []Permission{Select}})
					if err == nil {
						grants = append(grants, g.ID)
					}
				case 1:
					if len(grants) > 0 {
						err = r.DeleteGroupGrant(ctx, grants[0])
						grants = grants[1:]
					}
				case 2:
					_, err = r.AssignTags(ctx, Resource{Database: ns, Table: tbl, Column: col}, map[string]string{"grade": strconv.Itoa(1 + rnd.IntN(3))})
				case 3:
					_, err = r.RemoveTags(ctx, Resource{Database: ns, Table: tbl, Column: col}, []string{"grade"})
				case 4:
					_, err = r.AssignTags(ctx, Resource{Database: ns}, map[string]string{"domain": []string{"retail", "card"}[rnd.IntN(2)], "grade": "3"})
				case 5:
					_, err = r.AssignTags(ctx, Resource{Database: ns, Table: tbl}, map[string]string{"domain": "card"})
				default:
					tmp := fmt.Sprintf("tmp.w%d", w)
					if _, gerr := r.st.GetDataset(ctx, tmp); gerr == nil {
						err = r.st.DeleteDataset(ctx, tmp, "")
					} else {
						_, err = r.st.CreateDataset(ctx, &dataset.Dataset{ID: tmp, Grade: 1 + rnd.IntN(3), Columns: []dataset.Column{{Name: "c0", Type: dataset.TypeString}}})
					}
					if err == nil {
						err = r.DatasetChanged(ctx, tmp)
					}
				}
				if err != nil {
					return err
				}
			}
			return nil
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w, r := range []*replica{a, c} {
			wg.Go(func() { errs[w] = write(w, r) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("writers: %v", err)
		}

		fresh := newReplica(t, handle)
		want := answers(t, fresh.Service, u)
		if diff(answers(t, stale.Service, u), want) == "" {
			t.Fatal("the writes changed no answer; the test would prove nothing")
		}
		took := eventually(t, 5*time.Second, func() string {
			if d := diff(answers(t, b.Service, u), want); d != "" {
				return "the follower differs from a rebuilt index:\n" + d
			}
			return ""
		})
		t.Logf("the follower matched a rebuilt index %s after the writers ended", took)
		for name, r := range map[string]*replica{"A": a, "C": c} {
			mustRefresh(t, r)
			if d := diff(answers(t, r.Service, u), want); d != "" {
				t.Errorf("writer %s after refresh differs from a rebuilt index:\n%s", name, d)
			}
		}
		if s := b.log.String(); s != "" {
			t.Errorf("the follower logged %q, want nothing (no error, no reload)", s)
		}
	})
}

// BenchmarkRefresh measures one Refresh of a replica on a catalog of
// 10,000 tables of 30 columns and 300 grants: after another replica changed
// the grade of one column (one change to apply), and with nothing to apply.
func BenchmarkRefresh(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			handle := be.open(b)
			setup := handle()
			// SQLite takes one writer at a time, PostgreSQL several.
			writers := 1
			if be.name == "postgres" {
				writers = 8
			}
			ids := make(chan int)
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for i := range ids {
						d := &dataset.Dataset{ID: fmt.Sprintf("db%02d.t%05d", i%20, i), Grade: 1 + i%3}
						for c := range 30 {
							d.Columns = append(d.Columns, dataset.Column{Name: "c" + strconv.Itoa(c), Type: dataset.TypeString})
						}
						if _, err := setup.CreateDataset(ctx, d); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for i := range 10000 {
				ids <- i
			}
			close(ids)
			wg.Wait()
			w, r := newReplica(b, handle), newReplica(b, handle)
			for g := range 300 {
				if _, err := w.CreateGroupGrant(ctx, GrantSpec{Group: fmt.Sprintf("group%03d", g), Grade: 1 + g%3, Permissions: []Permission{Select}}); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			b.Run("one change", func(b *testing.B) {
				col := Resource{Database: "db07", Table: "t00007", Column: "c1"}
				i := 0
				for b.Loop() {
					b.StopTimer()
					i++
					if _, err := w.AssignTags(ctx, col, map[string]string{"grade": strconv.Itoa(1 + i%3)}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if err := r.Refresh(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("no change", func(b *testing.B) {
				for b.Loop() {
					if err := r.Refresh(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestMaxStalenessFailsClosed checks that a replica cut off from the store
// stops answering from its index once it has gone longer than the bound
// without a refresh, whether its refreshes fail or hang, and answers again,
// with what was written meanwhile, once a refresh succeeds.
func TestMaxStalenessFailsClosed(t *testing.T) {
	ctx := context.Background()
	handle := backends[0].open(t)
	createClients(t, handle())
	a := newReplica(t, handle)
	for _, mode := range []string{"failing", "hanging"} {
		t.Run(mode, func(t *testing.T) {
			flaky := &flakyStore{sharedStore: handle()}
			b := newReplica(t, func() sharedStore { return flaky }, WithMaxStaleness(100*time.Millisecond))
			b.refreshTimeout = 20 * time.Millisecond // a hung refresh gives up after this
			follow(t, b, 5*time.Millisecond)
			check := Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Permission: Select}
			if _, err := b.CheckAccess(check); err != nil {
				t.Fatalf("CheckAccess on a fresh index: %v", err)
			}
			map[string]*atomic.Bool{"failing": &flaky.fail, "hanging": &flaky.hang}[mode].Store(true)
			grant := must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
			t.Cleanup(func() { _ = a.DeleteGroupGrant(ctx, grant.ID) })
			eventually(t, 2*time.Second, seen("UNAVAILABLE", func() bool {
				_, err := b.CheckAccess(check)
				return errors.Is(err, fault.ErrUnavailable)
			}))
			b.freshMu.Lock()
			age := time.Since(b.freshAt)
			b.freshMu.Unlock()
			if age <= 100*time.Millisecond {
				t.Errorf("stale when its last refresh began %s ago, within the 100ms bound", age)
			}
			calls := map[string]error{"Fresh": b.Fresh()}
			_, calls["BatchCheckAccess"] = b.BatchCheckAccess([]Check{check})
			_, _, calls["ListAccessibleTables"] = b.ListAccessibleTables("analysts", 10, "")
			_, calls["ResolveGrant"] = b.ResolveGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}})
			_, calls["ResourceTags"] = b.ResourceTags(Resource{Database: "sales"})
			_, _, calls["ListResourceTags"] = b.ListResourceTags("sales", "", 10, "")
			_, _, calls["ListTagKeys"] = b.ListTagKeys(10, "")
			for name, err := range calls {
				if !errors.Is(err, fault.ErrUnavailable) || errcode.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "100ms allowed") {
					t.Errorf("%s on a stale index: %v, want UNAVAILABLE naming the bound", name, err)
				}
			}
			if !strings.Contains(b.log.String(), "governance index is stale") {
				t.Errorf("the log does not say the index is stale:\n%s", b.log.String())
			}
			flaky.fail.Store(false)
			flaky.hang.Store(false)
			eventually(t, 2*time.Second, seen("the grant, after the store is back", func() bool {
				dec, err := b.CheckAccess(check)
				return err == nil && dec.Allowed
			}))
			if !strings.Contains(b.log.String(), "fresh again") {
				t.Errorf("the log does not say the index is fresh again:\n%s", b.log.String())
			}
		})
	}
}

// TestSyncPlansSeeOtherReplicas checks that a plan made on a replica that
// does not follow the store yet holds a grant another replica just made,
// and that applying it refuses a plan made before another replica's
// change.
func TestSyncPlansSeeOtherReplicas(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		a, b := newReplica(t, handle), newReplica(t, handle)
		must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 2, Permissions: []Permission{Select}}))
		plan := must[*SyncPlan](t)(b.PlanSync(ctx))
		if !slices.ContainsFunc(plan.Actions, func(x SyncAction) bool {
			return x.Kind == "GRANT_PERMISSIONS" && strings.Contains(x.Description, "analysts SELECT on TABLE grade IN (2,3)")
		}) {
			t.Fatalf("B's plan misses A's grant: %+v", plan.Actions)
		}
		must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "auditors", Grade: 1, Permissions: []Permission{Describe}}))
		if _, err := b.ApplySync(ctx, plan.ID); !errors.Is(err, fault.ErrFailedPrecondition) {
			t.Fatalf("B applied a plan made before A's second grant: %v", err)
		}
	})
}

// TestEmptiedTablesReload checks that emptying the grants table at once
// (PostgreSQL's TRUNCATE, SQLite's DELETE without WHERE) reaches another
// replica, which reloads its index and so forgets the grants.
func TestEmptiedTablesReload(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		createClients(t, handle())
		a, b := newReplica(t, handle), newReplica(t, handle)
		must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
		mustRefresh(t, b)
		if got := columnsAllowed(t, b.Service, "analysts", "sales", "clients"); len(got) != 1 {
			t.Fatalf("B allows %v before the grants are emptied, want client_id", got)
		}
		empty := "DELETE FROM group_grants"
		if _, ok := a.st.(*postgres.Store); ok {
			empty = "TRUNCATE group_grants"
		}
		if _, err := a.st.DB().ExecContext(ctx, empty); err != nil {
			t.Fatalf("%s: %v", empty, err)
		}
		mustRefresh(t, b)
		if got := columnsAllowed(t, b.Service, "analysts", "sales", "clients"); len(got) != 0 {
			t.Fatalf("after %s, B still allows %v", empty, got)
		}
	})
}

// TestGrantMovedToAnotherGroup checks that a grant whose group is changed
// in the store (only SQL can) leaves its old group on another replica's
// refresh, and opens the table to the new one.
func TestGrantMovedToAnotherGroup(t *testing.T) {
	eachBackend(t, func(t *testing.T, handle func() sharedStore) {
		ctx := context.Background()
		createClients(t, handle())
		a, b := newReplica(t, handle), newReplica(t, handle)
		g := must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
		mustRefresh(t, b)
		move := "UPDATE group_grants SET grp = 'auditors' WHERE id = ?"
		if _, ok := a.st.(*postgres.Store); ok {
			move = "UPDATE group_grants SET grp = 'auditors' WHERE id = $1"
		}
		if _, err := a.st.DB().ExecContext(ctx, move, g.ID); err != nil {
			t.Fatal(err)
		}
		mustRefresh(t, b)
		if got := columnsAllowed(t, b.Service, "analysts", "sales", "clients"); len(got) != 0 {
			t.Errorf("the grant's old group still reads %v", got)
		}
		if got := columnsAllowed(t, b.Service, "auditors", "sales", "clients"); len(got) != 1 {
			t.Errorf("the grant's new group reads %v, want client_id", got)
		}
	})
}

// pausingStore, once armed, pauses the next GovernanceVersion call,
// after reading the version, until resume is closed.
type pausingStore struct {
	sharedStore
	armed          atomic.Bool
	paused, resume chan struct{}
}

func (p *pausingStore) GovernanceVersion(ctx context.Context) (int64, error) {
	v, err := p.sharedStore.GovernanceVersion(ctx)
	if p.armed.CompareAndSwap(true, false) {
		close(p.paused)
		<-p.resume
	}
	return v, err
}

// TestConcurrentRefreshesDoNotReload checks that a refresh that read the
// log's version while another refresh applied a newer change does not
// take the index for ahead of the store and reload it whole.
func TestConcurrentRefreshesDoNotReload(t *testing.T) {
	ctx := context.Background()
	handle := backends[0].open(t)
	a := newReplica(t, handle)
	p := &pausingStore{sharedStore: handle(), paused: make(chan struct{}), resume: make(chan struct{})}
	b := newReplica(t, func() sharedStore { return p })

	p.armed.Store(true)
	first := make(chan error, 1)
	go func() { first <- b.Refresh(ctx) }()
	<-p.paused
	must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
	second := make(chan error, 1)
	go func() { second <- b.Refresh(ctx) }()
	var errs []error
	select {
	case err := <-second:
		// The second refresh ran while the first waited (as it could
		// when the version was read before the lock).
		errs, second = append(errs, err), nil
	case <-time.After(100 * time.Millisecond):
	}
	close(p.resume)
	errs = append(errs, <-first)
	if second != nil {
		errs = append(errs, <-second)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.log.String(), "reloading the index") {
		t.Errorf("concurrent refreshes reloaded the index:\n%s", b.log.String())
	}
}

// createClients stores the dataset sales.clients, of grade 3, with one
// column, client_id.
func createClients(t *testing.T, st sharedStore) {
	t.Helper()
	d := &dataset.Dataset{ID: "sales.clients", Grade: 3, Columns: []dataset.Column{{Name: "client_id", Type: dataset.TypeString}}}
	must[*dataset.Dataset](t)(st.CreateDataset(context.Background(), d))
}

// TestRefreshReloadsOnWhatItCannotApply checks the two ways a refresh
// gives up applying changes one by one and reloads the index whole,
// saying why: a change of a kind this version does not know, and a log
// whose version went back below what the index applied (a store replaced).
// Either way the index then holds what the store holds.
func TestRefreshReloadsOnWhatItCannotApply(t *testing.T) {
	ctx := context.Background()
	handle := backends[0].open(t)
	createClients(t, handle())
	a, b := newReplica(t, handle), newReplica(t, handle)
	for _, c := range []struct{ sql, log string }{
		{`INSERT INTO governance_append (kind, key) VALUES ('future', 'x')`, "unreadable governance change"},
		{`UPDATE governance_version SET v = 0`, "behind the index"},
	} {
		g := must[*store.GroupGrant](t)(a.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 3, Permissions: []Permission{Select}}))
		mustRefresh(t, b)
		if err := a.DeleteGroupGrant(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.st.DB().ExecContext(ctx, c.sql); err != nil {
			t.Fatalf("%s: %v", c.sql, err)
		}
		mustRefresh(t, b)
		if !strings.Contains(b.log.String(), c.log) || !strings.Contains(b.log.String(), "reloading the index") {
			t.Errorf("after %s the log does not say %q and that it reloads:\n%s", c.sql, c.log, b.log.String())
		}
		if got := columnsAllowed(t, b.Service, "analysts", "sales", "clients"); len(got) != 0 {
			t.Errorf("after %s and a reload, the deleted grant still opens %v", c.sql, got)
		}
	}
}
