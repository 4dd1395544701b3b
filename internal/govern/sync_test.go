package govern

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// phaseOf is the position of a kind in a plan (UPDATE_LF_TAG adds in
// phase 0 and deletes in phase 5).
func phaseOf(a SyncAction) int {
	switch a.Kind {
	case KindCreateLFTag:
		return 0
	case KindUpdateLFTag:
		if strings.Contains(string(a.Input), "TagValuesToDelete") {
			return 5
		}
		return 0
	case KindAddLFTags:
		return 1
	case KindGrantPerms:
		return 2
	case KindRevokePerms:
		return 3
	case KindRemoveLFTags:
		return 4
	default:
		return 5
	}
}

// checkOrder fails unless the actions come phase after phase.
func checkOrder(t *testing.T, actions []SyncAction) {
	t.Helper()
	for i := 1; i < len(actions); i++ {
		if phaseOf(actions[i]) < phaseOf(actions[i-1]) {
			t.Errorf("action %d %s (%s) comes after %s", i, actions[i].Kind, actions[i].Description, actions[i-1].Kind)
		}
	}
}

// kinds lists the kinds of actions.
func kinds(actions []SyncAction) []string {
	out := make([]string, len(actions))
	for i, a := range actions {
		out[i] = a.Kind
	}
	return out
}

// input decodes an action's input.
func input[T any](t *testing.T, a SyncAction) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.Input, &v); err != nil {
		t.Fatalf("%s input %s: %v", a.Kind, a.Input, err)
	}
	return v
}

// syncFixture is a service with the Done scenario's catalog, a domain key
// and two grants.
func syncFixture(t *testing.T, opts ...Option) (*Service, string) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	mustDataset(t, st, "sales.clients", "client_id", "email", "amount")
	mustDataset(t, st, "raw.events", "id")
	s, err := New(ctx, st, "grade", 3, nil, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := s.CreateTagKey(ctx, "domain", []string{"retail", "card"}); err != nil {
		t.Fatalf("CreateTagKey: %v", err)
	}
	for _, a := range []struct {
		r    Resource
		tags map[string]string
	}{
		{Resource{Database: "sales"}, map[string]string{"grade": "3", "domain": "retail"}},
		{Resource{Database: "sales", Table: "clients"}, map[string]string{"grade": "3"}},
		{Resource{Database: "sales", Table: "clients", Column: "email"}, map[string]string{"grade": "1"}},
		{Resource{Database: "sales", Table: "clients", Column: "amount"}, map[string]string{"domain": "card"}},
	} {
		if _, err := s.AssignTags(ctx, a.r, a.tags); err != nil {
			t.Fatalf("AssignTags %s: %v", a.r, err)
		}
	}
	g, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "analysts", Grade: 2, Permissions: []Permission{Select}})
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	if _, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "auditors", Grade: 1, Permissions: []Permission{Select, Describe}, Domains: []string{"retail"}}); err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	return s, g.ID
}

// mustPlan plans and fails the test on error.
func mustPlan(t *testing.T, s *Service) *SyncPlan {
	t.Helper()
	p, err := s.PlanSync(context.Background())
	if err != nil {
		t.Fatalf("PlanSync: %v", err)
	}
	return p
}

// mustApply applies a plan and wants every action applied.
func mustApply(t *testing.T, s *Service, p *SyncPlan) *SyncResult {
	t.Helper()
	r, err := s.ApplySync(context.Background(), p.ID)
	if err != nil {
		t.Fatalf("ApplySync: %v", err)
	}
	if r.Failed != 0 || r.Applied != len(p.Actions) {
		t.Fatalf("ApplySync = %+v, want %d applied", r, len(p.Actions))
	}
	return r
}

