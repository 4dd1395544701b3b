package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/job"
	"github.com/lakeplane/lakeplane/internal/store"
)

// jobTests check store.Jobs.
var jobTests = []conformanceTest{
	{"JobCreateGetRoundTrip", testJobCreateGetRoundTrip},
	{"JobCreateRejects", testJobCreateRejects},
	{"JobNotFound", testJobNotFound},
	{"JobRequestID", testJobRequestID},
	{"JobConcurrentCreatesOneRequestID", testJobConcurrentCreatesOneRequestID},
	{"JobListPaging", testJobListPaging},
	{"JobListFilters", testJobListFilters},
	{"JobListTokenStable", testJobListTokenStable},
	{"JobListInvalidPageToken", testJobListInvalidPageToken},
	{"JobClaimOrder", testJobClaimOrder},
	{"JobClaimNothing", testJobClaimNothing},
	{"JobConcurrentClaims", func(t *testing.T, s store.Store) { CheckExclusiveClaims(t, s) }},
	{"JobRenewLease", testJobRenewLease},
	{"JobExpiredLeaseReclaimed", testJobExpiredLeaseReclaimed},
	{"JobRelease", testJobRelease},
	{"JobProgress", testJobProgress},
	{"JobFinish", testJobFinish},
	{"JobCancel", testJobCancel},
	{"JobFailStale", testJobFailStale},
	{"JobCanceledContext", testJobCanceledContext},
}

// Leases of the job tests: short ones that the tests wait out, and long ones
// that no test outlives.
const (
	shortLease = 50 * time.Millisecond
	longLease  = time.Minute
)

// newJob returns a job request of the given kind on dataset, with a spec
// whose bytes a store must keep as they are.
func newJob(kind job.Kind, dataset string) *job.Job {
	return &job.Job{
		Kind:      kind,
		Dataset:   dataset,
		Spec:      json.RawMessage(`{"sourceUri": "s3://bucket/clients.csv",  "mode":"APPEND", "note":"l'été 🚀 \u00e9"}`),
		Principal: "alice@example.com",
	}
}

// mustCreateJob queues j and fails the test unless it was queued anew.
func mustCreateJob(t *testing.T, s store.Store, j *job.Job) *job.Job {
	t.Helper()
	got, created, err := s.CreateJob(context.Background(), j)
	if err != nil {
		t.Fatalf("CreateJob(%s on %q): %v", j.Kind, j.Dataset, err)
	}
	if !created {
		t.Fatalf("CreateJob(%s on %q) returned existing job %q", j.Kind, j.Dataset, got.ID)
	}
	return got
}

// mustGetJob gets the job id and fails the test on error.
func mustGetJob(t *testing.T, s store.Store, id string) *job.Job {
	t.Helper()
	got, err := s.GetJob(context.Background(), id)
	if err != nil {
		t.Fatalf("GetJob(%q): %v", id, err)
	}
	return got
}

// mustClaim claims a job for owner and fails the test on error.
func mustClaim(t *testing.T, s store.Store, owner string, lease time.Duration) *job.Job {
	t.Helper()
	got, err := s.ClaimJob(context.Background(), owner, lease)
	if err != nil {
		t.Fatalf("ClaimJob(%q): %v", owner, err)
	}
	return got
}

// assertNoJob fails unless owner finds no job to claim.
func assertNoJob(t *testing.T, s store.Store, owner string) {
	t.Helper()
	got, err := s.ClaimJob(context.Background(), owner, longLease)
	if !errors.Is(err, store.ErrNoJob) {
		t.Errorf("ClaimJob(%q) = %+v, %v; want ErrNoJob", owner, got, err)
	}
}

