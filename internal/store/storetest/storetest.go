// Package storetest is the conformance suite that every store.Store adapter
// must pass. An adapter's test calls Run with a function that opens a fresh,
// empty store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Run runs the conformance suite. open must return a fresh, empty store each
// time it is called, and arrange (with t.Cleanup) for it to be closed and
// removed; subtests call it from parallel goroutines.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range slices.Concat(datasetTests, jobTests, auditTests, qualityTests, alertTests, erasureTests) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// conformanceTest is one test of the suite, run on a fresh store.
type conformanceTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// datasetTests check store.Datasets.
var datasetTests = []conformanceTest{
	{"CreateGetRoundTrip", testCreateGetRoundTrip},
	{"CreateDoesNotAlterInput", testCreateDoesNotAlterInput},
	{"MinimalDatasetRoundTrip", testMinimalDatasetRoundTrip},
	{"CreateAlreadyExists", testCreateAlreadyExists},
	{"NotFound", testNotFound},
	{"UpdateChangesEtagAndTimes", testUpdateChangesEtagAndTimes},
	{"UpdateStaleEtag", testUpdateStaleEtag},
	{"DeleteStaleEtag", testDeleteStaleEtag},
	{"DeleteWithEtag", testDeleteWithEtag},
	{"DeleteUnconditional", testDeleteUnconditional},
	{"ListPaging", testListPaging},
	{"ListDefaultPageSize", testListDefaultPageSize},
	{"ListEmpty", testListEmpty},
	{"ListExactPage", testListExactPage},
	{"ListNamespace", testListNamespace},
	{"ListTokenStableAcrossWrites", testListTokenStable},
	{"ListInvalidPageToken", testListInvalidPageToken},
	{"ConcurrentUpdates", testConcurrentUpdates},
	{"ConcurrentCreates", testConcurrentCreates},
	{"CanceledContext", testCanceledContext},
	{"Ping", testPing},
}

// FullDataset returns a dataset with the given id and every other field
// (but the etag and times) set to a value other than its zero value.
func FullDataset(id string) *dataset.Dataset {
	return &dataset.Dataset{
		ID:          id,
		Description: "Clients \"actifs\" — l'été, 日本語, emoji 🚀, backslash \\ and <html>&amp;",
		Columns: []dataset.Column{
			{Name: "client_id", Type: dataset.TypeString, Description: "natural key"},
			{Name: "amount", Type: dataset.TypeDecimal, Precision: 38, Scale: 9, Nullable: true, Description: "montant en €"},
			{Name: "email", Type: dataset.TypeString, Nullable: true, Grade: 1, PII: true},
			{Name: "active", Type: dataset.TypeBoolean},
			{Name: "visits", Type: dataset.TypeInt32, Nullable: true},
			{Name: "seq", Type: dataset.TypeInt64},
			{Name: "score", Type: dataset.TypeDouble, Grade: 3},
			{Name: "birth_date", Type: dataset.TypeDate, Nullable: true, Grade: 2, PII: true},
			{Name: "ended_at", Type: dataset.TypeTimestamp, Nullable: true},
		},
		PrimaryKey: []string{"client_id", "seq"},
		PartitionBy: []dataset.PartitionField{
			{Column: "ended_at", Transform: dataset.TransformDay},
			{Column: "client_id", Transform: dataset.TransformBucket, Width: 16},
			{Column: "email", Transform: dataset.TransformTruncate, Width: 4},
			{Column: "birth_date", Transform: dataset.TransformYear},
		},
		Grade:        2,
		Domain:       "sales",
		SubjectKey:   "client_id",
		QualitySuite: "clients_v1",
		// Not the default, so that a store dropping it shows.
		QualityFailurePolicy: dataset.PolicyKeep,
		Retention: dataset.Retention{
			SeparateAfterColumn: "ended_at",
			SeparateAfterDays:   30,
			DestroyAfterDays:    3650,
		},
	}
}

