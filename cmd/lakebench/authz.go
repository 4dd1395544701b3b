package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"
	"unsafe"

	"github.com/cedar-policy/cedar-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/govern"
	"github.com/lakeplane/lakeplane/internal/server"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// authzCatalog is the generated catalog: its datasets and, per table, the
// effective grade of every column (0: untagged), which cedar gets as an
// entity attribute.
type authzCatalog struct {
	datasets []*dataset.Dataset
	dbs      []string // database of each table
	tables   []string // table name of each table
	colGrade [][]int  // effective grade per table and column
	groups   []string
	grades   []int // the grade of each group's grant
}

// authzQuery is one single-column decision: the inputs that both engines
// take, and the table's position in the catalog.
type authzQuery struct {
	db, table, column string
	group             []string
	tableIndex        int
}

// authz runs `lakebench authz`: it builds a catalog in a fresh SQLite store
// behind a real govern.Service, measures decisions in process (and the
// same decisions with cedar-go), then CheckAccess over gRPC on loopback.
func authz(args []string) error {
	fs := flag.NewFlagSet("authz", flag.ContinueOnError)
	tables := fs.Int("tables", 10_000, "tables in the catalog")
	columns := fs.Int("columns", 30, "columns per table")
	groups := fs.Int("groups", 300, "groups, one grant each")
	clients := fs.Int("clients", 4*runtime.NumCPU(), "concurrent gRPC clients")
	calls := fs.Int("calls", 1_000_000, "most gRPC calls")
	maxTime := fs.Duration("grpc-time", 10*time.Second, "most time for the gRPC run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the gRPC run (client and server) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "lakebench-authz-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	start := time.Now()
	cat := genCatalog(*tables, *columns, *groups)
	svc, err := loadCatalog(ctx, filepath.Join(work, "lakeplane.db"), cat)
	if err != nil {
		return err
	}
	fmt.Printf("catalog: %d tables x %d columns, %d groups; stored and indexed in %v\n", *tables, *columns, *groups, time.Since(start).Round(time.Millisecond))

	qs := genQueries(cat, 1<<16)
	ix := svc.Index()
	if err := crossCheck(ix, cat, qs); err != nil {
		return err
	}
	m := measureIndex(ix, cat, qs)

	cd, err := newCedarDecider(cat)
	var cm *measured
	if err != nil {
		fmt.Println("cedar-go:", err, "- skipping its column")
	} else {
		if err := cedarCrossCheck(cd, ix, qs); err != nil {
			return err
		}
		cm = measureCedar(cd, cat, qs)
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	g, err := measureGRPC(ctx, svc, qs, *clients, *calls, *maxTime)
	if err := errors.Join(err, stopProfile()); err != nil {
		return err
	}
	floor, err := measureGRPCFloor(ctx, *clients, *calls, *maxTime)
	if err != nil {
		return err
	}
	printAuthz(os.Stdout, m, cm, g, floor, *clients)
	return nil
}

// genCatalog makes tables of columns in 20 databases: 2% of tables
// untagged, 10% of the columns of tagged tables overriding the table's
// grade; and groups with grant grades 1..3 in turn.
func genCatalog(tables, columns, groups int) *authzCatalog {
	r := rand.New(rand.NewPCG(1, 2))
	cat := &authzCatalog{}
	for i := range tables {
		db, tbl := fmt.Sprintf("db%02d", i%20), fmt.Sprintf("t%05d", i)
		d := &dataset.Dataset{ID: db + "." + tbl}
		if r.IntN(50) != 0 {
			d.Grade = 1 + r.IntN(3)
		}
		eff := make([]int, columns)
		for c := range columns {
			col := dataset.Column{Name: "c" + strconv.Itoa(c), Type: dataset.TypeString}
			eff[c] = d.Grade
			if d.Grade != 0 && r.IntN(10) == 0 {
				col.Grade = 1 + r.IntN(3)
				eff[c] = col.Grade
			}
			d.Columns = append(d.Columns, col)
		}
		cat.datasets = append(cat.datasets, d)
		cat.dbs, cat.tables, cat.colGrade = append(cat.dbs, db), append(cat.tables, tbl), append(cat.colGrade, eff)
	}
	for g := range groups {
		cat.groups = append(cat.groups, fmt.Sprintf("group%03d", g))
		cat.grades = append(cat.grades, 1+g%3)
	}
	return cat
}

// loadCatalog stores the catalog and its grants in a fresh SQLite store
// and returns a service on it, its index built from the store.
func loadCatalog(ctx context.Context, path string, cat *authzCatalog) (*govern.Service, error) {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	// The store stays open for the process's life: the service reads it.
	for _, d := range cat.datasets {
		if _, err := st.CreateDataset(ctx, d); err != nil {
			return nil, fmt.Errorf("store dataset %s: %w", d.ID, err)
		}
	}
	svc, err := govern.New(ctx, st, "grade", 3, nil)
	if err != nil {
		return nil, err
	}
	for i, g := range cat.groups {
		spec := govern.GrantSpec{Group: g, Grade: cat.grades[i], Permissions: []govern.Permission{govern.Select}}
		if _, err := svc.CreateGroupGrant(ctx, spec); err != nil {
			return nil, fmt.Errorf("grant for %s: %w", g, err)
		}
	}
	return svc, nil
}

// genQueries makes n single-column decisions on random tables, columns and
// groups.
func genQueries(cat *authzCatalog, n int) []authzQuery {
	r := rand.New(rand.NewPCG(3, 4))
	qs := make([]authzQuery, n)
	// A query's names are fresh copies laid out in query order, as the
	// names of a request just decoded are in cache, not the catalog's.
	arena := make([]byte, 0, n*40)
	fresh := func(s string) string {
		start := len(arena)
		arena = append(arena, s...)
		return unsafe.String(&arena[start], len(s))
	}
	for i := range qs {
		t, g := r.IntN(len(cat.tables)), r.IntN(len(cat.groups))
		c := r.IntN(len(cat.colGrade[t]))
		qs[i] = authzQuery{db: fresh(cat.dbs[t]), table: fresh(cat.tables[t]), column: fresh("c" + strconv.Itoa(c)), group: []string{fresh(cat.groups[g])}, tableIndex: t}
	}
	return qs
}

// crossCheck makes sure the index decides as the catalog says, so that the
// timings are of right answers.
func crossCheck(ix *govern.Index, cat *authzCatalog, qs []authzQuery) error {
	grade := map[string]int{}
	for i, g := range cat.groups {
		grade[g] = cat.grades[i]
	}
	pos := map[string]int{}
	for i := range cat.tables {
		pos[cat.dbs[i]+"."+cat.tables[i]] = i
	}
	for _, q := range qs[:4096] {
		c, _ := strconv.Atoi(q.column[1:])
		eff := cat.colGrade[pos[q.db+"."+q.table]][c]
		want := eff != 0 && eff >= grade[q.group[0]]
		if got := ix.Allowed(q.group, q.db, q.table, q.column, govern.Select); got != want {
			return fmt.Errorf("self-check: %s on %s.%s.%s: index says %v, want %v", q.group[0], q.db, q.table, q.column, got, want)
		}
	}
	return nil
}

// measured are the in-process timings of one engine.
type measured struct {
	hotNs, randomNs float64 // one column decision, one table / random tables
	listNs          float64 // readable columns of one random table for one group
	allocs          float64 // per single-column decision
}

// benchFn runs fn as a Go benchmark and returns ns/op and allocs/op.
func benchFn(fn func(b *testing.B)) (float64, float64) {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		fn(b)
	})
	if r.N == 0 {
		return 0, 0
	}
	return float64(r.T.Nanoseconds()) / float64(r.N), float64(r.MemAllocs) / float64(r.N)
}