// assertSameJob fails unless got equals want.
func assertSameJob(t *testing.T, what string, got, want *job.Job) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// claimEventually claims a job for owner as soon as one waits (a lease
// expires), failing the test if none does within a few seconds.
func claimEventually(t *testing.T, s store.Store, owner string, lease time.Duration) *job.Job {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		j, err := s.ClaimJob(context.Background(), owner, lease)
		switch {
		case err == nil:
			return j
		case !errors.Is(err, store.ErrNoJob):
			t.Fatalf("ClaimJob(%q): %v", owner, err)
		case time.Now().After(deadline):
			t.Fatalf("ClaimJob(%q): no job to claim within 5s", owner)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jobIDs returns the ids of js.
func jobIDs(js []*job.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// createJobs queues n jobs made by mk, one after the other, and returns
// their ids, oldest first.
func createJobs(t *testing.T, s store.Store, n int, mk func(i int) *job.Job) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = mustCreateJob(t, s, mk(i)).ID
	}
	return ids
}

// newestFirst returns ids reversed.
func newestFirst(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

// listAllJobs pages through a job listing and returns the ids of each page.
// It fails the test if paging does not end.
func listAllJobs(t *testing.T, s store.Store, opts store.ListJobsOptions) [][]string {
	t.Helper()
	return walkPages(t, fmt.Sprintf("ListJobs(%+v)", opts), opts.PageToken,
		func(token string) (store.Page[*job.Job], error) {
			opts.PageToken = token
			return s.ListJobs(context.Background(), opts)
		}, func(j *job.Job) string { return j.ID })
}

// allJobIDs returns the ids of every job in s, newest first.
func allJobIDs(t *testing.T, s store.Store) []string {
	t.Helper()
	return slices.Concat(listAllJobs(t, s, store.ListJobsOptions{})...)
}

func testJobCreateGetRoundTrip(t *testing.T, s store.Store) {
	in := newJob(job.Ingest, "sales.clients")
	in.RequestID = "req-1"
	// Fields the store owns: CreateJob must ignore them.
	in.ID, in.State, in.Phase, in.Attempt = "caller-id", job.Failed, "LOADING", 9
	in.Progress = job.Progress{RowsRead: 5}
	in.SnapshotID, in.Validations = 3, []string{"v"}
	in.Error, in.Result = &job.Error{Code: "INTERNAL"}, json.RawMessage(`{}`)
	in.CancelRequested, in.LeaseOwner, in.LeaseExpires = true, "w", time.Now()
	in.CreateTime, in.StartTime, in.EndTime, in.UpdateTime = time.Now(), time.Now(), time.Now(), time.Now()
	before := in.Clone()

	created := mustCreateJob(t, s, in)
	if !reflect.DeepEqual(in, before) {
		t.Errorf("CreateJob changed its argument:\n got %+v\nwant %+v", in, before)
	}
	if created.ID == "" || created.ID == "caller-id" {
		t.Errorf("ID = %q, want a new one", created.ID)
	}
	assertStoredTime(t, "CreateTime", created.CreateTime)
	want := &job.Job{
		ID: created.ID, Kind: job.Ingest, Dataset: "sales.clients", State: job.Queued,
		Spec: in.Spec, RequestID: "req-1", Principal: "alice@example.com",
		CreateTime: created.CreateTime, UpdateTime: created.CreateTime,
	}
	assertSameJob(t, "created job", created, want)
	assertSameJob(t, "GetJob", mustGetJob(t, s, created.ID), want)

	// No spec, no dataset (an erasure spans datasets), no request id.
	bare := mustCreateJob(t, s, &job.Job{Kind: job.Erase})
	got := mustGetJob(t, s, bare.ID)
	assertSameJob(t, "GetJob of a bare job", got, bare)
	if got.Spec != nil || got.Validations != nil || got.Error != nil || got.Result != nil {
		t.Errorf("bare job = %+v, want nil spec, validations, error and result", got)
	}
	if bare.ID == created.ID {
		t.Errorf("two jobs share id %q", bare.ID)
	}
}

func testJobCreateRejects(t *testing.T, s store.Store) {
	ctx := context.Background()
	for name, j := range map[string]*job.Job{
		"no kind":      {Dataset: "sales.clients"},
		"unknown kind": {Kind: "DELETE", Dataset: "sales.clients"},
		"invalid spec": {Kind: job.Ingest, Spec: json.RawMessage(`{"mode":`)},
	} {
		if got, _, err := s.CreateJob(ctx, j); err == nil {
			t.Errorf("%s: CreateJob = %+v, want an error", name, got)
		}
	}
	if ids := allJobIDs(t, s); len(ids) != 0 {
		t.Errorf("refused creates queued %v", ids)
	}
}

func testJobNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateJob(t, s, newJob(job.Ingest, "sales.clients"))
	const missing = "no-such-job"
	_, err := s.GetJob(ctx, missing)
	assertErrorIs(t, "GetJob", err, store.ErrNotFound)
	assertErrorIs(t, "RenewLease", s.RenewLease(ctx, missing, "w", longLease), store.ErrNotFound)
	_, err = s.UpdateJobProgress(ctx, missing, "w", "LOADING", job.Progress{})
	assertErrorIs(t, "UpdateJobProgress", err, store.ErrNotFound)
	_, err = s.FinishJob(ctx, missing, "w", job.Succeeded, 0, nil, nil, nil)
	assertErrorIs(t, "FinishJob", err, store.ErrNotFound)
	_, err = s.RequestCancel(ctx, missing)
	assertErrorIs(t, "RequestCancel", err, store.ErrNotFound)
	if err := s.RenewLease(ctx, missing, "w", longLease); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("RenewLease error %v does not name job %q", err, missing)
	}
}

func testJobRequestID(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := newJob(job.Ingest, "sales.clients")
	first.RequestID = "req-1"
	created := mustCreateJob(t, s, first)

	// A retry, even one that differs, returns the first job.
	retry := newJob(job.Ingest, "sales.other")
	retry.RequestID = "req-1"
	retry.Spec = json.RawMessage(`{"other":true}`)
	got, isNew, err := s.CreateJob(ctx, retry)
	if err != nil || isNew {
		t.Fatalf("CreateJob retry: created %v, error %v; want the first job", isNew, err)
	}
	assertSameJob(t, "retry", got, created)

	// The job as it is now, not as it was queued.
	claimed := mustClaim(t, s, "w", longLease)
	got, isNew, err = s.CreateJob(ctx, retry)
	if err != nil || isNew {
		t.Fatalf("CreateJob retry after claim: created %v, error %v; want the first job", isNew, err)
	}
	assertSameJob(t, "retry after claim", got, claimed)

	// The same request id on another kind, and jobs without one, are new.
	other := newJob(job.Erase, "")
	other.RequestID = "req-1"
	ids := []string{created.ID, mustCreateJob(t, s, other).ID}
	for range 2 {
		ids = append(ids, mustCreateJob(t, s, newJob(job.Ingest, "sales.clients")).ID)
	}
	if distinct := slices.Compact(slices.Sorted(slices.Values(ids))); len(distinct) != len(ids) {
		t.Errorf("job ids %v are not distinct", ids)
	}
}

