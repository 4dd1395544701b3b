package govern

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/sqlite"
)

// openStore opens a SQLite store in a temporary directory.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lakeplane.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newService returns a service on st with the default scale.
func newService(t *testing.T, st Store) *Service {
	t.Helper()
	s, err := New(context.Background(), st, "grade", 3, []string{"rrn", "personal", "internal"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// mustDataset stores a dataset with string columns.
func mustDataset(t *testing.T, st store.Datasets, id string, cols ...string) *dataset.Dataset {
	t.Helper()
	d := &dataset.Dataset{ID: id}
	for _, c := range cols {
		d.Columns = append(d.Columns, dataset.Column{Name: c, Type: dataset.TypeString})
	}
	out, err := st.CreateDataset(context.Background(), d)
	if err != nil {
		t.Fatalf("CreateDataset %s: %v", id, err)
	}
	return out
}

// TestDoneScenario is the "Done means" scenario on the service.
func TestDoneScenario(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustDataset(t, st, "sales.clients", "client_id", "email", "amount")
	mustDataset(t, st, "raw.events", "id", "payload")
	s := newService(t, st)

	for _, a := range []struct {
		r   Resource
		val string
	}{
		{Resource{Database: "sales"}, "3"},
		{Resource{Database: "sales", Table: "clients"}, "3"},
		{Resource{Database: "sales", Table: "clients", Column: "email"}, "1"},
	} {
		if _, err := s.AssignTags(ctx, a.r, map[string]string{"grade": a.val}); err != nil {
			t.Fatalf("AssignTags %s: %v", a.r, err)
		}
	}
	// The grade tag of the table and column IS the dataset's grade.
	d, err := st.GetDataset(ctx, "sales.clients")
	if err != nil || d.Grade != 3 || d.Column("email").Grade != 1 || d.Column("amount").Grade != 0 {
		t.Fatalf("dataset after tagging: %+v, %v", d, err)
	}
	// The database's grade tag is an explicit tag of the grants store.
	if tags, _ := st.GetResourceTags(ctx, store.TagResource{Database: "sales"}); tags["grade"] != "3" {
		t.Errorf("database tags in the store: %v", tags)
	}
	if tags, _ := st.GetResourceTags(ctx, store.TagResource{Database: "sales", Table: "clients"}); len(tags) != 0 {
		t.Errorf("table grade duplicated in the grants store: %v", tags)
	}

	g, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 2, Permissions: []Permission{Select}})
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}

	res, err := s.ResolveGrant(ctx, GrantSpec{Group: "analysts", Grade: 2, Permissions: []Permission{Select, Insert}})
	if err != nil {
		t.Fatalf("ResolveGrant: %v", err)
	}
	if len(res.LFGrants) != 2 {
		t.Fatalf("lfGrants = %+v", res.LFGrants)
	}
	tbl, db := res.LFGrants[0], res.LFGrants[1]
	wantExpr := []TagCondition{{Key: "grade", Values: []string{"2", "3"}}}
	if tbl.ResourceType != "TABLE" || !slices.EqualFunc(tbl.Expression, wantExpr, equalCond) || tbl.Permissions != PermSet(0).With(Select).With(Insert) || tbl.Principal != "analysts" {
		t.Errorf("TABLE grant = %+v", tbl)
	}
	if db.ResourceType != "DATABASE" || !slices.EqualFunc(db.Expression, wantExpr, equalCond) || db.Permissions != PermSet(0).With(Describe) {
		t.Errorf("DATABASE grant = %+v", db)
	}
	wantTable := AccessibleTable{Database: "sales", Table: "clients", Columns: []string{"client_id", "amount"}, ExcludedColumns: []string{"email"},
		Permissions: PermSet(0).With(Select)} // INSERT does not hold where only some columns are open
	if len(res.Accessible) != 1 || !equalAccessible(res.Accessible[0], wantTable) {
		t.Errorf("accessible = %+v, want [%+v]", res.Accessible, wantTable)
	}

	dec, err := s.CheckAccess(Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"email"}, Permission: Select})
	if err != nil {
		t.Fatalf("CheckAccess: %v", err)
	}
	if dec.Allowed || !slices.Equal(dec.DeniedColumns, []string{"email"}) {
		t.Errorf("email decision = %+v", dec)
	}
	for _, want := range []string{"denied", "grade=1", "analysts", g.ID, "grade IN (2,3)"} {
		if !strings.Contains(dec.Reason, want) {
			t.Errorf("reason %q does not name %q", dec.Reason, want)
		}
	}
	dec, _ = s.CheckAccess(Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"client_id", "amount"}, Permission: Select})
	if !dec.Allowed || !strings.Contains(dec.Reason, g.ID) || !strings.Contains(dec.Reason, "grade=3") {
		t.Errorf("allowed decision = %+v", dec)
	}
	dec, _ = s.CheckAccess(Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Permission: Select})
	if dec.Allowed || !slices.Equal(dec.AllowedColumns, []string{"client_id", "amount"}) || !slices.Equal(dec.DeniedColumns, []string{"email"}) {
		t.Errorf("whole-table decision = %+v", dec)
	}

	// The untagged table is never accessible, whatever the grade.
	if _, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 1, Permissions: []Permission{Select, Describe, Insert, Delete, Alter, Drop}}); err != nil {
		t.Fatal(err)
	}
	for p := range numPermissions {
		if s.Index().Allowed([]string{"analysts"}, "raw", "events", "id", p) {
			t.Errorf("untagged raw.events.id allowed for %s", p)
		}
	}
	dec, _ = s.CheckAccess(Check{Groups: []string{"analysts"}, Database: "raw", Table: "events", Permission: Select})
	if dec.Allowed || !strings.Contains(dec.Reason, "untagged") {
		t.Errorf("untagged decision = %+v", dec)
	}
	tables, next, err := s.ListAccessibleTables("analysts", 0, "")
	if err != nil || next != "" || len(tables) != 1 || tables[0].Table != "clients" || len(tables[0].Columns) != 3 {
		t.Errorf("ListAccessibleTables = %+v, %q, %v", tables, next, err)
	}

	// A new service on the same store rebuilds the same index.
	s2 := newService(t, st)
	dec, _ = s2.CheckAccess(Check{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"email"}, Permission: Alter})
	if !dec.Allowed {
		t.Errorf("after rebuild, grade-1 ALTER grant denied: %+v", dec)
	}
}