// mustCreate creates d and fails the test on error.
func mustCreate(t *testing.T, s store.Store, d *dataset.Dataset) *dataset.Dataset {
	t.Helper()
	got, err := s.CreateDataset(context.Background(), d)
	if err != nil {
		t.Fatalf("CreateDataset(%q): %v", d.ID, err)
	}
	return got
}

// mustGet gets id and fails the test on error.
func mustGet(t *testing.T, s store.Store, id string) *dataset.Dataset {
	t.Helper()
	got, err := s.GetDataset(context.Background(), id)
	if err != nil {
		t.Fatalf("GetDataset(%q): %v", id, err)
	}
	return got
}

// mustUpdate updates d and fails the test on error.
func mustUpdate(t *testing.T, s store.Store, d *dataset.Dataset) *dataset.Dataset {
	t.Helper()
	got, err := s.UpdateDataset(context.Background(), d)
	if err != nil {
		t.Fatalf("UpdateDataset(%q): %v", d.ID, err)
	}
	return got
}

// assertSameSpec fails unless got and want agree on every field but the
// etag and the times.
func assertSameSpec(t *testing.T, got, want *dataset.Dataset) {
	t.Helper()
	g, w := got.Clone(), want.Clone()
	g.Etag, g.CreateTime, g.UpdateTime = "", time.Time{}, time.Time{}
	w.Etag, w.CreateTime, w.UpdateTime = "", time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("dataset differs:\n got %#v\nwant %#v", g, w)
	}
}

// assertStoredTime fails unless t is a plausible store time: in UTC,
// truncated to microseconds, and near now.
func assertStoredTime(t *testing.T, what string, ts time.Time) {
	t.Helper()
	if ts.IsZero() {
		t.Errorf("%s is zero", what)
		return
	}
	if ts.Location() != time.UTC {
		t.Errorf("%s = %v, want UTC", what, ts)
	}
	if !ts.Equal(ts.Truncate(time.Microsecond)) {
		t.Errorf("%s = %v, not truncated to microseconds", what, ts)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Minute {
		t.Errorf("%s = %v, %v away from now", what, ts, d)
	}
}

// assertErrorIs fails unless err wraps target.
func assertErrorIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
}

func testCreateGetRoundTrip(t *testing.T, s store.Store) {
	want := FullDataset("sales.clients")
	created := mustCreate(t, s, want)
	assertSameSpec(t, created, want)
	if created.Etag == "" {
		t.Error("created dataset has no etag")
	}
	assertStoredTime(t, "CreateTime", created.CreateTime)
	if !created.UpdateTime.Equal(created.CreateTime) {
		t.Errorf("UpdateTime = %v, want CreateTime %v", created.UpdateTime, created.CreateTime)
	}

	got := mustGet(t, s, want.ID)
	assertSameSpec(t, got, want)
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GetDataset differs from CreateDataset's result:\n got %#v\nwant %#v", got, created)
	}
	if got.CreateTime.Location() != time.UTC || got.UpdateTime.Location() != time.UTC {
		t.Errorf("times not in UTC: %v, %v", got.CreateTime, got.UpdateTime)
	}
	// Values returned are the caller's: changing one must not change the store.
	got.Columns[0].Name = "changed"
	if again := mustGet(t, s, want.ID); again.Columns[0].Name != "client_id" {
		t.Errorf("changing a returned value changed the store: column 0 = %q", again.Columns[0].Name)
	}
}

func testCreateDoesNotAlterInput(t *testing.T, s store.Store) {
	in := FullDataset("sales.clients")
	in.Etag = "caller-etag"
	before := in.Clone()
	created := mustCreate(t, s, in)
	if !reflect.DeepEqual(in, before) {
		t.Errorf("CreateDataset changed its argument:\n got %#v\nwant %#v", in, before)
	}
	if created.Etag == "caller-etag" {
		t.Error("CreateDataset kept the caller's etag")
	}
}