func testJobConcurrentCreatesOneRequestID(t *testing.T, s store.Store) {
	ctx := context.Background()
	const callers = 10
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		jobs    = make([]*job.Job, callers)
		created = make([]bool, callers)
		errs    = make([]error, callers)
	)
	for i := range callers {
		wg.Go(func() {
			j := newJob(job.Ingest, "sales.clients")
			j.RequestID = "req-concurrent"
			<-start
			jobs[i], created[i], errs[i] = s.CreateJob(ctx, j)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: CreateJob: %v", i, errs[i])
		}
		if created[i] {
			won++
		}
		if jobs[i].ID != jobs[0].ID {
			t.Errorf("caller %d got job %q, caller 0 job %q", i, jobs[i].ID, jobs[0].ID)
		}
	}
	if won != 1 {
		t.Errorf("%d callers created a job, want exactly 1", won)
	}
	if ids := allJobIDs(t, s); len(ids) != 1 {
		t.Errorf("store holds jobs %v, want one", ids)
	}
}

func testJobListPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	ids := createJobs(t, s, 7, func(i int) *job.Job { return newJob(job.Ingest, fmt.Sprintf("sales.t%d", i)) })
	want := newestFirst(ids...)

	first, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 3})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	if got := jobIDs(first.Items); !slices.Equal(got, want[:3]) {
		t.Errorf("first page = %v, want %v", got, want[:3])
	}
	if first.NextPageToken == "" {
		t.Fatal("first page has no NextPageToken")
	}
	assertSameJob(t, "listed job", first.Items[0], mustGetJob(t, s, want[0]))

	if got := listAllJobs(t, s, store.ListJobsOptions{PageSize: 3}); !reflect.DeepEqual(got, [][]string{want[:3], want[3:6], want[6:]}) {
		t.Errorf("pages of 3 = %v, want %v", got, want)
	}
	if got := listAllJobs(t, s, store.ListJobsOptions{PageSize: 7}); !reflect.DeepEqual(got, [][]string{want}) {
		t.Errorf("exact page = %v, want %v and no empty page", got, [][]string{want})
	}
	if got := listAllJobs(t, s, store.ListJobsOptions{PageSize: 1}); len(got) != 7 || !slices.Equal(slices.Concat(got...), want) {
		t.Errorf("pages of 1 = %v, want %v one each", got, want)
	}
	all, err := s.ListJobs(ctx, store.ListJobsOptions{})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	if got := jobIDs(all.Items); !slices.Equal(got, want) || all.NextPageToken != "" {
		t.Errorf("default page = %v (token %q), want %v and no token", got, all.NextPageToken, want)
	}
	// A token is reusable, with another page size.
	resumed, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 10, PageToken: first.NextPageToken})
	if err != nil {
		t.Fatalf("ListJobs with a reused token: %v", err)
	}
	if got := jobIDs(resumed.Items); !slices.Equal(got, want[3:]) || resumed.NextPageToken != "" {
		t.Errorf("resumed page = %v (token %q), want %v", got, resumed.NextPageToken, want[3:])
	}
}

func testJobListFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	// j0 sales.a INGEST, j1 -- ERASE, j2 sales.a OPTIMIZE, j3 sales.b INGEST,
	// j4 sales.a INGEST, j5 -- ERASE.
	specs := []struct {
		kind    job.Kind
		dataset string
	}{
		{job.Ingest, "sales.a"}, {job.Erase, ""}, {job.Optimize, "sales.a"},
		{job.Ingest, "sales.b"}, {job.Ingest, "sales.a"}, {job.Erase, ""},
	}
	ids := createJobs(t, s, len(specs), func(i int) *job.Job {
		j := newJob(specs[i].kind, specs[i].dataset)
		if i == 2 {
			j.RequestID = "req-2"
		}
		return j
	})
	mustClaim(t, s, "w", longLease) // j0 runs
	if _, err := s.RequestCancel(ctx, ids[3]); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}

	for _, tc := range []struct {
		opts store.ListJobsOptions
		want []string
	}{
		{store.ListJobsOptions{Dataset: "sales.a"}, newestFirst(ids[0], ids[2], ids[4])},
		{store.ListJobsOptions{Dataset: "sales"}, nil},
		{store.ListJobsOptions{State: job.Running}, []string{ids[0]}},
		{store.ListJobsOptions{State: job.Cancelled}, []string{ids[3]}},
		{store.ListJobsOptions{State: job.Queued}, newestFirst(ids[1], ids[2], ids[4], ids[5])},
		{store.ListJobsOptions{State: job.Succeeded}, nil},
		{store.ListJobsOptions{Kind: job.Erase}, newestFirst(ids[1], ids[5])},
		{store.ListJobsOptions{Kind: job.Ingest, Dataset: "sales.a"}, newestFirst(ids[0], ids[4])},
		{store.ListJobsOptions{Kind: job.Ingest, Dataset: "sales.a", State: job.Queued}, []string{ids[4]}},
		{store.ListJobsOptions{Dataset: "sales.a", State: job.Queued}, newestFirst(ids[2], ids[4])},
		{store.ListJobsOptions{RequestID: "req-2"}, []string{ids[2]}},
		{store.ListJobsOptions{RequestID: "req-9"}, nil},
	} {
		for _, size := range []int{1, 2, 0} {
			opts := tc.opts
			opts.PageSize = size
			if got := slices.Concat(listAllJobs(t, s, opts)...); !slices.Equal(got, tc.want) {
				t.Errorf("ListJobs(%+v) = %v, want %v", opts, got, tc.want)
			}
		}
	}

	// A token is bound to the filters it was issued for.
	first, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 1, Dataset: "sales.a"})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	for _, opts := range []store.ListJobsOptions{
		{},
		{Dataset: "sales.b"},
		{Dataset: "sales.a", State: job.Queued},
		{Dataset: "sales.a", Kind: job.Ingest},
	} {
		opts.PageToken = first.NextPageToken
		_, err := s.ListJobs(ctx, opts)
		assertErrorIs(t, fmt.Sprintf("token of dataset sales.a used with %+v", opts), err, store.ErrInvalidPageToken)
	}
}