// measureIndex times lakeplane's index.
func measureIndex(ix *govern.Index, cat *authzCatalog, qs []authzQuery) *measured {
	m := &measured{}
	mask := len(qs) - 1
	m.hotNs, _ = benchFn(func(b *testing.B) {
		q := qs[0]
		i := 0
		for b.Loop() {
			i++
			ix.Allowed(q.group, q.db, q.table, qs[i&31].column, govern.Select)
		}
	})
	m.randomNs, _ = benchFn(func(b *testing.B) {
		i := 0
		for b.Loop() {
			q := &qs[i&mask]
			i++
			ix.Allowed(q.group, q.db, q.table, q.column, govern.Select)
		}
	})
	m.listNs, _ = benchFn(func(b *testing.B) {
		dst := make([]string, 0, 64)
		i := 0
		for b.Loop() {
			q := &qs[i&mask]
			i++
			dst = ix.ReadableColumns(dst[:0], q.group[0], q.db, q.table)
		}
	})
	i := 0
	m.allocs = testing.AllocsPerRun(10_000, func() {
		q := &qs[i&mask]
		i++
		ix.Allowed(q.group, q.db, q.table, q.column, govern.Select)
	})
	return m
}

// cedarPolicy is the grade rule in Cedar.
const cedarPolicy = `permit(principal, action, resource) when { resource.grade >= principal.grade };`