func equalCond(a, b TagCondition) bool { return a.Key == b.Key && slices.Equal(a.Values, b.Values) }

func equalAccessible(a, b AccessibleTable) bool {
	return a.Database == b.Database && a.Table == b.Table && slices.Equal(a.Columns, b.Columns) &&
		slices.Equal(a.ExcludedColumns, b.ExcludedColumns) && a.Permissions == b.Permissions
}

func TestTagRules(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustDataset(t, st, "sales.clients", "client_id", "email")
	s := newService(t, st)
	if _, err := s.CreateTagKey(ctx, "domain", []string{"retail", "card"}); err != nil {
		t.Fatalf("CreateTagKey: %v", err)
	}
	cases := []struct {
		name  string
		r     Resource
		tags  map[string]string
		field string
	}{
		{"upper-case key", Resource{Database: "sales"}, map[string]string{"Domain": "retail"}, "tags[Domain]"},
		{"undefined key", Resource{Database: "sales"}, map[string]string{"owner": "x"}, "tags[owner]"},
		{"value not allowed", Resource{Database: "sales"}, map[string]string{"domain": "loan"}, "tags[domain]"},
		{"grade off the scale", Resource{Database: "sales"}, map[string]string{"grade": "4"}, "tags[grade]"},
		{"no database", Resource{Table: "clients"}, map[string]string{"grade": "1"}, "resource.database"},
		{"column without table", Resource{Database: "sales", Column: "email"}, map[string]string{"grade": "1"}, "resource.table"},
		{"no tags", Resource{Database: "sales"}, nil, "tags"},
	}
	for _, tc := range cases {
		_, err := s.AssignTags(ctx, tc.r, tc.tags)
		fe := fault.FieldErrors(err)
		if len(fe) != 1 || fe[0].Field != tc.field {
			t.Errorf("%s: err %v, want a field error on %s", tc.name, err, tc.field)
		}
	}
	if _, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "nope"}, map[string]string{"grade": "1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown table: %v, want NotFound", err)
	}
	if _, err := s.CreateTagKey(ctx, "x", []string{strings.Repeat("a", 51)}); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("51-character value: %v", err)
	}
	if _, err := s.CreateTagKey(ctx, "grade", []string{"1"}); !errors.Is(err, store.ErrAlreadyExists) {
		t.Errorf("grade key: %v, want AlreadyExists", err)
	}

	// Inheritance, both directions, and explicit vs effective.
	if _, err := s.AssignTags(ctx, Resource{Database: "sales"}, map[string]string{"domain": "retail", "grade": "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "clients"}, map[string]string{"grade": "3"}); err != nil {
		t.Fatal(err)
	}
	v, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "clients", Column: "email"}, map[string]string{"domain": "card"})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(v.Explicit, map[string]string{"domain": "card"}) || !maps.Equal(v.Effective, map[string]string{"domain": "card", "grade": "3"}) {
		t.Errorf("column tags = %+v", v)
	}
	all, _, err := s.ListResourceTags("sales", "", 0, "")
	if err != nil || len(all) != 4 {
		t.Fatalf("ListResourceTags = %d, %v", len(all), err)
	}
	if !maps.Equal(all[2].Effective, map[string]string{"domain": "retail", "grade": "3"}) {
		t.Errorf("client_id effective = %v", all[2].Effective)
	}
	page, next, err := s.ListResourceTags("sales", "", 3, "")
	if err != nil || len(page) != 3 || next == "" {
		t.Fatalf("page 1: %d, %q, %v", len(page), next, err)
	}
	page, next, err = s.ListResourceTags("sales", "", 3, next)
	if err != nil || len(page) != 1 || next != "" || page[0].Resource.Column != "email" {
		t.Errorf("page 2: %+v, %q, %v", page, next, err)
	}

	// Removing the table's grade makes it inherit the database's again.
	v, err = s.RemoveTags(ctx, Resource{Database: "sales", Table: "clients"}, []string{"grade"})
	if err != nil || v.Effective["grade"] != "1" || v.Explicit["grade"] != "" {
		t.Errorf("after RemoveTags: %+v, %v", v, err)
	}
	if d, _ := st.GetDataset(ctx, "sales.clients"); d.Grade != 0 {
		t.Errorf("dataset grade after removal = %d", d.Grade)
	}

	// A key in use cannot be deleted.
	if err := s.DeleteTagKey(ctx, "domain"); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("DeleteTagKey in use: %v, want FAILED_PRECONDITION", err)
	}
	if err := s.DeleteTagKey(ctx, "grade"); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("DeleteTagKey grade: %v, want FAILED_PRECONDITION", err)
	}
	for _, r := range []Resource{{Database: "sales"}, {Database: "sales", Table: "clients", Column: "email"}} {
		if _, err := s.RemoveTags(ctx, r, []string{"domain"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteTagKey(ctx, "domain"); err != nil {
		t.Errorf("DeleteTagKey once unused: %v", err)
	}
	keys, _, _ := s.ListTagKeys(0, "")
	if len(keys) != 1 || keys[0].Key != "grade" || !slices.Equal(keys[0].Values, []string{"1", "2", "3"}) {
		t.Errorf("ListTagKeys = %+v", keys)
	}
}

func TestTagsPerResourceLimit(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	d := mustDataset(t, st, "sales.clients", "a")
	next := d.Clone()
	next.Grade = 2
	if _, err := st.UpdateDataset(ctx, next); err != nil {
		t.Fatal(err)
	}
	s := newService(t, st)
	tags := map[string]string{}
	for i := range 49 {
		k := "k" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		if _, err := s.CreateTagKey(ctx, k, []string{"v"}); err != nil {
			t.Fatal(err)
		}
		tags[k] = "v"
	}
	if _, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "clients"}, tags); err != nil {
		t.Fatalf("49 tags + the grade: %v", err)
	}
	if _, err := s.CreateTagKey(ctx, "extra", []string{"v"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "clients"}, map[string]string{"extra": "v"})
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "tags" {
		t.Errorf("51st tag: %v, want a field error on tags", err)
	}
}