func TestPlanSyncOrderAndInputs(t *testing.T) {
	s, _ := syncFixture(t)
	p := mustPlan(t, s)
	want := []string{KindCreateLFTag, KindCreateLFTag, KindAddLFTags, KindAddLFTags, KindAddLFTags, KindAddLFTags, KindGrantPerms}
	if got := kinds(p.Actions); !slices.Equal(got, want) {
		for _, a := range p.Actions {
			t.Logf("%s: %s", a.Kind, a.Description)
		}
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	checkOrder(t, p.Actions)
	if in := input[CreateLFTagInput](t, p.Actions[0]); in.TagKey != "domain" || !slices.Equal(in.TagValues, []string{"retail", "card"}) {
		t.Errorf("first CreateLFTag = %+v", in)
	}
	if in := input[CreateLFTagInput](t, p.Actions[1]); in.TagKey != "grade" || !slices.Equal(in.TagValues, []string{"1", "2", "3"}) {
		t.Errorf("second CreateLFTag = %+v", in)
	}
	db := input[LFTagsOnResourceInput](t, p.Actions[2])
	if db.Resource.Database == nil || db.Resource.Database.Name != "sales" ||
		!reflect.DeepEqual(db.LFTags, []LFTagPair{{"domain", []string{"retail"}}, {"grade", []string{"3"}}}) {
		t.Errorf("database tags = %+v", db)
	}
	tbl := input[LFTagsOnResourceInput](t, p.Actions[3])
	if tbl.Resource.Table == nil || *tbl.Resource.Table != (LFTableResource{DatabaseName: "sales", Name: "clients"}) ||
		!reflect.DeepEqual(tbl.LFTags, []LFTagPair{{"grade", []string{"3"}}}) {
		t.Errorf("table tags = %+v", tbl)
	}
	// Columns sorted by name: amount (domain=card), then email (grade=1).
	amount, email := input[LFTagsOnResourceInput](t, p.Actions[4]), input[LFTagsOnResourceInput](t, p.Actions[5])
	if c := amount.Resource.TableWithColumns; c == nil || c.Name != "clients" || !slices.Equal(c.ColumnNames, []string{"amount"}) ||
		!reflect.DeepEqual(amount.LFTags, []LFTagPair{{"domain", []string{"card"}}}) {
		t.Errorf("amount tags = %+v", amount)
	}
	if c := email.Resource.TableWithColumns; c == nil || !slices.Equal(c.ColumnNames, []string{"email"}) ||
		!reflect.DeepEqual(email.LFTags, []LFTagPair{{"grade", []string{"1"}}}) {
		t.Errorf("email tags = %+v", email)
	}
	grants := input[BatchPermissionsInput](t, p.Actions[6])
	if len(grants.Entries) != 4 {
		t.Fatalf("grant entries = %+v", grants.Entries)
	}
	var found bool
	for i, e := range grants.Entries {
		if e.Id != fmt.Sprint(i+1) {
			t.Errorf("entry %d has Id %q", i, e.Id)
		}
		pol := e.Resource.LFTagPolicy
		if e.Principal.DataLakePrincipalIdentifier == "analysts" && pol.ResourceType == "TABLE" {
			found = reflect.DeepEqual(pol.Expression, []LFTagPair{{"grade", []string{"2", "3"}}}) && slices.Equal(e.Permissions, []string{"SELECT"})
		}
		if e.Principal.DataLakePrincipalIdentifier == "auditors" && pol.ResourceType == "DATABASE" &&
			(!reflect.DeepEqual(pol.Expression, []LFTagPair{{"grade", []string{"1", "2", "3"}}, {"domain", []string{"retail"}}}) || !slices.Equal(e.Permissions, []string{"DESCRIBE"})) {
			t.Errorf("auditors' database entry = %+v", e)
		}
	}
	if !found {
		t.Errorf("no analysts TABLE entry grade IN (2,3) SELECT in %+v", grants.Entries)
	}
}

func TestApplyThenPlanIsEmpty(t *testing.T) {
	s, _ := syncFixture(t)
	mustApply(t, s, mustPlan(t, s))
	if p := mustPlan(t, s); len(p.Actions) != 0 {
		t.Errorf("plan after apply = %v", kinds(p.Actions))
	}
	// A fresh service on the same store (a restart) agrees.
	s2, err := New(context.Background(), s.st, "grade", 3, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if p := mustPlan(t, s2); len(p.Actions) != 0 {
		t.Errorf("plan after restart = %v", kinds(p.Actions))
	}
}

func TestPlanSyncRevokesAndRemovals(t *testing.T) {
	ctx := context.Background()
	s, analysts := syncFixture(t)
	mustApply(t, s, mustPlan(t, s))
	if err := s.DeleteGroupGrant(ctx, analysts); err != nil {
		t.Fatalf("DeleteGroupGrant: %v", err)
	}
	if _, err := s.RemoveTags(ctx, Resource{Database: "sales", Table: "clients", Column: "amount"}, []string{"domain"}); err != nil {
		t.Fatalf("RemoveTags: %v", err)
	}
	if _, err := s.AssignTags(ctx, Resource{Database: "sales", Table: "clients", Column: "email"}, map[string]string{"grade": "2"}); err != nil {
		t.Fatalf("AssignTags: %v", err)
	}
	p := mustPlan(t, s)
	if got, want := kinds(p.Actions), []string{KindAddLFTags, KindRevokePerms, KindRemoveLFTags}; !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if in := input[LFTagsOnResourceInput](t, p.Actions[0]); !reflect.DeepEqual(in.LFTags, []LFTagPair{{"grade", []string{"2"}}}) {
		t.Errorf("regrade = %+v", in)
	}
	rev := input[BatchPermissionsInput](t, p.Actions[1])
	if len(rev.Entries) != 2 {
		t.Fatalf("revokes = %+v", rev.Entries)
	}
	for _, e := range rev.Entries {
		if e.Principal.DataLakePrincipalIdentifier != "analysts" {
			t.Errorf("revoke of %+v", e)
		}
	}
	if in := input[LFTagsOnResourceInput](t, p.Actions[2]); !reflect.DeepEqual(in.LFTags, []LFTagPair{{"domain", []string{"card"}}}) ||
		!slices.Equal(in.Resource.TableWithColumns.ColumnNames, []string{"amount"}) {
		t.Errorf("removal = %+v", in)
	}
	mustApply(t, s, p)
	if p := mustPlan(t, s); len(p.Actions) != 0 {
		t.Errorf("plan after apply = %v", kinds(p.Actions))
	}
}

func TestStalePlanRefused(t *testing.T) {
	ctx := context.Background()
	s, _ := syncFixture(t)
	old := mustPlan(t, s)
	if _, err := s.CreateGroupGrant(ctx, GrantSpec{Group: "ops", Grade: 3, Permissions: []Permission{Select}}); err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	_, err := s.ApplySync(ctx, old.ID)
	wantCode(t, "apply after the desired state changed", err, codes.FailedPrecondition, "tags or grants changed")

	a, b := mustPlan(t, s), mustPlan(t, s)
	mustApply(t, s, a)
	_, err = s.ApplySync(ctx, b.ID)
	wantCode(t, "apply after another plan was applied", err, codes.FailedPrecondition, "stale")
	_, err = s.ApplySync(ctx, a.ID)
	wantCode(t, "apply twice", err, codes.FailedPrecondition, "applied at")
}

// failingTarget fails every action of one kind.
type failingTarget struct{ kind string }

func (f failingTarget) Apply(ctx context.Context, a SyncAction) error {
	if a.Kind == f.kind {
		return errors.New("access denied")
	}
	return EmbeddedLakeFormation{}.Apply(ctx, a)
}

func TestApplyStopsAtFailureAndRecordsProgress(t *testing.T) {
	ctx := context.Background()
	s, _ := syncFixture(t, WithLakeFormation(failingTarget{KindGrantPerms}))
	p := mustPlan(t, s)
	r, err := s.ApplySync(ctx, p.ID)
	if err != nil {
		t.Fatalf("ApplySync: %v", err)
	}
	if r.Applied != 6 || r.Failed != 1 || r.Results[6].Applied || !strings.Contains(r.Results[6].Error, "access denied") {
		t.Fatalf("result = %+v", r)
	}
	s.lf = EmbeddedLakeFormation{}
	rest := mustPlan(t, s)
	if got := kinds(rest.Actions); !slices.Equal(got, []string{KindGrantPerms}) {
		t.Fatalf("plan after a partial apply = %v, want the grants only", got)
	}
	mustApply(t, s, rest)
	if p := mustPlan(t, s); len(p.Actions) != 0 {
		t.Errorf("plan after the rest = %v", kinds(p.Actions))
	}
}

// grantsState is a state with n principals granted SELECT at grade 1.
func grantsState(n int) *LFState {
	st := &LFState{TagKeys: []LFTagPair{{"grade", []string{"1", "2", "3"}}}}
	for i := range n {
		st.Grants = append(st.Grants, LFPermission{Principal: fmt.Sprintf("g%02d", i), ResourceType: "TABLE",
			Expression: []LFTagPair{{"grade", []string{"1", "2", "3"}}}, Permissions: []string{"SELECT"}})
	}
	return st
}

func TestPlanSyncBatchesOfTwenty(t *testing.T) {
	actions, err := PlanSyncActions(&LFState{}, grantsState(45))
	if err != nil {
		t.Fatalf("PlanSyncActions: %v", err)
	}
	var sizes []int
	for _, a := range actions[1:] {
		if a.Kind != KindGrantPerms {
			t.Fatalf("kind %s, want grants", a.Kind)
		}
		sizes = append(sizes, len(input[BatchPermissionsInput](t, a).Entries))
	}
	if actions[0].Kind != KindCreateLFTag || !slices.Equal(sizes, []int{20, 20, 5}) {
		t.Errorf("actions %v, batch sizes %v; want a CreateLFTag then batches 20, 20, 5", kinds(actions), sizes)
	}
	revokes, err := PlanSyncActions(grantsState(41), grantsState(0))
	if err != nil {
		t.Fatalf("PlanSyncActions: %v", err)
	}
	sizes = nil
	for _, a := range revokes {
		sizes = append(sizes, len(input[BatchPermissionsInput](t, a).Entries))
	}
	if !slices.Equal(kinds(revokes), []string{KindRevokePerms, KindRevokePerms, KindRevokePerms}) || !slices.Equal(sizes, []int{20, 20, 1}) {
		t.Errorf("revokes %v of sizes %v", kinds(revokes), sizes)
	}
}

func TestPlanSyncEveryPhase(t *testing.T) {
	applied := &LFState{
		TagKeys:   []LFTagPair{{"grade", []string{"1", "2"}}, {"old", []string{"x"}}, {"domain", []string{"a", "b"}}},
		Resources: []LFResourceTags{{Database: "d", Table: "t", Tags: map[string]string{"old": "x", "grade": "2"}}},
		Grants: []LFPermission{{Principal: "p", ResourceType: "TABLE", Expression: []LFTagPair{{"grade", []string{"2"}}},
			Permissions: []string{"SELECT", "INSERT"}}},
	}
	desired := &LFState{
		TagKeys:   []LFTagPair{{"grade", []string{"1", "2", "3"}}, {"domain", []string{"a"}}, {"new", []string{"y"}}},
		Resources: []LFResourceTags{{Database: "d", Table: "t", Tags: map[string]string{"new": "y", "grade": "2"}}},
		Grants: []LFPermission{{Principal: "p", ResourceType: "TABLE", Expression: []LFTagPair{{"grade", []string{"2"}}},
			Permissions: []string{"SELECT", "DESCRIBE"}}},
	}
	actions, err := PlanSyncActions(applied, desired)
	if err != nil {
		t.Fatalf("PlanSyncActions: %v", err)
	}
	want := []string{KindUpdateLFTag, KindCreateLFTag, KindAddLFTags, KindGrantPerms, KindRevokePerms, KindRemoveLFTags, KindUpdateLFTag, KindDeleteLFTag}
	if got := kinds(actions); !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	checkOrder(t, actions)
	if in := input[UpdateLFTagInput](t, actions[0]); in.TagKey != "grade" || !slices.Equal(in.TagValuesToAdd, []string{"3"}) || in.TagValuesToDelete != nil {
		t.Errorf("value addition = %+v", in)
	}
	if g := input[BatchPermissionsInput](t, actions[3]); !slices.Equal(g.Entries[0].Permissions, []string{"DESCRIBE"}) {
		t.Errorf("grant = %+v", g)
	}
	if r := input[BatchPermissionsInput](t, actions[4]); !slices.Equal(r.Entries[0].Permissions, []string{"INSERT"}) {
		t.Errorf("revoke = %+v", r)
	}
	if in := input[UpdateLFTagInput](t, actions[6]); in.TagKey != "domain" || !slices.Equal(in.TagValuesToDelete, []string{"b"}) {
		t.Errorf("value deletion = %+v", in)
	}
	// Applying the actions to the applied state reaches the desired one.
	m, err := modelOf(applied)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if err := m.apply(a); err != nil {
			t.Fatalf("apply %s: %v", a.Kind, err)
		}
	}
	_, got, _ := encodeState(m.state())
	dm, _ := modelOf(desired)
	if _, want, _ := encodeState(dm.state()); got != want {
		t.Errorf("applying the plan reaches %+v, want %+v", m.state(), dm.state())
	}
}

func TestEmbeddedTargetRefusesMalformedActions(t *testing.T) {
	ctx := context.Background()
	for _, a := range []SyncAction{
		{Kind: "NOPE", Input: json.RawMessage(`{}`)},
		{Kind: KindCreateLFTag, Input: json.RawMessage(`{"TagKey":"k"}`)},
		{Kind: KindAddLFTags, Input: json.RawMessage(`{"Resource":{},"LFTags":[]}`)},
		{Kind: KindGrantPerms, Input: json.RawMessage(`{"Entries":[]}`)},
		{Kind: KindRevokePerms, Input: json.RawMessage(`{"Entries":[{"Id":"1","Principal":{"DataLakePrincipalIdentifier":"p"},"Resource":{"LFTagPolicy":{"ResourceType":"TABLE"}},"Permissions":["READ"]}]}`)},
		{Kind: KindDeleteLFTag, Input: json.RawMessage(`{"Key":"k"}`)},
	} {
		if err := (EmbeddedLakeFormation{}).Apply(ctx, a); err == nil {
			t.Errorf("Apply(%s %s) = nil, want an error", a.Kind, a.Input)
		}
	}
}