// cedarDecider decides with cedar-go what Index.Allowed decides, from the
// same inputs: one entity store holding the whole catalog, and per
// decision a request built from the group, database, table, column and
// permission names and one cedar.Authorize call per group.
type cedarDecider struct {
	policies *cedar.PolicySet
	entities cedar.EntityMap
	// id is where a column's entity id is put together, so that building a
	// request allocates nothing that a cedar user could not avoid.
	id []byte
}

// newCedarDecider builds the policy set and the entity store: a Group per
// group with its grant's grade, a Table per table and a Column per column
// (its parent the table), each with its effective grade; none when
// untagged, so that the policy errs and denies, as Lake Formation denies
// untagged resources.
func newCedarDecider(cat *authzCatalog) (*cedarDecider, error) {
	ps, err := cedar.NewPolicySetFromBytes("grade.cedar", []byte(cedarPolicy))
	if err != nil {
		return nil, fmt.Errorf("cedar policy: %w", err)
	}
	entities := cedar.EntityMap{}
	for i, g := range cat.groups {
		uid := cedar.NewEntityUID("Group", cedar.String(g))
		entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{"grade": cedar.Long(cat.grades[i])})}
	}
	for t, d := range cat.datasets {
		table := cedar.NewEntityUID("Table", cedar.String(d.ID))
		entities[table] = cedar.Entity{UID: table, Attributes: gradeRecord(d.Grade)}
		parents := cedar.NewEntityUIDSet(table)
		for c, grade := range cat.colGrade[t] {
			uid := cedar.NewEntityUID("Column", cedar.String(d.ID+"."+d.Columns[c].Name))
			entities[uid] = cedar.Entity{UID: uid, Parents: parents, Attributes: gradeRecord(grade)}
		}
	}
	return &cedarDecider{policies: ps, entities: entities}, nil
}

// gradeRecord returns the attributes of a resource of an effective grade
// (0: untagged, no grade attribute).
func gradeRecord(grade int) cedar.Record {
	if grade == 0 {
		return cedar.NewRecord(nil)
	}
	return cedar.NewRecord(cedar.RecordMap{"grade": cedar.Long(grade)})
}

// allowed reports whether any of groups holds permission p on column of
// database.table.
func (c *cedarDecider) allowed(groups []string, database, table, column string, p govern.Permission) bool {
	c.id = append(append(append(append(append(c.id[:0], database...), '.'), table...), '.'), column...)
	req := cedar.Request{
		Action: cedar.NewEntityUID("Action", cedar.String(p.String())),
		// cedar.Authorize keeps nothing of the request, so the id may be
		// the scratch bytes, not a copy.
		Resource: cedar.NewEntityUID("Column", cedar.String(unsafe.String(unsafe.SliceData(c.id), len(c.id)))),
	}
	for _, g := range groups {
		req.Principal = cedar.NewEntityUID("Group", cedar.String(g))
		if d, _ := cedar.Authorize(c.policies, c.entities, req); d == cedar.Allow {
			return true
		}
	}
	return false
}