func TestDatasetChanged(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	s := newService(t, st)
	if _, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "ops", Grade: 3, Permissions: []Permission{Select}}); err != nil {
		t.Fatal(err)
	}
	d := mustDataset(t, st, "sales.orders", "id")
	if err := s.DatasetChanged(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "orders"}, map[string]string{"grade": "3"}); err != nil {
		t.Fatal(err)
	}
	if !s.Index().Allowed([]string{"ops"}, "sales", "orders", "id", Select) {
		t.Fatal("tagged table not allowed")
	}
	// An update made elsewhere (the ingest service) reaches the index.
	cur, _ := st.GetDataset(ctx, d.ID)
	cur.Columns = append(cur.Columns, dataset.Column{Name: "secret", Type: dataset.TypeString, Grade: 1})
	if _, err := st.UpdateDataset(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if err := s.DatasetChanged(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if s.Index().Allowed([]string{"ops"}, "sales", "orders", "secret", Select) || !s.Index().Allowed([]string{"ops"}, "sales", "orders", "id", Select) {
		t.Error("index does not follow the dataset update")
	}
	if err := st.DeleteDataset(ctx, d.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DatasetChanged(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if s.Index().Allowed([]string{"ops"}, "sales", "orders", "id", Select) {
		t.Error("deleted table still allowed")
	}
}

func TestGrantValidation(t *testing.T) {
	ctx := context.Background()
	s := newService(t, openStore(t))
	cases := []struct {
		g     GrantSpec
		field string
	}{
		{GrantSpec{Grade: 2, Permissions: []Permission{Select}}, "groupGrant.group"},
		{GrantSpec{Group: "a", Grade: 0, Permissions: []Permission{Select}}, "groupGrant.grade"},
		{GrantSpec{Group: "a", Grade: 4, Permissions: []Permission{Select}}, "groupGrant.grade"},
		{GrantSpec{Group: "a", Grade: 2}, "groupGrant.permissions"},
		{GrantSpec{Group: "a", Grade: 2, Permissions: []Permission{Select}, Domains: []string{"x"}}, "groupGrant.domains"},
	}
	for _, tc := range cases {
		_, err := s.CreateGroupGrant(ctx, tc.g)
		if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != tc.field {
			t.Errorf("%+v: %v, want a field error on %s", tc.g, err, tc.field)
		}
	}
	if _, err := s.CreateTagKey(ctx, "domain", []string{"retail"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "a", Grade: 2, Permissions: []Permission{Select}, Domains: []string{"card"}})
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "groupGrant.domains[0]" {
		t.Errorf("unknown domain value: %v", err)
	}
	g, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "a", Grade: 2, Permissions: []Permission{Select}, Domains: []string{"retail"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTagKey(ctx, "domain"); !errors.Is(err, fault.ErrFailedPrecondition) {
		t.Errorf("deleting the domain key a grant names: %v", err)
	}
	if err := s.DeleteGroupGrant(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroupGrant(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.BatchCheckAccess(make([]Check, MaxBatchChecks+1)); len(fault.FieldErrors(err)) != 1 {
		t.Errorf("oversized batch: %v", err)
	}
}