func testMinimalDatasetRoundTrip(t *testing.T, s store.Store) {
	want := &dataset.Dataset{ID: "ns.minimal", Columns: []dataset.Column{{Name: "x", Type: dataset.TypeInt64}}}
	mustCreate(t, s, want)
	got := mustGet(t, s, want.ID)
	assertSameSpec(t, got, want)
}

func testCreateAlreadyExists(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := mustCreate(t, s, FullDataset("sales.clients"))
	other := FullDataset("sales.clients")
	other.Description = "second"
	_, err := s.CreateDataset(ctx, other)
	assertErrorIs(t, "CreateDataset of a taken id", err, store.ErrAlreadyExists)
	if got := mustGet(t, s, "sales.clients"); !reflect.DeepEqual(got, first) {
		t.Errorf("failed create changed the stored dataset:\n got %#v\nwant %#v", got, first)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreate(t, s, FullDataset("sales.clients"))

	_, err := s.GetDataset(ctx, "sales.missing")
	assertErrorIs(t, "GetDataset", err, store.ErrNotFound)

	missing := FullDataset("sales.missing")
	missing.Etag = "whatever"
	_, err = s.UpdateDataset(ctx, missing)
	assertErrorIs(t, "UpdateDataset", err, store.ErrNotFound)

	assertErrorIs(t, "DeleteDataset unconditional", s.DeleteDataset(ctx, "sales.missing", ""), store.ErrNotFound)
	assertErrorIs(t, "DeleteDataset with etag", s.DeleteDataset(ctx, "sales.missing", "whatever"), store.ErrNotFound)

	if _, err := s.GetDataset(ctx, "sales.missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing dataset created it: %v", err)
	}
}

func testUpdateChangesEtagAndTimes(t *testing.T, s store.Store) {
	created := mustCreate(t, s, FullDataset("sales.clients"))
	time.Sleep(2 * time.Millisecond)

	change := created.Clone()
	change.Description = "updated ‘description’"
	change.Columns = append(change.Columns, dataset.Column{Name: "extra", Type: dataset.TypeDecimal, Precision: 10, Scale: 2})
	change.Retention.DestroyAfterDays = 7
	change.CreateTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // must be ignored
	updated := mustUpdate(t, s, change)
	assertSameSpec(t, updated, change)
	if updated.Etag == "" || updated.Etag == created.Etag {
		t.Errorf("etag after update = %q, want a new one (was %q)", updated.Etag, created.Etag)
	}
	if !updated.CreateTime.Equal(created.CreateTime) {
		t.Errorf("CreateTime after update = %v, want %v", updated.CreateTime, created.CreateTime)
	}
	if !updated.UpdateTime.After(created.UpdateTime) {
		t.Errorf("UpdateTime after update = %v, want after %v", updated.UpdateTime, created.UpdateTime)
	}
	assertStoredTime(t, "UpdateTime", updated.UpdateTime)

	got := mustGet(t, s, created.ID)
	if !reflect.DeepEqual(got, updated) {
		t.Errorf("GetDataset after update:\n got %#v\nwant %#v", got, updated)
	}

	// A second update with the new etag succeeds and changes it again.
	got.Domain = "finance"
	again := mustUpdate(t, s, got)
	if again.Etag == updated.Etag || again.Etag == created.Etag {
		t.Errorf("etag after second update = %q, want one not seen before", again.Etag)
	}
	if again.UpdateTime.Before(updated.UpdateTime) {
		t.Errorf("UpdateTime went back: %v before %v", again.UpdateTime, updated.UpdateTime)
	}
}