// cedarCrossCheck makes sure cedar decides as the index does.
func cedarCrossCheck(cd *cedarDecider, ix *govern.Index, qs []authzQuery) error {
	for _, q := range qs[:4096] {
		if got, want := cd.allowed(q.group, q.db, q.table, q.column, govern.Select), ix.Allowed(q.group, q.db, q.table, q.column, govern.Select); got != want {
			return fmt.Errorf("cedar decides %v for %s on %s.%s.%s, the index %v", got, q.group[0], q.db, q.table, q.column, want)
		}
	}
	return nil
}

// measureCedar times the same decisions with cedar-go.
func measureCedar(cd *cedarDecider, cat *authzCatalog, qs []authzQuery) *measured {
	m := &measured{}
	mask := len(qs) - 1
	m.hotNs, _ = benchFn(func(b *testing.B) {
		q := qs[0]
		i := 0
		for b.Loop() {
			i++
			cd.allowed(q.group, q.db, q.table, qs[i&31].column, govern.Select)
		}
	})
	m.randomNs, _ = benchFn(func(b *testing.B) {
		i := 0
		for b.Loop() {
			q := &qs[i&mask]
			i++
			cd.allowed(q.group, q.db, q.table, q.column, govern.Select)
		}
	})
	// Cedar cannot list: the readable columns are those of the table, from
	// the catalog, that it allows one by one.
	m.listNs, _ = benchFn(func(b *testing.B) {
		dst := make([]string, 0, 64)
		i := 0
		for b.Loop() {
			q := &qs[i&mask]
			i++
			dst = dst[:0]
			for _, col := range cat.datasets[q.tableIndex].Columns {
				if cd.allowed(q.group, q.db, q.table, col.Name, govern.Select) {
					dst = append(dst, col.Name)
				}
			}
		}
	})
	i := 0
	m.allocs = testing.AllocsPerRun(10_000, func() {
		q := &qs[i&mask]
		i++
		cd.allowed(q.group, q.db, q.table, q.column, govern.Select)
	})
	return m
}

// grpcMeasured is the outcome of a gRPC run.
type grpcMeasured struct {
	calls    int
	elapsed  time.Duration
	p50, p99 time.Duration
}

// rate is calls per second.
func (g *grpcMeasured) rate() float64 { return float64(g.calls) / g.elapsed.Seconds() }

// measureGRPC serves the service's GrantsService on a loopback port
// through internal/server (the interceptors of the real server, with
// authentication off) and calls CheckAccess from concurrent clients until
// maxCalls calls or maxTime.
func measureGRPC(ctx context.Context, svc *govern.Service, qs []authzQuery, clients, maxCalls int, maxTime time.Duration) (*grpcMeasured, error) {
	addr, stop, err := serveInProcess(ctx, server.Services{Grants: govern.NewHandler(svc)})
	if err != nil {
		return nil, err
	}
	defer stop()
	return callConcurrently(ctx, addr, clients, maxCalls, maxTime, func(c *grpc.ClientConn) func(n int) error {
		cl := lakeplanev1.NewGrantsServiceClient(c)
		return func(n int) error {
			q := &qs[n&(len(qs)-1)]
			_, err := cl.CheckAccess(ctx, &lakeplanev1.CheckAccessRequest{Groups: q.group, Database: q.db, Table: q.table, Columns: []string{q.column}, Permission: lakeplanev1.Permission_SELECT})
			if err != nil {
				return fmt.Errorf("CheckAccess over gRPC: %w", err)
			}
			return nil
		}
	})
}