func testJobListTokenStable(t *testing.T, s store.Store) {
	ctx := context.Background()
	ids := createJobs(t, s, 5, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	first, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 2})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	// Between pages: new jobs are queued, and jobs change state.
	createJobs(t, s, 2, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	mustClaim(t, s, "w", longLease)
	if _, err := s.RequestCancel(ctx, ids[2]); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	rest := slices.Concat(listAllJobs(t, s, store.ListJobsOptions{PageSize: 2, PageToken: first.NextPageToken})...)
	if want := newestFirst(ids[:3]...); !slices.Equal(rest, want) {
		t.Errorf("after the first page: %v, want %v (nothing repeated or skipped)", rest, want)
	}
}

func testJobListInvalidPageToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	createJobs(t, s, 3, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	createIDs(t, s, "a.t1", "a.t2")
	jobsPage, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 1})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	datasetsPage, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	for _, token := range []string{
		"garbage!!",
		"e30", // base64url of "{}"
		jobsPage.NextPageToken + "x",
		jobsPage.NextPageToken[1:],
		datasetsPage.NextPageToken, // another listing's
	} {
		_, err := s.ListJobs(ctx, store.ListJobsOptions{PageSize: 1, PageToken: token})
		assertErrorIs(t, fmt.Sprintf("ListJobs with page token %q", token), err, store.ErrInvalidPageToken)
	}
	_, err = s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1, PageToken: jobsPage.NextPageToken})
	assertErrorIs(t, "ListDatasets with a job page token", err, store.ErrInvalidPageToken)
}

func testJobClaimOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	ids := createJobs(t, s, 4, func(i int) *job.Job { return newJob(job.Ingest, fmt.Sprintf("sales.t%d", i)) })
	if _, err := s.RequestCancel(ctx, ids[1]); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	for _, want := range []string{ids[0], ids[2], ids[3]} {
		queued := mustGetJob(t, s, want)
		got := mustClaim(t, s, "worker-1", longLease)
		if got.ID != want {
			t.Fatalf("claimed %q, want the oldest queued job %q", got.ID, want)
		}
		assertStoredTime(t, "StartTime", got.StartTime)
		expected := queued.Clone()
		expected.State, expected.Attempt = job.Running, 1
		expected.LeaseOwner, expected.LeaseExpires = "worker-1", got.UpdateTime.Add(longLease)
		expected.StartTime, expected.UpdateTime = got.UpdateTime, got.UpdateTime
		assertSameJob(t, "claimed job", got, expected)
		assertSameJob(t, "GetJob of the claimed job", mustGetJob(t, s, want), got)
	}
	assertNoJob(t, s, "worker-2")
}

func testJobClaimNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	assertNoJob(t, s, "worker-1")
	mustCreateJob(t, s, newJob(job.Ingest, "sales.clients"))
	for _, tc := range []struct {
		owner string
		lease time.Duration
	}{{"", longLease}, {"worker-1", 0}, {"worker-1", -time.Second}} {
		if got, err := s.ClaimJob(ctx, tc.owner, tc.lease); err == nil || errors.Is(err, store.ErrNoJob) {
			t.Errorf("ClaimJob(%q, %v) = %+v, %v; want an argument error", tc.owner, tc.lease, got, err)
		}
	}
	mustClaim(t, s, "worker-1", longLease)
	assertNoJob(t, s, "worker-2")
}

// CheckExclusiveClaims queues 20 jobs through the first of stores, then
// has 4 claimers per store claim and finish jobs concurrently until none
// is left, and fails the test unless every job was claimed exactly once.
// The stores must share one database that holds no jobs yet: an adapter's
// test passes several stores opened on one database to check that
// replicas, not only goroutines, claim each job once.
func CheckExclusiveClaims(t *testing.T, stores ...store.Store) {
	t.Helper()
	const jobs, claimersPerStore = 20, 4
	ctx := context.Background()
	ids := createJobs(t, stores[0], jobs, func(i int) *job.Job { return newJob(job.Ingest, fmt.Sprintf("sales.t%02d", i)) })

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		start   = make(chan struct{})
		claimed = map[string][]string{} // job id -> owners
	)
	for si, s := range stores {
		for c := range claimersPerStore {
			owner := fmt.Sprintf("store%d-claimer%d", si, c)
			wg.Go(func() {
				<-start
				for {
					j, err := s.ClaimJob(ctx, owner, longLease)
					if errors.Is(err, store.ErrNoJob) {
						return
					}
					if err != nil {
						t.Errorf("%s: ClaimJob: %v", owner, err)
						return
					}
					mu.Lock()
					claimed[j.ID] = append(claimed[j.ID], owner)
					mu.Unlock()
					if j.LeaseOwner != owner || j.Attempt != 1 {
						t.Errorf("%s claimed job %q with owner %q, attempt %d", owner, j.ID, j.LeaseOwner, j.Attempt)
					}
					if _, err := s.FinishJob(ctx, j.ID, owner, job.Succeeded, 0, nil, nil, nil); err != nil {
						t.Errorf("%s: FinishJob(%q): %v", owner, j.ID, err)
					}
				}
			})
		}
	}
	close(start)
	wg.Wait()

	for _, id := range ids {
		if owners := claimed[id]; len(owners) != 1 {
			t.Errorf("job %q claimed by %v, want exactly one claimer", id, owners)
		}
	}
	if len(claimed) != jobs {
		t.Errorf("%d jobs claimed, want %d", len(claimed), jobs)
	}
	done := slices.Concat(listAllJobs(t, stores[0], store.ListJobsOptions{State: job.Succeeded})...)
	if len(done) != jobs {
		t.Errorf("%d jobs succeeded, want %d", len(done), jobs)
	}
}

func testJobRenewLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	queued := mustCreateJob(t, s, newJob(job.Ingest, "sales.queued"))
	mustCreateJob(t, s, newJob(job.Ingest, "sales.clients"))
	assertErrorIs(t, "RenewLease of a queued job", s.RenewLease(ctx, queued.ID, "a", longLease), store.ErrLeaseLost)

	claimed := mustClaim(t, s, "a", shortLease) // the queued job, oldest
	if err := s.RenewLease(ctx, claimed.ID, "a", longLease); err != nil {
		t.Fatalf("RenewLease: %v", err)
	}
	renewed := mustGetJob(t, s, claimed.ID)
	if !renewed.LeaseExpires.After(claimed.LeaseExpires.Add(longLease - shortLease - time.Second)) {
		t.Errorf("LeaseExpires after renewal = %v, want about %v from now", renewed.LeaseExpires, longLease)
	}
	// Renewing is not a change that watchers see.
	expected := claimed.Clone()
	expected.LeaseExpires = renewed.LeaseExpires
	assertSameJob(t, "renewed job", renewed, expected)

	time.Sleep(shortLease + 10*time.Millisecond) // past the first lease
	next := mustClaim(t, s, "b", longLease)
	if next.ID == claimed.ID {
		t.Fatalf("claimed %q, whose lease was renewed", next.ID)
	}
	assertNoJob(t, s, "c")
	assertErrorIs(t, "RenewLease by another owner", s.RenewLease(ctx, claimed.ID, "b", longLease), store.ErrLeaseLost)
	for _, lease := range []time.Duration{0, -time.Second} {
		if err := s.RenewLease(ctx, claimed.ID, "a", lease); err == nil || errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("RenewLease(lease %v) = %v, want an argument error", lease, err)
		}
	}
}

func testJobRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	queued := mustCreateJob(t, s, newJob(job.Ingest, "sales.clients"))
	assertErrorIs(t, "ReleaseJob of a queued job", s.ReleaseJob(ctx, queued.ID, "a"), store.ErrLeaseLost)
	claimed := mustClaim(t, s, "a", longLease)
	assertErrorIs(t, "ReleaseJob by another owner", s.ReleaseJob(ctx, claimed.ID, "b"), store.ErrLeaseLost)
	if err := s.ReleaseJob(ctx, claimed.ID, "a"); err != nil {
		t.Fatalf("ReleaseJob: %v", err)
	}
	released := mustGetJob(t, s, claimed.ID)
	if released.State != job.Queued || released.LeaseOwner != "" || !released.LeaseExpires.IsZero() || released.Attempt != 0 {
		t.Fatalf("released job: %+v", released)
	}
	again := mustClaim(t, s, "b", longLease)
	if again.ID != claimed.ID || again.Attempt != 1 || !again.StartTime.Equal(claimed.StartTime) {
		t.Fatalf("claim after release: %+v", again)
	}
	assertErrorIs(t, "ReleaseJob of a missing job", s.ReleaseJob(ctx, "no-such-job", "b"), store.ErrNotFound)
}

