package govern

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/errcode"
)

// wantCode checks the status an error maps to at the gRPC edge, and that
// its message names want.
func wantCode(t *testing.T, what string, err error, code codes.Code, want string) {
	t.Helper()
	st := errcode.Status(err)
	if st.Code() != code || !strings.Contains(st.Message(), want) {
		t.Errorf("%s: %v %q, want %v naming %q", what, st.Code(), st.Message(), code, want)
	}
}

func TestHandler(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustDataset(t, st, "sales.clients", "client_id", "email", "amount")
	mustDataset(t, st, "raw.events", "id")
	h := NewHandler(newService(t, st))

	scale, err := h.GetGradeScale(ctx, &lakeplanev1.GetGradeScaleRequest{})
	if err != nil || scale.GetTagKey() != "grade" || len(scale.GetLevels()) != 3 || scale.GetLevels()[0].GetLabel() != "rrn" || scale.GetLevels()[2].GetValue() != "3" {
		t.Fatalf("GetGradeScale = %v, %v", scale, err)
	}

	_, err = h.CreateTagKey(ctx, &lakeplanev1.CreateTagKeyRequest{TagKey: &lakeplanev1.TagKey{Key: "domain", Values: []string{"retail", "card"}}})
	if err != nil {
		t.Fatalf("CreateTagKey: %v", err)
	}
	_, err = h.CreateTagKey(ctx, &lakeplanev1.CreateTagKeyRequest{TagKey: &lakeplanev1.TagKey{Key: "domain", Values: []string{"x"}}})
	wantCode(t, "CreateTagKey twice", err, codes.AlreadyExists, "domain")
	_, err = h.CreateTagKey(ctx, &lakeplanev1.CreateTagKeyRequest{TagKey: &lakeplanev1.TagKey{Key: "Owner", Values: []string{"x"}}})
	wantCode(t, "CreateTagKey upper-case", err, codes.InvalidArgument, "tagKey.key")
	keys, err := h.ListTagKeys(ctx, &lakeplanev1.ListTagKeysRequest{PageSize: 1})
	if err != nil || len(keys.GetTagKeys()) != 1 || keys.GetTagKeys()[0].GetKey() != "domain" || keys.GetNextPageToken() == "" {
		t.Errorf("ListTagKeys page 1 = %v, %v", keys, err)
	}

	for _, a := range []*lakeplanev1.AssignTagsRequest{
		{Resource: &lakeplanev1.Resource{Database: "sales"}, Tags: map[string]string{"grade": "3", "domain": "retail"}},
		{Resource: &lakeplanev1.Resource{Database: "sales", Table: "clients"}, Tags: map[string]string{"grade": "3"}},
		{Resource: &lakeplanev1.Resource{Database: "sales", Table: "clients", Column: "email"}, Tags: map[string]string{"grade": "1"}},
	} {
		if _, err := h.AssignTags(ctx, a); err != nil {
			t.Fatalf("AssignTags %v: %v", a, err)
		}
	}
	_, err = h.AssignTags(ctx, &lakeplanev1.AssignTagsRequest{Resource: &lakeplanev1.Resource{Database: "sales", Table: "clients"}, Tags: map[string]string{"domain": "loan"}})
	wantCode(t, "AssignTags bad value", err, codes.InvalidArgument, "tags[domain]")
	_, err = h.AssignTags(ctx, &lakeplanev1.AssignTagsRequest{Tags: map[string]string{"grade": "1"}})
	wantCode(t, "AssignTags no resource", err, codes.InvalidArgument, "resource.database")
	_, err = h.AssignTags(ctx, &lakeplanev1.AssignTagsRequest{Resource: &lakeplanev1.Resource{Database: "sales", Table: "clients", Column: "nope"}, Tags: map[string]string{"grade": "1"}})
	wantCode(t, "AssignTags unknown column", err, codes.NotFound, "resource.column")

	list, err := h.ListResourceTags(ctx, &lakeplanev1.ListResourceTagsRequest{Database: "sales", Table: "clients"})
	if err != nil || len(list.GetResources()) != 4 {
		t.Fatalf("ListResourceTags = %v, %v", list, err)
	}
	email := list.GetResources()[2]
	if email.GetResource().GetColumn() != "email" || email.GetExplicit()["grade"] != "1" || email.GetEffective()["domain"] != "retail" {
		t.Errorf("email tags = %v", email)
	}

	_, err = h.DeleteTagKey(ctx, &lakeplanev1.DeleteTagKeyRequest{Key: "domain"})
	wantCode(t, "DeleteTagKey in use", err, codes.FailedPrecondition, "domain")
	rm, err := h.RemoveTags(ctx, &lakeplanev1.RemoveTagsRequest{Resource: &lakeplanev1.Resource{Database: "sales"}, Keys: []string{"domain"}})
	if err != nil || rm.GetResourceTags().GetExplicit()["domain"] != "" || rm.GetResourceTags().GetExplicit()["grade"] != "3" {
		t.Errorf("RemoveTags = %v, %v", rm, err)
	}
	if _, err := h.DeleteTagKey(ctx, &lakeplanev1.DeleteTagKeyRequest{Key: "domain"}); err != nil {
		t.Errorf("DeleteTagKey once unused: %v", err)
	}

	_, err = h.CreateGroupGrant(ctx, &lakeplanev1.CreateGroupGrantRequest{GroupGrant: &lakeplanev1.GroupGrant{Group: "analysts", Grade: 2}})
	wantCode(t, "CreateGroupGrant without permissions", err, codes.InvalidArgument, "groupGrant.permissions")
	_, err = h.CreateGroupGrant(ctx, &lakeplanev1.CreateGroupGrantRequest{GroupGrant: &lakeplanev1.GroupGrant{Group: "analysts", Grade: 2, Permissions: []lakeplanev1.Permission{0}}})
	wantCode(t, "CreateGroupGrant UNSPECIFIED", err, codes.InvalidArgument, "groupGrant.permissions[0]")
	created, err := h.CreateGroupGrant(ctx, &lakeplanev1.CreateGroupGrantRequest{GroupGrant: &lakeplanev1.GroupGrant{
		Group: "analysts", Grade: 2, Permissions: []lakeplanev1.Permission{lakeplanev1.Permission_DESCRIBE, lakeplanev1.Permission_SELECT},
	}})
	if err != nil {
		t.Fatalf("CreateGroupGrant: %v", err)
	}
	g := created.GetGroupGrant()
	if g.GetId() == "" || g.GetCreateTime() == nil || len(g.GetPermissions()) != 2 || g.GetPermissions()[0] != lakeplanev1.Permission_SELECT {
		t.Errorf("created grant = %v", g)
	}
	grants, err := h.ListGroupGrants(ctx, &lakeplanev1.ListGroupGrantsRequest{Group: "analysts"})
	if err != nil || len(grants.GetGroupGrants()) != 1 || grants.GetGroupGrants()[0].GetId() != g.GetId() {
		t.Errorf("ListGroupGrants = %v, %v", grants, err)
	}
	_, err = h.ListGroupGrants(ctx, &lakeplanev1.ListGroupGrantsRequest{PageToken: "bogus"})
	wantCode(t, "ListGroupGrants bad token", err, codes.InvalidArgument, "pageToken")

	res, err := h.ResolveGrant(ctx, &lakeplanev1.ResolveGrantRequest{Group: "analysts", Grade: 2, Permissions: []lakeplanev1.Permission{lakeplanev1.Permission_SELECT}})
	if err != nil {
		t.Fatalf("ResolveGrant: %v", err)
	}
	if len(res.GetLfGrants()) != 2 || res.GetLfGrants()[0].GetResourceType() != lakeplanev1.LfResourceType_TABLE ||
		strings.Join(res.GetLfGrants()[0].GetExpression()[0].GetTagValues(), ",") != "2,3" ||
		res.GetLfGrants()[1].GetResourceType() != lakeplanev1.LfResourceType_DATABASE ||
		res.GetLfGrants()[1].GetPermissions()[0] != lakeplanev1.Permission_DESCRIBE {
		t.Errorf("lfGrants = %v", res.GetLfGrants())
	}
	if len(res.GetAccessible()) != 1 || strings.Join(res.GetAccessible()[0].GetColumns(), ",") != "client_id,amount" ||
		strings.Join(res.GetAccessible()[0].GetExcludedColumns(), ",") != "email" {
		t.Errorf("accessible = %v", res.GetAccessible())
	}
	_, err = h.ResolveGrant(ctx, &lakeplanev1.ResolveGrantRequest{Group: "analysts", Grade: 9, Permissions: []lakeplanev1.Permission{lakeplanev1.Permission_SELECT}})
	wantCode(t, "ResolveGrant grade 9", err, codes.InvalidArgument, "grade")

	chk, err := h.CheckAccess(ctx, &lakeplanev1.CheckAccessRequest{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"email"}})
	if err != nil || chk.GetAllowed() || chk.GetDeniedColumns()[0] != "email" || !strings.Contains(chk.GetReason(), g.GetId()) {
		t.Errorf("CheckAccess email = %v, %v", chk, err)
	}
	_, err = h.CheckAccess(ctx, &lakeplanev1.CheckAccessRequest{Groups: []string{"analysts"}, Database: "sales"})
	wantCode(t, "CheckAccess without table", err, codes.InvalidArgument, "table")
	batch, err := h.BatchCheckAccess(ctx, &lakeplanev1.BatchCheckAccessRequest{Checks: []*lakeplanev1.AccessCheck{
		{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"amount"}, Permission: lakeplanev1.Permission_SELECT},
		{Groups: []string{"analysts"}, Database: "sales", Table: "clients", Columns: []string{"amount"}, Permission: lakeplanev1.Permission_INSERT},
		{Groups: []string{"analysts"}, Database: "raw", Table: "events"},
		{Groups: []string{"analysts"}, Database: "nope", Table: "nope"},
	}})
	if err != nil || len(batch.GetResults()) != 4 || !batch.GetResults()[0].GetAllowed() || batch.GetResults()[1].GetAllowed() ||
		batch.GetResults()[2].GetAllowed() || batch.GetResults()[3].GetAllowed() || !strings.Contains(batch.GetResults()[3].GetReason(), "no such table") {
		t.Errorf("BatchCheckAccess = %v, %v", batch, err)
	}
	_, err = h.BatchCheckAccess(ctx, &lakeplanev1.BatchCheckAccessRequest{Checks: []*lakeplanev1.AccessCheck{{Database: "x"}}})
	wantCode(t, "BatchCheckAccess bad check", err, codes.InvalidArgument, "checks[0].table")
	_, err = h.BatchCheckAccess(ctx, &lakeplanev1.BatchCheckAccessRequest{Checks: []*lakeplanev1.AccessCheck{
		{Database: "sales", Table: "clients"}, {Database: "sales", Table: "clients"},
		{Database: "sales", Table: "clients", Columns: []string{"amount", ""}},
	}})
	wantCode(t, "BatchCheckAccess empty column", err, codes.InvalidArgument, "checks[2].columns[1]")
	_, err = h.BatchCheckAccess(ctx, &lakeplanev1.BatchCheckAccessRequest{Checks: []*lakeplanev1.AccessCheck{
		{Database: "sales", Table: "clients"}, {Database: "sales", Table: "clients", Permission: lakeplanev1.Permission(99)},
	}})
	wantCode(t, "BatchCheckAccess bad permission", err, codes.InvalidArgument, "checks[1].permission")
	_, err = h.CheckAccess(ctx, &lakeplanev1.CheckAccessRequest{Database: "sales", Table: "clients", Columns: []string{""}})
	wantCode(t, "CheckAccess empty column", err, codes.InvalidArgument, "columns[0]")
	if strings.Contains(err.Error(), "checks[") {
		t.Errorf("a single check's error names a batch: %v", err)
	}

	acc, err := h.ListAccessibleTables(ctx, &lakeplanev1.ListAccessibleTablesRequest{Group: "analysts"})
	if err != nil || len(acc.GetTables()) != 1 || acc.GetTables()[0].GetTable() != "clients" || len(acc.GetTables()[0].GetPermissions()) != 2 {
		t.Errorf("ListAccessibleTables = %v, %v", acc, err)
	}
	_, err = h.ListAccessibleTables(ctx, &lakeplanev1.ListAccessibleTablesRequest{Group: "analysts", PageToken: "!"})
	wantCode(t, "ListAccessibleTables bad token", err, codes.InvalidArgument, "pageToken")

	if _, err := h.DeleteGroupGrant(ctx, &lakeplanev1.DeleteGroupGrantRequest{Id: g.GetId()}); err != nil {
		t.Fatalf("DeleteGroupGrant: %v", err)
	}
	_, err = h.DeleteGroupGrant(ctx, &lakeplanev1.DeleteGroupGrantRequest{Id: g.GetId()})
	wantCode(t, "DeleteGroupGrant twice", err, codes.NotFound, g.GetId())
	acc, _ = h.ListAccessibleTables(ctx, &lakeplanev1.ListAccessibleTablesRequest{Group: "analysts"})
	if len(acc.GetTables()) != 0 {
		t.Errorf("after delete, accessible = %v", acc)
	}

	plan, err := h.PlanSync(ctx, &lakeplanev1.PlanSyncRequest{})
	if err != nil || plan.GetPlan().GetId() == "" || len(plan.GetPlan().GetActions()) == 0 {
		t.Fatalf("PlanSync = %v, %v", plan, err)
	}
	first := plan.GetPlan().GetActions()[0]
	if first.GetKind() != KindCreateLFTag || first.GetInput().GetFields()["TagKey"].GetStringValue() != "grade" {
		t.Errorf("first action = %v", first)
	}
	applied, err := h.ApplySync(ctx, &lakeplanev1.ApplySyncRequest{PlanId: plan.GetPlan().GetId()})
	if err != nil || applied.GetResult().GetFailed() != 0 || int(applied.GetResult().GetApplied()) != len(plan.GetPlan().GetActions()) {
		t.Fatalf("ApplySync = %v, %v", applied, err)
	}
	_, err = h.ApplySync(ctx, &lakeplanev1.ApplySyncRequest{PlanId: plan.GetPlan().GetId()})
	wantCode(t, "ApplySync twice", err, codes.FailedPrecondition, "applied at")
	_, err = h.ApplySync(ctx, &lakeplanev1.ApplySyncRequest{})
	wantCode(t, "ApplySync without id", err, codes.InvalidArgument, "planId")
	_, err = h.ApplySync(ctx, &lakeplanev1.ApplySyncRequest{PlanId: "nope"})
	wantCode(t, "ApplySync unknown plan", err, codes.NotFound, "nope")
	again, err := h.PlanSync(ctx, &lakeplanev1.PlanSyncRequest{})
	if err != nil || len(again.GetPlan().GetActions()) != 0 {
		t.Errorf("PlanSync after ApplySync = %v, %v; want no actions", again, err)
	}
}