func testUpdateStaleEtag(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreate(t, s, FullDataset("sales.clients"))
	first := created.Clone()
	first.Description = "first writer"
	updated := mustUpdate(t, s, first)

	stale := created.Clone() // still holds the original etag
	stale.Description = "second writer"
	_, err := s.UpdateDataset(ctx, stale)
	assertErrorIs(t, "UpdateDataset with a stale etag", err, store.ErrConflict)

	noEtag := created.Clone()
	noEtag.Etag = ""
	_, err = s.UpdateDataset(ctx, noEtag)
	assertErrorIs(t, "UpdateDataset with no etag", err, store.ErrConflict)

	if got := mustGet(t, s, created.ID); !reflect.DeepEqual(got, updated) {
		t.Errorf("refused update changed the stored dataset:\n got %#v\nwant %#v", got, updated)
	}
}

func testDeleteStaleEtag(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreate(t, s, FullDataset("sales.clients"))
	change := created.Clone()
	change.Domain = "finance"
	updated := mustUpdate(t, s, change)
	assertErrorIs(t, "DeleteDataset with a stale etag", s.DeleteDataset(ctx, created.ID, created.Etag), store.ErrConflict)
	if got := mustGet(t, s, created.ID); !reflect.DeepEqual(got, updated) {
		t.Errorf("refused delete changed the stored dataset:\n got %#v\nwant %#v", got, updated)
	}
}

func testDeleteWithEtag(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreate(t, s, FullDataset("sales.clients"))
	kept := mustCreate(t, s, FullDataset("sales.orders"))
	if err := s.DeleteDataset(ctx, created.ID, created.Etag); err != nil {
		t.Fatalf("DeleteDataset with the current etag: %v", err)
	}
	_, err := s.GetDataset(ctx, created.ID)
	assertErrorIs(t, "GetDataset after delete", err, store.ErrNotFound)
	assertErrorIs(t, "second DeleteDataset", s.DeleteDataset(ctx, created.ID, created.Etag), store.ErrNotFound)
	if got := mustGet(t, s, kept.ID); !reflect.DeepEqual(got, kept) {
		t.Errorf("delete touched another dataset:\n got %#v\nwant %#v", got, kept)
	}
	// The id can be taken again, with a new etag.
	recreated := mustCreate(t, s, FullDataset("sales.clients"))
	if recreated.Etag == created.Etag {
		t.Errorf("recreated dataset reuses etag %q", created.Etag)
	}
}

func testDeleteUnconditional(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreate(t, s, FullDataset("sales.clients"))
	change := created.Clone()
	change.Domain = "finance"
	mustUpdate(t, s, change)
	if err := s.DeleteDataset(ctx, created.ID, ""); err != nil {
		t.Fatalf("unconditional DeleteDataset: %v", err)
	}
	_, err := s.GetDataset(ctx, created.ID)
	assertErrorIs(t, "GetDataset after delete", err, store.ErrNotFound)
}

// createIDs creates a full dataset for each id.
func createIDs(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		mustCreate(t, s, FullDataset(id))
	}
}

// listAll pages through a listing with the given page size and returns the
// ids of each page. It fails the test if paging does not end.
func listAll(t *testing.T, s store.Store, opts store.ListDatasetsOptions) [][]string {
	t.Helper()
	return walkPages(t, fmt.Sprintf("ListDatasets(%+v)", opts), opts.PageToken,
		func(token string) (store.Page[*dataset.Dataset], error) {
			opts.PageToken = token
			return s.ListDatasets(context.Background(), opts)
		}, func(d *dataset.Dataset) string { return d.ID })
}

// walkPages pages through a listing from token on, fetching each page with
// list, and returns the ids of each page. It fails the test, naming the
// listing with what, on an error or if paging does not end.
func walkPages[T any](t *testing.T, what, token string, list func(token string) (store.Page[T], error), id func(T) string) [][]string {
	t.Helper()
	var pages [][]string
	for range 1000 {
		page, err := list(token)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		ids := make([]string, len(page.Items))
		for i, item := range page.Items {
			ids[i] = id(item)
		}
		pages = append(pages, ids)
		if page.NextPageToken == "" {
			return pages
		}
		token = page.NextPageToken
	}
	t.Fatalf("%s did not end after 1000 pages", what)
	return nil
}