// measureGRPCFloor calls the health service of a bare grpc-go server (no
// interceptors, no telemetry) in the same way, so that CheckAccess's rate
// can be read against what gRPC itself does on this machine at this time.
func measureGRPCFloor(ctx context.Context, clients, maxCalls int, maxTime time.Duration) (*grpcMeasured, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()
	return callConcurrently(ctx, lis.Addr().String(), clients, maxCalls, maxTime, func(c *grpc.ClientConn) func(n int) error {
		cl := healthpb.NewHealthClient(c)
		return func(int) error {
			if _, err := cl.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				return fmt.Errorf("health Check over gRPC: %w", err)
			}
			return nil
		}
	})
}

// callConcurrently makes calls to addr from concurrent clients, over a few
// connections shared by them as a portal's pool would, until maxCalls
// calls or maxTime, and times each. newCall returns, for a connection,
// what makes call number n.
func callConcurrently(ctx context.Context, addr string, clients, maxCalls int, maxTime time.Duration, newCall func(*grpc.ClientConn) func(n int) error) (*grpcMeasured, error) {
	conns := make([]*grpc.ClientConn, min(clients, 4))
	calls := make([]func(int) error, len(conns))
	for i := range conns {
		var err error
		if conns[i], err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return nil, err
		}
		defer conns[i].Close()
		calls[i] = newCall(conns[i])
		// Warm up the connection.
		if err := calls[i](0); err != nil {
			return nil, err
		}
	}
	var next atomic.Int64
	deadline := time.Now().Add(maxTime)
	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call := calls[w%len(calls)]
			for ctx.Err() == nil {
				n := int(next.Add(1)) - 1
				if n >= maxCalls || (n&63 == 0 && time.Now().After(deadline)) {
					return
				}
				t0 := time.Now()
				if err := call(n); err != nil {
					errs[w] = err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return nil, errors.New("no gRPC call finished")
	}
	return &grpcMeasured{calls: len(all), elapsed: elapsed, p50: all[len(all)/2], p99: all[len(all)*99/100]}, nil
}

// printAuthz prints the results with cedar-go's and the ratios.
func printAuthz(w io.Writer, m, cm *measured, g, floor *grpcMeasured, clients int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tlakeplane\tcedar-go\tcedar/lakeplane\ttarget\t")
	row := func(name string, ours, theirs float64, target string) {
		if cm == nil {
			fmt.Fprintf(tw, "%s\t%.1f\t-\t-\t%s\t\n", name, ours, target)
			return
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1fx\t%s\t\n", name, ours, theirs, theirs/ours, target)
	}
	var c measured
	if cm != nil {
		c = *cm
	}
	row("ns per column decision, one table", m.hotNs, c.hotNs, "")
	row("ns per column decision, random tables", m.randomNs, c.randomNs, ">= 25x")
	row("ns per readable columns of a table", m.listNs, c.listNs, ">= 100x")
	fmt.Fprintf(tw, "allocs per column decision\t%.0f\t%s\t\t0\t\n", m.allocs, map[bool]string{true: "-", false: strconv.FormatFloat(c.allocs, 'f', 0, 64)}[cm == nil])
	rate, floorRate := g.rate(), floor.rate()
	fmt.Fprintf(tw, "gRPC CheckAccess/s (%d clients, %d calls)\t%.0f\t\t\t>= 20000\t\n", clients, g.calls, rate)
	fmt.Fprintf(tw, "gRPC p50 / p99 latency\t%v / %v\t\t\tp99 < 5ms\t\n", g.p50.Round(time.Microsecond), g.p99.Round(time.Microsecond))
	fmt.Fprintf(tw, "bare grpc-go health Check/s, same clients\t%.0f\t\t%.0f%%\t\t\n", floorRate, 100*rate/floorRate)
	fmt.Fprintf(tw, "bare grpc-go p50 / p99 latency\t%v / %v\t\t\t\t\n", floor.p50.Round(time.Microsecond), floor.p99.Round(time.Microsecond))
	tw.Flush()
	fmt.Fprintf(w, "GOMAXPROCS=%d, %s\n", runtime.GOMAXPROCS(0), runtime.Version())
}
