package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
)

// GrantsStore is what the grants conformance tests need of a store.
type GrantsStore interface {
	store.Datasets
	store.Grants
	store.GovernanceLog
}

// RunGrants runs the conformance suite of store.Grants and
// store.GovernanceLog. open must return a
// fresh, empty store each time it is called, as for Run.
func RunGrants(t *testing.T, open func(t *testing.T) GrantsStore) {
	for _, tc := range slices.Concat(grantsTests, governanceTests) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// grantsTests check store.Grants.
var grantsTests = []struct {
	name string
	fn   func(t *testing.T, s GrantsStore)
}{
	{"TagKeyRoundTrip", testTagKeyRoundTrip},
	{"TagKeyAlreadyExists", testTagKeyAlreadyExists},
	{"TagKeyNotFound", testTagKeyNotFound},
	{"TagKeyPaging", testTagKeyPaging},
	{"TagKeyInUse", testTagKeyInUse},
	{"SetAndRemoveTags", testSetAndRemoveTags},
	{"TagsPerResourceLimit", testTagsPerResourceLimit},
	{"ResourcesAreDistinct", testResourcesAreDistinct},
	{"ListResourceTagsPaging", testListResourceTagsPaging},
	{"ListResourceTagsFilters", testListResourceTagsFilters},
	{"ListResourceTagsInvalidToken", testListResourceTagsInvalidToken},
	{"DeleteResourceTags", testDeleteResourceTags},
	{"GroupGrantRoundTrip", testGroupGrantRoundTrip},
	{"GroupGrantPaging", testGroupGrantPaging},
	{"GroupGrantNotFound", testGroupGrantNotFound},
	{"ConcurrentTagWrites", testConcurrentTagWrites},
	{"LoadGrantsState", testLoadGrantsState},
}

func testTagKeyRoundTrip(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	in := &store.TagKey{Key: "domain", Values: []string{"retail", "card", "loan"}}
	created, err := s.CreateTagKey(ctx, in)
	if err != nil {
		t.Fatalf("CreateTagKey: %v", err)
	}
	if created.CreateTime.IsZero() || !slices.Equal(created.Values, in.Values) || created.Key != "domain" {
		t.Errorf("created = %+v", created)
	}
	got, err := s.GetTagKey(ctx, "domain")
	if err != nil {
		t.Fatalf("GetTagKey: %v", err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GetTagKey = %+v, want %+v (values keep their order)", got, created)
	}
	if err := s.DeleteTagKey(ctx, "domain"); err != nil {
		t.Fatalf("DeleteTagKey: %v", err)
	}
	if _, err := s.GetTagKey(ctx, "domain"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTagKey after delete: %v, want ErrNotFound", err)
	}
}

func testTagKeyAlreadyExists(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	mustTagKey(t, s, "domain", "a")
	if _, err := s.CreateTagKey(ctx, &store.TagKey{Key: "domain", Values: []string{"b"}}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("second CreateTagKey: %v, want ErrAlreadyExists", err)
	}
}

func testTagKeyNotFound(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	if _, err := s.GetTagKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTagKey: %v, want ErrNotFound", err)
	}
	if err := s.DeleteTagKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteTagKey: %v, want ErrNotFound", err)
	}
}