// ids returns the ids of ds.
func ids(ds []*dataset.Dataset) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func testListPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Created out of order: the listing orders by id.
	all := []string{"b.t4", "a.t2", "c.t7", "a.t1", "b.t5", "a.t3", "b.t6"}
	createIDs(t, s, all...)

	first, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 3})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	if got, want := ids(first.Items), []string{"a.t1", "a.t2", "a.t3"}; !slices.Equal(got, want) {
		t.Errorf("first page = %v, want %v", got, want)
	}
	if first.NextPageToken == "" {
		t.Fatal("first page has no NextPageToken")
	}
	assertSameSpec(t, first.Items[0], FullDataset("a.t1"))
	if want := mustGet(t, s, "a.t1"); !reflect.DeepEqual(first.Items[0], want) {
		t.Errorf("listed dataset differs from GetDataset:\n got %#v\nwant %#v", first.Items[0], want)
	}

	second, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 3, PageToken: first.NextPageToken})
	if err != nil {
		t.Fatalf("ListDatasets page 2: %v", err)
	}
	if got, want := ids(second.Items), []string{"b.t4", "b.t5", "b.t6"}; !slices.Equal(got, want) {
		t.Errorf("second page = %v, want %v", got, want)
	}
	if second.NextPageToken == "" || second.NextPageToken == first.NextPageToken {
		t.Fatalf("second page token = %q, want a new non-empty token", second.NextPageToken)
	}

	third, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 3, PageToken: second.NextPageToken})
	if err != nil {
		t.Fatalf("ListDatasets page 3: %v", err)
	}
	if got, want := ids(third.Items), []string{"c.t7"}; !slices.Equal(got, want) {
		t.Errorf("third page = %v, want %v", got, want)
	}
	if third.NextPageToken != "" {
		t.Errorf("last page NextPageToken = %q, want empty", third.NextPageToken)
	}

	// A token is reusable, and so is a page size change between pages.
	resumed, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 10, PageToken: first.NextPageToken})
	if err != nil {
		t.Fatalf("ListDatasets with a reused token: %v", err)
	}
	if got, want := ids(resumed.Items), []string{"b.t4", "b.t5", "b.t6", "c.t7"}; !slices.Equal(got, want) {
		t.Errorf("resumed page = %v, want %v", got, want)
	}
	if resumed.NextPageToken != "" {
		t.Errorf("resumed last page NextPageToken = %q, want empty", resumed.NextPageToken)
	}

	sorted := slices.Sorted(slices.Values(all))
	if got := listAll(t, s, store.ListDatasetsOptions{PageSize: 1}); len(got) != len(all) || !slices.Equal(slices.Concat(got...), sorted) {
		t.Errorf("pages of 1 = %v, want %v one each", got, sorted)
	}
}

func testListDefaultPageSize(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []string
	for i := range store.DefaultPageSize + 1 {
		all = append(all, fmt.Sprintf("ns.t%03d", i))
	}
	createIDs(t, s, all...)
	for _, size := range []int{0, -1} {
		page, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: size})
		if err != nil {
			t.Fatalf("ListDatasets(PageSize %d): %v", size, err)
		}
		if got, want := ids(page.Items), all[:store.DefaultPageSize]; !slices.Equal(got, want) {
			t.Errorf("PageSize %d: page = %v, want %v", size, got, want)
		}
		if page.NextPageToken == "" {
			t.Fatalf("PageSize %d: no NextPageToken with %d datasets", size, len(all))
		}
		rest, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: size, PageToken: page.NextPageToken})
		if err != nil {
			t.Fatalf("ListDatasets(PageSize %d) page 2: %v", size, err)
		}
		if got, want := ids(rest.Items), all[store.DefaultPageSize:]; !slices.Equal(got, want) || rest.NextPageToken != "" {
			t.Errorf("PageSize %d: page 2 = %v (token %q), want %v and no token", size, got, rest.NextPageToken, want)
		}
	}
	// Above the cap, all 51 fit in one page.
	page, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: store.MaxPageSize * 10})
	if err != nil {
		t.Fatalf("ListDatasets(PageSize %d): %v", store.MaxPageSize*10, err)
	}
	if len(page.Items) != len(all) || page.NextPageToken != "" {
		t.Errorf("huge page: %d items, token %q; want %d and no token", len(page.Items), page.NextPageToken, len(all))
	}
}