func testJobExpiredLeaseReclaimed(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreateJob(t, s, newJob(job.Ingest, "sales.clients"))
	first := mustClaim(t, s, "a", longLease)
	assertNoJob(t, s, "b")
	if _, err := s.UpdateJobProgress(ctx, first.ID, "a", "LOADING", job.Progress{RowsRead: 10}); err != nil {
		t.Fatalf("UpdateJobProgress: %v", err)
	}
	// Worker a dies: its lease runs out.
	if err := s.RenewLease(ctx, first.ID, "a", shortLease); err != nil {
		t.Fatalf("RenewLease: %v", err)
	}

	second := claimEventually(t, s, "b", shortLease)
	if second.ID != created.ID {
		t.Fatalf("claimed %q, want %q", second.ID, created.ID)
	}
	if second.Attempt != 2 || second.LeaseOwner != "b" || second.State != job.Running {
		t.Errorf("reclaimed job: attempt %d, owner %q, state %s; want 2, b, RUNNING", second.Attempt, second.LeaseOwner, second.State)
	}
	if !second.StartTime.Equal(first.StartTime) {
		t.Errorf("StartTime after reclaim = %v, want the first claim's %v", second.StartTime, first.StartTime)
	}
	if second.Phase != "LOADING" || second.Progress.RowsRead != 10 {
		t.Errorf("reclaimed job: phase %q, progress %+v; want what worker a recorded", second.Phase, second.Progress)
	}

	// Worker a, back to life, may no longer touch the job.
	_, err := s.FinishJob(ctx, first.ID, "a", job.Succeeded, 7, nil, nil, nil)
	assertErrorIs(t, "FinishJob by the old owner", err, store.ErrLeaseLost)
	assertErrorIs(t, "RenewLease by the old owner", s.RenewLease(ctx, first.ID, "a", longLease), store.ErrLeaseLost)
	_, err = s.UpdateJobProgress(ctx, first.ID, "a", "LOADING", job.Progress{RowsRead: 20})
	assertErrorIs(t, "UpdateJobProgress by the old owner", err, store.ErrLeaseLost)
	if got := mustGetJob(t, s, first.ID); got.State != job.Running || got.LeaseOwner != "b" || got.Progress.RowsRead != 10 {
		t.Errorf("the old owner's calls changed the job: %+v", got)
	}

	// A job whose cancellation was requested is claimed again with the
	// request, so that its next worker ends it.
	if _, err := s.RequestCancel(ctx, first.ID); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	third := claimEventually(t, s, "c", longLease)
	if third.Attempt != 3 || !third.CancelRequested {
		t.Errorf("third claim: attempt %d, cancel requested %v; want 3, true", third.Attempt, third.CancelRequested)
	}
	ended, err := s.FinishJob(ctx, third.ID, "c", job.Cancelled, 0, nil, nil, nil)
	if err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	if ended.State != job.Cancelled {
		t.Errorf("state = %s, want CANCELLED", ended.State)
	}
	assertNoJob(t, s, "d")
}

func testJobProgress(t *testing.T, s store.Store) {
	ctx := context.Background()
	createJobs(t, s, 2, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	claimed := mustClaim(t, s, "w", longLease)
	queued := mustGetJob(t, s, createdAfter(t, s, claimed.ID))

	time.Sleep(time.Millisecond)
	p := job.Progress{BytesRead: 1 << 40, BytesTotal: 1<<41 + 1, RowsRead: 1000, RowsWritten: 990, RowsRejected: 10}
	cancelRequested, err := s.UpdateJobProgress(ctx, claimed.ID, "w", "LOADING", p)
	if err != nil || cancelRequested {
		t.Fatalf("UpdateJobProgress = %v, %v; want false, nil", cancelRequested, err)
	}
	got := mustGetJob(t, s, claimed.ID)
	if !got.UpdateTime.After(claimed.UpdateTime) {
		t.Errorf("UpdateTime = %v, want after the claim's %v", got.UpdateTime, claimed.UpdateTime)
	}
	expected := claimed.Clone()
	expected.Phase, expected.Progress, expected.UpdateTime = "LOADING", p, got.UpdateTime
	assertSameJob(t, "job after a progress update (lease not renewed)", got, expected)

	_, err = s.UpdateJobProgress(ctx, claimed.ID, "other", "VERIFYING", job.Progress{})
	assertErrorIs(t, "UpdateJobProgress by another owner", err, store.ErrLeaseLost)
	_, err = s.UpdateJobProgress(ctx, queued.ID, "w", "LOADING", job.Progress{})
	assertErrorIs(t, "UpdateJobProgress of a queued job", err, store.ErrLeaseLost)
	assertSameJob(t, "job after refused updates", mustGetJob(t, s, claimed.ID), got)

	if _, err := s.RequestCancel(ctx, claimed.ID); err != nil {
		t.Fatalf("RequestCancel: %v", err)
	}
	cancelRequested, err = s.UpdateJobProgress(ctx, claimed.ID, "w", "LOADING", p)
	if err != nil || !cancelRequested {
		t.Errorf("UpdateJobProgress after RequestCancel = %v, %v; want true, nil", cancelRequested, err)
	}
}

// createdAfter returns the id of the one job other than id in s.
func createdAfter(t *testing.T, s store.Store, id string) string {
	t.Helper()
	for _, other := range allJobIDs(t, s) {
		if other != id {
			return other
		}
	}
	t.Fatalf("no job other than %q", id)
	return ""
}

func testJobFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	createJobs(t, s, 2, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	ok := mustClaim(t, s, "w", longLease)
	if _, err := s.UpdateJobProgress(ctx, ok.ID, "w", "VERIFYING", job.Progress{RowsWritten: 5}); err != nil {
		t.Fatalf("UpdateJobProgress: %v", err)
	}
	ok = mustGetJob(t, s, ok.ID)

	// Refused: a state that is not final, a result that is not JSON.
	for _, state := range []job.State{job.Running, job.Queued, "DONE"} {
		if _, err := s.FinishJob(ctx, ok.ID, "w", state, 0, nil, nil, nil); err == nil || errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("FinishJob(%q) = %v, want an argument error", state, err)
		}
	}
	if _, err := s.FinishJob(ctx, ok.ID, "w", job.Succeeded, 0, nil, nil, json.RawMessage(`{"x"`)); err == nil {
		t.Error("FinishJob with an invalid result succeeded")
	}
	_, err := s.FinishJob(ctx, ok.ID, "other", job.Succeeded, 0, nil, nil, nil)
	assertErrorIs(t, "FinishJob by another owner", err, store.ErrLeaseLost)
	assertSameJob(t, "job after refused finishes", mustGetJob(t, s, ok.ID), ok)

	result := json.RawMessage(`{"certificate": {"subjectCount": 2, "verified": true}}`)
	time.Sleep(time.Millisecond)
	succeeded, err := s.FinishJob(ctx, ok.ID, "w", job.Succeeded, 42, []string{"val-1", "val-2"}, nil, result)
	if err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	assertStoredTime(t, "EndTime", succeeded.EndTime)
	if !succeeded.EndTime.After(ok.StartTime) || !succeeded.UpdateTime.Equal(succeeded.EndTime) {
		t.Errorf("EndTime %v, UpdateTime %v; want both equal and after StartTime %v", succeeded.EndTime, succeeded.UpdateTime, ok.StartTime)
	}
	expected := ok.Clone()
	expected.State, expected.SnapshotID, expected.Validations, expected.Result = job.Succeeded, 42, []string{"val-1", "val-2"}, result
	expected.LeaseOwner, expected.LeaseExpires = "", time.Time{}
	expected.EndTime, expected.UpdateTime = succeeded.EndTime, succeeded.EndTime
	assertSameJob(t, "succeeded job (phase and progress kept)", succeeded, expected)
	assertSameJob(t, "GetJob of the succeeded job", mustGetJob(t, s, ok.ID), succeeded)

	_, err = s.FinishJob(ctx, ok.ID, "w", job.Failed, 0, nil, nil, nil)
	assertErrorIs(t, "second FinishJob", err, store.ErrLeaseLost)
	assertErrorIs(t, "RenewLease of a finished job", s.RenewLease(ctx, ok.ID, "w", longLease), store.ErrLeaseLost)

	bad := mustClaim(t, s, "w", longLease)
	jobErr := &job.Error{Code: "INVALID_ARGUMENT", Message: `row 1042, column "premium": "12,5" is not a decimal`, Row: 1042, Column: "premium"}
	failed, err := s.FinishJob(ctx, bad.ID, "w", job.Failed, 0, []string{}, jobErr, nil)
	if err != nil {
		t.Fatalf("FinishJob(FAILED): %v", err)
	}
	if failed.State != job.Failed || !reflect.DeepEqual(failed.Error, jobErr) || failed.Result != nil ||
		failed.Validations == nil || len(failed.Validations) != 0 {
		t.Errorf("failed job = %+v, want FAILED with error %+v, no result and empty (not nil) validations", failed, jobErr)
	}
	assertSameJob(t, "GetJob of the failed job", mustGetJob(t, s, bad.ID), failed)
	assertNoJob(t, s, "w")
}