func testTagKeyPaging(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	var want []string
	for i := range 7 {
		k := fmt.Sprintf("key_%02d", 6-i)
		mustTagKey(t, s, k, "v")
		want = append(want, k)
	}
	slices.Sort(want)
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListTagKeys(ctx, store.ListTagKeysOptions{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatalf("ListTagKeys: %v", err)
		}
		if len(page.Items) > 3 {
			t.Fatalf("page of %d, want <= 3", len(page.Items))
		}
		for _, k := range page.Items {
			got = append(got, k.Key)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	if _, err := s.ListTagKeys(ctx, store.ListTagKeysOptions{PageToken: "garbage"}); !errors.Is(err, store.ErrInvalidPageToken) {
		t.Errorf("bad token: %v, want ErrInvalidPageToken", err)
	}
}

func testTagKeyInUse(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	mustTagKey(t, s, "domain", "retail")
	col := store.TagResource{Database: "sales", Table: "clients", Column: "email"}
	if _, err := s.SetResourceTags(ctx, col, map[string]string{"domain": "retail"}, nil); err != nil {
		t.Fatalf("SetResourceTags: %v", err)
	}
	if err := s.DeleteTagKey(ctx, "domain"); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("DeleteTagKey in use: %v, want ErrInUse", err)
	}
	if _, err := s.GetTagKey(ctx, "domain"); err != nil {
		t.Fatalf("key gone after refused delete: %v", err)
	}
	if _, err := s.SetResourceTags(ctx, col, nil, []string{"domain"}); err != nil {
		t.Fatalf("SetResourceTags remove: %v", err)
	}
	if err := s.DeleteTagKey(ctx, "domain"); err != nil {
		t.Errorf("DeleteTagKey once unused: %v", err)
	}
}

func testSetAndRemoveTags(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	r := store.TagResource{Database: "sales", Table: "clients"}
	got, err := s.SetResourceTags(ctx, r, map[string]string{"domain": "retail", "owner": "team_a"}, nil)
	if err != nil {
		t.Fatalf("SetResourceTags: %v", err)
	}
	if want := map[string]string{"domain": "retail", "owner": "team_a"}; !maps.Equal(got, want) {
		t.Errorf("after set: %v, want %v", got, want)
	}
	// One value per key: setting again replaces; removing a missing key is fine.
	got, err = s.SetResourceTags(ctx, r, map[string]string{"domain": "card"}, []string{"owner", "missing"})
	if err != nil {
		t.Fatalf("SetResourceTags: %v", err)
	}
	if want := map[string]string{"domain": "card"}; !maps.Equal(got, want) {
		t.Errorf("after replace and remove: %v, want %v", got, want)
	}
	stored, err := s.GetResourceTags(ctx, r)
	if err != nil || !maps.Equal(stored, got) {
		t.Errorf("GetResourceTags = %v, %v; want %v", stored, err, got)
	}
	none, err := s.GetResourceTags(ctx, store.TagResource{Database: "other"})
	if err != nil || len(none) != 0 {
		t.Errorf("GetResourceTags of untagged = %v, %v; want empty", none, err)
	}
	if _, err := s.SetResourceTags(ctx, store.TagResource{Database: "x", Column: "c"}, map[string]string{"a": "b"}, nil); err == nil {
		t.Error("SetResourceTags on a column without a table succeeded")
	}
}

func testTagsPerResourceLimit(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	r := store.TagResource{Database: "sales"}
	set := map[string]string{}
	for i := range store.MaxTagsPerResource {
		set[fmt.Sprintf("k%02d", i)] = "v"
	}
	if _, err := s.SetResourceTags(ctx, r, set, nil); err != nil {
		t.Fatalf("SetResourceTags of %d tags: %v", len(set), err)
	}
	if _, err := s.SetResourceTags(ctx, r, map[string]string{"one_more": "v"}, nil); !errors.Is(err, store.ErrTooManyTags) {
		t.Fatalf("tag %d: %v, want ErrTooManyTags", store.MaxTagsPerResource+1, err)
	}
	got, err := s.GetResourceTags(ctx, r)
	if err != nil || len(got) != store.MaxTagsPerResource || got["one_more"] != "" {
		t.Errorf("after refused set: %d tags, %v; want %d, unchanged", len(got), err, store.MaxTagsPerResource)
	}
	// Replacing one while adding one stays within the limit.
	if _, err := s.SetResourceTags(ctx, r, map[string]string{"one_more": "v"}, []string{"k00"}); err != nil {
		t.Errorf("swap within the limit: %v", err)
	}
}

func testResourcesAreDistinct(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	rs := []store.TagResource{
		{Database: "sales"},
		{Database: "sales", Table: "clients"},
		{Database: "sales", Table: "clients", Column: "email"},
		{Database: "sales", Table: "orders"},
		{Database: "salesx"},
	}
	for i, r := range rs {
		if _, err := s.SetResourceTags(ctx, r, map[string]string{"domain": fmt.Sprint("v", i)}, nil); err != nil {
			t.Fatalf("SetResourceTags: %v", err)
		}
	}
	for i, r := range rs {
		got, err := s.GetResourceTags(ctx, r)
		if err != nil || !maps.Equal(got, map[string]string{"domain": fmt.Sprint("v", i)}) {
			t.Errorf("%+v: %v, %v", r, got, err)
		}
	}
}

// tagResources tags n tables of database db, two columns each, and returns
// the resources in listing order.
func tagResources(t *testing.T, s GrantsStore, db string, n int) []store.TagResource {
	t.Helper()
	var rs []store.TagResource
	for i := range n {
		tbl := fmt.Sprintf("t%02d", i)
		for _, r := range []store.TagResource{
			{Database: db, Table: tbl},
			{Database: db, Table: tbl, Column: "a"},
			{Database: db, Table: tbl, Column: "b"},
		} {
			if _, err := s.SetResourceTags(context.Background(), r, map[string]string{"domain": "x", "owner": tbl}, nil); err != nil {
				t.Fatalf("SetResourceTags: %v", err)
			}
			rs = append(rs, r)
		}
	}
	return rs
}

// listAllResourceTags pages through ListResourceTags.
func listAllResourceTags(t *testing.T, s GrantsStore, opts store.ListResourceTagsOptions) []store.TagResource {
	t.Helper()
	var got []store.TagResource
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListResourceTags(context.Background(), opts)
		if err != nil {
			t.Fatalf("ListResourceTags: %v", err)
		}
		if len(page.Items) > store.NormalizePageSize(opts.PageSize) {
			t.Fatalf("page of %d", len(page.Items))
		}
		for _, rt := range page.Items {
			if len(rt.Tags) != 2 {
				t.Errorf("%+v has tags %v, want 2", rt.Resource, rt.Tags)
			}
			got = append(got, rt.Resource)
		}
		if opts.PageToken = page.NextPageToken; opts.PageToken == "" {
			return got
		}
	}
}