func testListEmpty(t *testing.T, s store.Store) {
	page, err := s.ListDatasets(context.Background(), store.ListDatasetsOptions{})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	if len(page.Items) != 0 || page.NextPageToken != "" {
		t.Errorf("empty store: page = %v, token %q; want nothing", ids(page.Items), page.NextPageToken)
	}
}

func testListExactPage(t *testing.T, s store.Store) {
	createIDs(t, s, "a.t1", "a.t2", "a.t3", "a.t4", "a.t5", "a.t6")
	pages := listAll(t, s, store.ListDatasetsOptions{PageSize: 3})
	want := [][]string{{"a.t1", "a.t2", "a.t3"}, {"a.t4", "a.t5", "a.t6"}}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("pages = %v, want %v (no trailing empty page)", pages, want)
	}
}

func testListNamespace(t *testing.T, s store.Store) {
	ctx := context.Background()
	// "sales2" and "sale" share a prefix with "sales" but are other namespaces.
	createIDs(t, s, "sales.a", "hr.people", "sales.b", "sales2.c", "sale.d", "sales.c", "finance.ledger", "sales.d")
	pages := listAll(t, s, store.ListDatasetsOptions{PageSize: 2, Namespace: "sales"})
	want := [][]string{{"sales.a", "sales.b"}, {"sales.c", "sales.d"}}
	if !reflect.DeepEqual(pages, want) {
		t.Errorf("namespace sales: pages = %v, want %v", pages, want)
	}
	one, err := s.ListDatasets(ctx, store.ListDatasetsOptions{Namespace: "hr"})
	if err != nil {
		t.Fatalf("ListDatasets(hr): %v", err)
	}
	if got := ids(one.Items); !slices.Equal(got, []string{"hr.people"}) || one.NextPageToken != "" {
		t.Errorf("namespace hr: %v, token %q", got, one.NextPageToken)
	}
	none, err := s.ListDatasets(ctx, store.ListDatasetsOptions{Namespace: "nobody"})
	if err != nil {
		t.Fatalf("ListDatasets(nobody): %v", err)
	}
	if len(none.Items) != 0 || none.NextPageToken != "" {
		t.Errorf("namespace nobody: %v, token %q; want nothing", ids(none.Items), none.NextPageToken)
	}

	// A token is bound to the filter it was issued for.
	first, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1, Namespace: "sales"})
	if err != nil {
		t.Fatalf("ListDatasets(sales): %v", err)
	}
	_, err = s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1, Namespace: "hr", PageToken: first.NextPageToken})
	assertErrorIs(t, "token of namespace sales used for hr", err, store.ErrInvalidPageToken)
	_, err = s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1, PageToken: first.NextPageToken})
	assertErrorIs(t, "token of namespace sales used unfiltered", err, store.ErrInvalidPageToken)
}