func testJobCancel(t *testing.T, s store.Store) {
	ctx := context.Background()
	ids := createJobs(t, s, 3, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	running := mustClaim(t, s, "w", longLease) // ids[0]
	done := mustClaim(t, s, "w", longLease)    // ids[1]
	done, err := s.FinishJob(ctx, done.ID, "w", job.Succeeded, 1, nil, nil, nil)
	if err != nil {
		t.Fatalf("FinishJob: %v", err)
	}

	// Queued: cancelled at once, never to be claimed.
	queued := mustGetJob(t, s, ids[2])
	cancelled, err := s.RequestCancel(ctx, queued.ID)
	if err != nil {
		t.Fatalf("RequestCancel of a queued job: %v", err)
	}
	assertStoredTime(t, "EndTime", cancelled.EndTime)
	expected := queued.Clone()
	expected.State, expected.CancelRequested = job.Cancelled, true
	expected.EndTime, expected.UpdateTime = cancelled.EndTime, cancelled.EndTime
	assertSameJob(t, "cancelled queued job", cancelled, expected)
	assertSameJob(t, "GetJob of the cancelled job", mustGetJob(t, s, queued.ID), cancelled)
	assertNoJob(t, s, "w2")

	// Running: flagged for its worker, which ends it.
	flagged, err := s.RequestCancel(ctx, running.ID)
	if err != nil {
		t.Fatalf("RequestCancel of a running job: %v", err)
	}
	expected = running.Clone()
	expected.CancelRequested, expected.UpdateTime = true, flagged.UpdateTime
	assertSameJob(t, "running job after RequestCancel", flagged, expected)
	again, err := s.RequestCancel(ctx, running.ID)
	if err != nil {
		t.Fatalf("second RequestCancel: %v", err)
	}
	assertSameJob(t, "running job after a second RequestCancel", again, flagged)
	if cancelRequested, err := s.UpdateJobProgress(ctx, running.ID, "w", "LOADING", job.Progress{}); err != nil || !cancelRequested {
		t.Errorf("UpdateJobProgress = %v, %v; want true, nil", cancelRequested, err)
	}
	ended, err := s.FinishJob(ctx, running.ID, "w", job.Cancelled, 0, nil, nil, nil)
	if err != nil {
		t.Fatalf("FinishJob(CANCELLED): %v", err)
	}
	if ended.State != job.Cancelled || ended.EndTime.IsZero() {
		t.Errorf("ended job = %+v, want CANCELLED with an EndTime", ended)
	}

	// Done: left as it is.
	for _, j := range []*job.Job{done, cancelled, ended} {
		got, err := s.RequestCancel(ctx, j.ID)
		if err != nil {
			t.Fatalf("RequestCancel of a %s job: %v", j.State, err)
		}
		assertSameJob(t, fmt.Sprintf("%s job after RequestCancel", j.State), got, j)
		assertSameJob(t, fmt.Sprintf("stored %s job after RequestCancel", j.State), mustGetJob(t, s, j.ID), j)
	}
}

func testJobFailStale(t *testing.T, s store.Store) {
	ctx := context.Background()
	const maxAttempts = 2
	stale := mustCreateJob(t, s, newJob(job.Ingest, "sales.stale"))
	mustClaim(t, s, "a", shortLease) // attempt 1
	mustCreateJob(t, s, newJob(job.Ingest, "sales.live"))
	live := mustClaim(t, s, "x", longLease) // attempt 1
	if _, err := s.FailStaleJobs(ctx, 0); err == nil {
		t.Error("FailStaleJobs(0) succeeded, want an argument error")
	}

	// An expired lease after fewer than maxAttempts claims: claimed again.
	second := claimEventually(t, s, "b", longLease)
	if second.ID != stale.ID || second.Attempt != maxAttempts {
		t.Fatalf("claimed %q attempt %d, want %q attempt %d", second.ID, second.Attempt, stale.ID, maxAttempts)
	}
	if n, err := s.FailStaleJobs(ctx, maxAttempts); err != nil || n != 0 {
		t.Errorf("FailStaleJobs with live leases = %d, %v; want 0, nil", n, err)
	}
	queued := mustCreateJob(t, s, newJob(job.Ingest, "sales.queued"))
	// The second worker dies too.
	if err := s.RenewLease(ctx, second.ID, "b", shortLease); err != nil {
		t.Fatalf("RenewLease: %v", err)
	}
	second = mustGetJob(t, s, second.ID)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := s.FailStaleJobs(ctx, maxAttempts)
		if err != nil {
			t.Fatalf("FailStaleJobs: %v", err)
		}
		if n == 1 {
			break
		}
		if n != 0 || time.Now().After(deadline) {
			t.Fatalf("FailStaleJobs = %d, want 1 within 5s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}

	failed := mustGetJob(t, s, stale.ID)
	assertStoredTime(t, "EndTime", failed.EndTime)
	if failed.Error == nil || failed.Error.Code != "ABORTED" || !strings.Contains(failed.Error.Message, "interrupted too many times") {
		t.Errorf("error of the stale job = %+v, want ABORTED, interrupted too many times", failed.Error)
	}
	expected := second.Clone()
	expected.State, expected.Error = job.Failed, failed.Error
	expected.LeaseOwner, expected.LeaseExpires = "", time.Time{}
	expected.EndTime, expected.UpdateTime = failed.EndTime, failed.EndTime
	assertSameJob(t, "stale job", failed, expected)

	_, err := s.FinishJob(ctx, stale.ID, "b", job.Succeeded, 0, nil, nil, nil)
	assertErrorIs(t, "FinishJob by the stale job's last owner", err, store.ErrLeaseLost)
	// Live leases are never failed, whatever the attempts.
	if n, err := s.FailStaleJobs(ctx, 1); err != nil || n != 0 {
		t.Errorf("FailStaleJobs(1) = %d, %v; want 0, nil", n, err)
	}
	assertSameJob(t, "live job", mustGetJob(t, s, live.ID), live)
	if got := mustGetJob(t, s, queued.ID); got.State != job.Queued {
		t.Errorf("queued job is %s, want QUEUED", got.State)
	}
	if got := mustClaim(t, s, "c", longLease); got.ID != queued.ID {
		t.Errorf("claimed %q, want the queued job %q", got.ID, queued.ID)
	}
}

func testJobCanceledContext(t *testing.T, s store.Store) {
	createJobs(t, s, 2, func(int) *job.Job { return newJob(job.Ingest, "sales.clients") })
	running := mustClaim(t, s, "w", longLease)
	queued := mustGetJob(t, s, createdAfter(t, s, running.ID))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, _, err := s.CreateJob(ctx, newJob(job.Ingest, "sales.other"))
	assertErrorIs(t, "CreateJob", err, context.Canceled)
	_, err = s.GetJob(ctx, running.ID)
	assertErrorIs(t, "GetJob", err, context.Canceled)
	_, err = s.ListJobs(ctx, store.ListJobsOptions{})
	assertErrorIs(t, "ListJobs", err, context.Canceled)
	_, err = s.ClaimJob(ctx, "w2", longLease)
	assertErrorIs(t, "ClaimJob", err, context.Canceled)
	assertErrorIs(t, "RenewLease", s.RenewLease(ctx, running.ID, "w", shortLease), context.Canceled)
	_, err = s.UpdateJobProgress(ctx, running.ID, "w", "LOADING", job.Progress{RowsRead: 1})
	assertErrorIs(t, "UpdateJobProgress", err, context.Canceled)
	_, err = s.FinishJob(ctx, running.ID, "w", job.Succeeded, 0, nil, nil, nil)
	assertErrorIs(t, "FinishJob", err, context.Canceled)
	_, err = s.RequestCancel(ctx, queued.ID)
	assertErrorIs(t, "RequestCancel", err, context.Canceled)
	_, err = s.FailStaleJobs(ctx, 1)
	assertErrorIs(t, "FailStaleJobs", err, context.Canceled)

	// Nothing the canceled calls asked for happened.
	assertSameJob(t, "running job", mustGetJob(t, s, running.ID), running)
	assertSameJob(t, "queued job", mustGetJob(t, s, queued.ID), queued)
	if ids := allJobIDs(t, s); len(ids) != 2 {
		t.Errorf("store holds jobs %v, want 2", ids)
	}
}