func testListResourceTagsPaging(t *testing.T, s GrantsStore) {
	want := tagResources(t, s, "sales", 4)
	for _, size := range []int{1, 2, 5, 12, 100} {
		got := listAllResourceTags(t, s, store.ListResourceTagsOptions{PageSize: size})
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: listed %v, want %v", size, got, want)
		}
	}
}

func testListResourceTagsFilters(t *testing.T, s GrantsStore) {
	sales := tagResources(t, s, "sales", 2)
	tagResources(t, s, "risk", 2)
	if got := listAllResourceTags(t, s, store.ListResourceTagsOptions{Database: "sales", PageSize: 2}); !slices.Equal(got, sales) {
		t.Errorf("database filter: %v, want %v", got, sales)
	}
	if got := listAllResourceTags(t, s, store.ListResourceTagsOptions{Database: "sales", Table: "t01", PageSize: 1}); !slices.Equal(got, sales[3:]) {
		t.Errorf("table filter: %v, want %v", got, sales[3:])
	}
}

func testListResourceTagsInvalidToken(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	tagResources(t, s, "sales", 2)
	page, err := s.ListResourceTags(ctx, store.ListResourceTagsOptions{PageSize: 1})
	if err != nil || page.NextPageToken == "" {
		t.Fatalf("ListResourceTags: %v, token %q", err, page.NextPageToken)
	}
	if _, err := s.ListResourceTags(ctx, store.ListResourceTagsOptions{PageToken: page.NextPageToken, Database: "sales"}); !errors.Is(err, store.ErrInvalidPageToken) {
		t.Errorf("token with another filter: %v, want ErrInvalidPageToken", err)
	}
	if _, err := s.ListResourceTags(ctx, store.ListResourceTagsOptions{PageToken: "x"}); !errors.Is(err, store.ErrInvalidPageToken) {
		t.Errorf("garbage token: %v, want ErrInvalidPageToken", err)
	}
}

func testDeleteResourceTags(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	tagResources(t, s, "sales", 2)
	n, err := s.DeleteResourceTags(ctx, "sales", "t00")
	if err != nil || n != 6 {
		t.Fatalf("DeleteResourceTags = %d, %v; want 6", n, err)
	}
	got := listAllResourceTags(t, s, store.ListResourceTagsOptions{})
	if len(got) != 3 || got[0].Table != "t01" {
		t.Errorf("left %v, want t01's three resources", got)
	}
}

func testGroupGrantRoundTrip(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	in := &store.GroupGrant{ID: "ignored", Group: "analysts", Grade: 2, Permissions: []string{"SELECT", "DESCRIBE"}, Domains: []string{"retail"}}
	created, err := s.CreateGroupGrant(ctx, in)
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	if created.ID == "" || created.ID == "ignored" || created.CreateTime.IsZero() {
		t.Errorf("created = %+v: want a new id and a create time", created)
	}
	got, err := s.GetGroupGrant(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetGroupGrant: %v", err)
	}
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GetGroupGrant = %+v, want %+v", got, created)
	}
	bare, err := s.CreateGroupGrant(ctx, &store.GroupGrant{Group: "ops", Grade: 3, Permissions: []string{"SELECT"}})
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	if got, _ := s.GetGroupGrant(ctx, bare.ID); got == nil || len(got.Domains) != 0 {
		t.Errorf("grant without domains read back as %+v", got)
	}
	if err := s.DeleteGroupGrant(ctx, created.ID); err != nil {
		t.Fatalf("DeleteGroupGrant: %v", err)
	}
	if _, err := s.GetGroupGrant(ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v, want ErrNotFound", err)
	}
}