func testListTokenStable(t *testing.T, s store.Store) {
	ctx := context.Background()
	createIDs(t, s, "a.t1", "a.t2", "a.t3", "a.t5", "a.t7", "a.t8", "a.t9")
	first, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 3})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	if got, want := ids(first.Items), []string{"a.t1", "a.t2", "a.t3"}; !slices.Equal(got, want) {
		t.Fatalf("first page = %v, want %v", got, want)
	}

	// Between pages: insert before and after the cursor, and delete both the
	// cursor's own dataset and one that is still to come.
	createIDs(t, s, "a.t0", "a.t4", "a.t6")
	for _, id := range []string{"a.t3", "a.t8"} {
		if err := s.DeleteDataset(ctx, id, ""); err != nil {
			t.Fatalf("DeleteDataset(%q): %v", id, err)
		}
	}

	var rest []string
	opts := store.ListDatasetsOptions{PageSize: 3, PageToken: first.NextPageToken}
	for _, page := range listAll(t, s, opts) {
		rest = append(rest, page...)
	}
	if want := []string{"a.t4", "a.t5", "a.t6", "a.t7", "a.t9"}; !slices.Equal(rest, want) {
		t.Errorf("after the first page: %v, want %v (nothing repeated or skipped)", rest, want)
	}
}

func testListInvalidPageToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	createIDs(t, s, "a.t1", "a.t2", "a.t3")
	valid, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1})
	if err != nil {
		t.Fatalf("ListDatasets: %v", err)
	}
	for _, token := range []string{
		"garbage!!",                      // not base64url
		"bm90IGpzb24",                    // base64url of "not json"
		"e30",                            // base64url of "{}"
		"eyJ2Ijo5LCJhZnRlciI6ImEudDEifQ", // base64url of {"v":9,"after":"a.t1"}
		valid.NextPageToken + "x",
		valid.NextPageToken[1:],
	} {
		_, err := s.ListDatasets(ctx, store.ListDatasetsOptions{PageSize: 1, PageToken: token})
		assertErrorIs(t, fmt.Sprintf("page token %q", token), err, store.ErrInvalidPageToken)
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	created := mustCreate(t, s, FullDataset("sales.clients"))
	const writers = 8
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		errs    = make([]error, writers)
		results = make([]*dataset.Dataset, writers)
	)
	for i := range writers {
		wg.Go(func() {
			d := created.Clone()
			d.Description = fmt.Sprintf("writer %d", i)
			<-start
			results[i], errs[i] = s.UpdateDataset(ctx, d)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both won", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("writer %d: error = %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got := mustGet(t, s, created.ID)
	if !reflect.DeepEqual(got, results[winner]) {
		t.Errorf("stored dataset is not the winner's:\n got %#v\nwant %#v", got, results[winner])
	}
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, writers)
	)
	for i := range writers {
		wg.Go(func() {
			<-start
			_, errs[i] = s.CreateDataset(ctx, FullDataset("sales.clients"))
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrAlreadyExists):
		default:
			t.Errorf("creator %d: error = %v, want nil or ErrAlreadyExists", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d creators won, want exactly 1", won)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	created := mustCreate(t, s, FullDataset("sales.clients"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := s.GetDataset(ctx, created.ID)
	assertErrorIs(t, "GetDataset", err, context.Canceled)
	_, err = s.ListDatasets(ctx, store.ListDatasetsOptions{})
	assertErrorIs(t, "ListDatasets", err, context.Canceled)
	_, err = s.CreateDataset(ctx, FullDataset("sales.other"))
	assertErrorIs(t, "CreateDataset", err, context.Canceled)
	change := created.Clone()
	change.Description = "canceled"
	_, err = s.UpdateDataset(ctx, change)
	assertErrorIs(t, "UpdateDataset", err, context.Canceled)
	assertErrorIs(t, "DeleteDataset", s.DeleteDataset(ctx, created.ID, ""), context.Canceled)
	assertErrorIs(t, "Ping", s.Ping(ctx), context.Canceled)

	// Nothing the canceled calls asked for happened.
	if got := mustGet(t, s, created.ID); !reflect.DeepEqual(got, created) {
		t.Errorf("canceled calls changed the dataset:\n got %#v\nwant %#v", got, created)
	}
	_, err = s.GetDataset(context.Background(), "sales.other")
	assertErrorIs(t, "GetDataset of the canceled create", err, store.ErrNotFound)
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