func testGroupGrantPaging(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	var analysts, all []string
	for i := range 9 {
		group := []string{"analysts", "ops", "risk"}[i%3]
		g, err := s.CreateGroupGrant(ctx, &store.GroupGrant{Group: group, Grade: 1 + i%3, Permissions: []string{"SELECT"}})
		if err != nil {
			t.Fatalf("CreateGroupGrant: %v", err)
		}
		all = append(all, g.ID)
		if group == "analysts" {
			analysts = append(analysts, g.ID)
		}
	}
	slices.Sort(all)
	slices.Sort(analysts)
	list := func(group string) []string {
		var ids []string
		token := ""
		for {
			page, err := s.ListGroupGrants(ctx, store.ListGroupGrantsOptions{Group: group, PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatalf("ListGroupGrants: %v", err)
			}
			for _, g := range page.Items {
				if group != "" && g.Group != group {
					t.Errorf("group filter %q listed %q", group, g.Group)
				}
				ids = append(ids, g.ID)
			}
			if token = page.NextPageToken; token == "" {
				return ids
			}
		}
	}
	if got := list(""); !slices.Equal(got, all) {
		t.Errorf("all: %v, want %v", got, all)
	}
	if got := list("analysts"); !slices.Equal(got, analysts) {
		t.Errorf("analysts: %v, want %v", got, analysts)
	}
	page, _ := s.ListGroupGrants(ctx, store.ListGroupGrantsOptions{PageSize: 1})
	if _, err := s.ListGroupGrants(ctx, store.ListGroupGrantsOptions{Group: "ops", PageToken: page.NextPageToken}); !errors.Is(err, store.ErrInvalidPageToken) {
		t.Errorf("token with another group: %v, want ErrInvalidPageToken", err)
	}
}

func testGroupGrantNotFound(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	if _, err := s.GetGroupGrant(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetGroupGrant: %v, want ErrNotFound", err)
	}
	if err := s.DeleteGroupGrant(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteGroupGrant: %v, want ErrNotFound", err)
	}
}

func testConcurrentTagWrites(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	r := store.TagResource{Database: "sales", Table: "clients"}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.SetResourceTags(ctx, r, map[string]string{fmt.Sprintf("k%d", i): "v", "shared": fmt.Sprint(i)}, nil)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent SetResourceTags: %v", err)
		}
	}
	got, err := s.GetResourceTags(ctx, r)
	if err != nil || len(got) != 9 {
		t.Errorf("after concurrent writes: %v, %v; want 9 tags", got, err)
	}
}

func testLoadGrantsState(t *testing.T, s GrantsStore) {
	ctx := context.Background()
	empty, err := s.LoadGrantsState(ctx)
	if err != nil || len(empty.TagKeys)+len(empty.Tags)+len(empty.Grants) != 0 {
		t.Fatalf("LoadGrantsState of an empty store = %+v, %v", empty, err)
	}
	k := mustTagKey(t, s, "domain", "retail", "card")
	rs := tagResources(t, s, "sales", 2)
	g, err := s.CreateGroupGrant(ctx, &store.GroupGrant{Group: "analysts", Grade: 2, Permissions: []string{"SELECT"}, Domains: []string{"retail"}})
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	st, err := s.LoadGrantsState(ctx)
	if err != nil {
		t.Fatalf("LoadGrantsState: %v", err)
	}
	if len(st.TagKeys) != 1 || !reflect.DeepEqual(st.TagKeys[0], k) {
		t.Errorf("tag keys %+v, want [%+v]", st.TagKeys, k)
	}
	if len(st.Grants) != 1 || !reflect.DeepEqual(st.Grants[0], g) {
		t.Errorf("grants %+v, want [%+v]", st.Grants, g)
	}
	var got []store.TagResource
	for _, rt := range st.Tags {
		got = append(got, rt.Resource)
		if !maps.Equal(rt.Tags, map[string]string{"domain": "x", "owner": rt.Resource.Table}) {
			t.Errorf("%+v: tags %v", rt.Resource, rt.Tags)
		}
	}
	if !slices.Equal(got, rs) {
		t.Errorf("tagged resources %v, want %v", got, rs)
	}
}

// mustTagKey creates a tag key or fails the test.
func mustTagKey(t *testing.T, s GrantsStore, key string, values ...string) *store.TagKey {
	t.Helper()
	k, err := s.CreateTagKey(context.Background(), &store.TagKey{Key: key, Values: values})
	if err != nil {
		t.Fatalf("CreateTagKey %q: %v", key, err)
	}
	return k
}
