package govern

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Handler serves GrantsService over gRPC. ListAuditEvents and
// VerifyAuditLog answer UNIMPLEMENTED: the audit trail's handler serves
// them.
type Handler struct {
	lakeplanev1.UnimplementedGrantsServiceServer
	svc *Service
}

var _ lakeplanev1.GrantsServiceServer = (*Handler)(nil)

// NewHandler returns a Handler over a Service.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// GetGradeScale implements lakeplanev1.GrantsServiceServer.
func (h *Handler) GetGradeScale(context.Context, *lakeplanev1.GetGradeScaleRequest) (*lakeplanev1.GetGradeScaleResponse, error) {
	sc := h.svc.Scale()
	resp := &lakeplanev1.GetGradeScaleResponse{TagKey: sc.Key}
	for i, v := range sc.Values() {
		lvl := &lakeplanev1.GradeLevel{Value: v}
		if i < len(sc.Labels) {
			lvl.Label = sc.Labels[i]
		}
		resp.Levels = append(resp.Levels, lvl)
	}
	return resp, nil
}

// CreateTagKey implements lakeplanev1.GrantsServiceServer.
func (h *Handler) CreateTagKey(ctx context.Context, req *lakeplanev1.CreateTagKeyRequest) (*lakeplanev1.CreateTagKeyResponse, error) {
	if req.GetTagKey() == nil {
		return nil, fault.Invalid("tagKey", "is required")
	}
	k, err := h.svc.CreateTagKey(ctx, req.GetTagKey().GetKey(), req.GetTagKey().GetValues())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CreateTagKeyResponse{TagKey: &lakeplanev1.TagKey{Key: k.Key, Values: k.Values}}, nil
}

// ListTagKeys implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ListTagKeys(_ context.Context, req *lakeplanev1.ListTagKeysRequest) (*lakeplanev1.ListTagKeysResponse, error) {
	keys, next, err := h.svc.ListTagKeys(int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListTagKeysResponse{NextPageToken: next}
	for _, k := range keys {
		resp.TagKeys = append(resp.TagKeys, &lakeplanev1.TagKey{Key: k.Key, Values: k.Values})
	}
	return resp, nil
}

// DeleteTagKey implements lakeplanev1.GrantsServiceServer.
func (h *Handler) DeleteTagKey(ctx context.Context, req *lakeplanev1.DeleteTagKeyRequest) (*lakeplanev1.DeleteTagKeyResponse, error) {
	if err := h.svc.DeleteTagKey(ctx, req.GetKey()); err != nil {
		return nil, err
	}
	return &lakeplanev1.DeleteTagKeyResponse{}, nil
}

// resourceFromProto converts a resource; a missing one is an empty
// resource, which the service refuses naming resource.database.
func resourceFromProto(r *lakeplanev1.Resource) Resource {
	return Resource{Database: r.GetDatabase(), Table: r.GetTable(), Column: r.GetColumn()}
}

// tagsToProto converts a resource's tags.
func tagsToProto(v *TagsView) *lakeplanev1.ResourceTags {
	return &lakeplanev1.ResourceTags{
		Resource: &lakeplanev1.Resource{Database: v.Resource.Database, Table: v.Resource.Table, Column: v.Resource.Column},
		Explicit: maps.Clone(v.Explicit), Effective: maps.Clone(v.Effective),
	}
}

// AssignTags implements lakeplanev1.GrantsServiceServer.
func (h *Handler) AssignTags(ctx context.Context, req *lakeplanev1.AssignTagsRequest) (*lakeplanev1.AssignTagsResponse, error) {
	v, err := h.svc.AssignTags(ctx, resourceFromProto(req.GetResource()), req.GetTags())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.AssignTagsResponse{ResourceTags: tagsToProto(v)}, nil
}

// RemoveTags implements lakeplanev1.GrantsServiceServer.
func (h *Handler) RemoveTags(ctx context.Context, req *lakeplanev1.RemoveTagsRequest) (*lakeplanev1.RemoveTagsResponse, error) {
	v, err := h.svc.RemoveTags(ctx, resourceFromProto(req.GetResource()), req.GetKeys())
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.RemoveTagsResponse{ResourceTags: tagsToProto(v)}, nil
}

// ListResourceTags implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ListResourceTags(_ context.Context, req *lakeplanev1.ListResourceTagsRequest) (*lakeplanev1.ListResourceTagsResponse, error) {
	views, next, err := h.svc.ListResourceTags(req.GetDatabase(), req.GetTable(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListResourceTagsResponse{NextPageToken: next}
	for _, v := range views {
		resp.Resources = append(resp.Resources, tagsToProto(v))
	}
	return resp, nil
}

// permsFromProto converts API permissions; field names the list in errors.
func permsFromProto(ps []lakeplanev1.Permission, field string) ([]Permission, error) {
	out := make([]Permission, 0, len(ps))
	for i, p := range ps {
		perm, ok := permFromProto(p)
		if !ok {
			return nil, fault.Invalid(fmt.Sprintf("%s[%d]", field, i), "%v is not a permission", p)
		}
		out = append(out, perm)
	}
	return out, nil
}

// permsToProto converts a permission set to API permissions.
func permsToProto(s PermSet) []lakeplanev1.Permission {
	var out []lakeplanev1.Permission
	for _, p := range s.List() {
		out = append(out, permToProto(p))
	}
	return out
}

// grantToProto converts a stored grant.
func grantToProto(g *store.GroupGrant) *lakeplanev1.GroupGrant {
	out := &lakeplanev1.GroupGrant{Id: g.ID, Group: g.Group, Grade: int32(g.Grade), Domains: slices.Clone(g.Domains), CreateTime: timestamppb.New(g.CreateTime)}
	for _, name := range g.Permissions {
		if p, err := ParsePermission(name); err == nil {
			out.Permissions = append(out.Permissions, permToProto(p))
		}
	}
	return out
}

// CreateGroupGrant implements lakeplanev1.GrantsServiceServer.
func (h *Handler) CreateGroupGrant(ctx context.Context, req *lakeplanev1.CreateGroupGrantRequest) (*lakeplanev1.CreateGroupGrantResponse, error) {
	g := req.GetGroupGrant()
	if g == nil {
		return nil, fault.Invalid("groupGrant", "is required")
	}
	perms, err := permsFromProto(g.GetPermissions(), "groupGrant.permissions")
	if err != nil {
		return nil, err
	}
	created, err := h.svc.CreateGroupGrant(ctx, GrantSpec{Group: g.GetGroup(), Grade: int(g.GetGrade()), Permissions: perms, Domains: g.GetDomains()})
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CreateGroupGrantResponse{GroupGrant: grantToProto(created)}, nil
}

// ListGroupGrants implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ListGroupGrants(ctx context.Context, req *lakeplanev1.ListGroupGrantsRequest) (*lakeplanev1.ListGroupGrantsResponse, error) {
	page, err := h.svc.ListGroupGrants(ctx, req.GetGroup(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListGroupGrantsResponse{NextPageToken: page.NextPageToken}
	for _, g := range page.Items {
		resp.GroupGrants = append(resp.GroupGrants, grantToProto(g))
	}
	return resp, nil
}

// DeleteGroupGrant implements lakeplanev1.GrantsServiceServer.
func (h *Handler) DeleteGroupGrant(ctx context.Context, req *lakeplanev1.DeleteGroupGrantRequest) (*lakeplanev1.DeleteGroupGrantResponse, error) {
	if err := h.svc.DeleteGroupGrant(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &lakeplanev1.DeleteGroupGrantResponse{}, nil
}

// accessibleToProto converts an accessible table.
func accessibleToProto(at AccessibleTable) *lakeplanev1.AccessibleTable {
	return &lakeplanev1.AccessibleTable{
		Database: at.Database, Table: at.Table, Columns: at.Columns, ExcludedColumns: at.ExcludedColumns,
		Permissions: permsToProto(at.Permissions),
	}
}

// ResolveGrant implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ResolveGrant(ctx context.Context, req *lakeplanev1.ResolveGrantRequest) (*lakeplanev1.ResolveGrantResponse, error) {
	perms, err := permsFromProto(req.GetPermissions(), "permissions")
	if err != nil {
		return nil, err
	}
	res, err := h.svc.ResolveGrant(ctx, GrantSpec{Group: req.GetGroup(), Grade: int(req.GetGrade()), Permissions: perms, Domains: req.GetDomains()})
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ResolveGrantResponse{}
	for _, g := range res.LFGrants {
		lg := &lakeplanev1.LfGrant{Principal: g.Principal, Permissions: permsToProto(g.Permissions), ResourceType: lakeplanev1.LfResourceType_TABLE}
		if g.ResourceType == "DATABASE" {
			lg.ResourceType = lakeplanev1.LfResourceType_DATABASE
		}
		for _, c := range g.Expression {
			lg.Expression = append(lg.Expression, &lakeplanev1.LfTagCondition{TagKey: c.Key, TagValues: c.Values})
		}
		resp.LfGrants = append(resp.LfGrants, lg)
	}
	for _, at := range res.Accessible {
		resp.Accessible = append(resp.Accessible, accessibleToProto(at))
	}
	return resp, nil
}

// checkFromProto converts one check; UNSPECIFIED permission means SELECT.
func checkFromProto(groups []string, db, table string, cols []string, p lakeplanev1.Permission, batchIndex int) (Check, error) {
	perm := Select
	if p != lakeplanev1.Permission_PERMISSION_UNSPECIFIED {
		var ok bool
		if perm, ok = permFromProto(p); !ok {
			return Check{}, fault.Invalid(checkField(batchIndex, "permission"), "%v is not a permission", p)
		}
	}
	return Check{Groups: groups, Database: db, Table: table, Columns: cols, Permission: perm}, nil
}

// CheckAccess implements lakeplanev1.GrantsServiceServer. An unspecified
// permission checks SELECT.
func (h *Handler) CheckAccess(_ context.Context, req *lakeplanev1.CheckAccessRequest) (*lakeplanev1.CheckAccessResponse, error) {
	c, err := checkFromProto(req.GetGroups(), req.GetDatabase(), req.GetTable(), req.GetColumns(), req.GetPermission(), -1)
	if err != nil {
		return nil, err
	}
	d, err := h.svc.CheckAccess(c)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.CheckAccessResponse{Allowed: d.Allowed, AllowedColumns: d.AllowedColumns, DeniedColumns: d.DeniedColumns, Reason: d.Reason}, nil
}

// BatchCheckAccess implements lakeplanev1.GrantsServiceServer.
func (h *Handler) BatchCheckAccess(_ context.Context, req *lakeplanev1.BatchCheckAccessRequest) (*lakeplanev1.BatchCheckAccessResponse, error) {
	if n := len(req.GetChecks()); n > MaxBatchChecks {
		return nil, fault.Invalid("checks", "must hold 1 to %d checks, not %d", MaxBatchChecks, n)
	}
	cs := make([]Check, len(req.GetChecks()))
	for i, pc := range req.GetChecks() {
		c, err := checkFromProto(pc.GetGroups(), pc.GetDatabase(), pc.GetTable(), pc.GetColumns(), pc.GetPermission(), i)
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	ds, err := h.svc.BatchCheckAccess(cs)
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.BatchCheckAccessResponse{Results: make([]*lakeplanev1.AccessDecision, len(ds))}
	for i, d := range ds {
		resp.Results[i] = &lakeplanev1.AccessDecision{Allowed: d.Allowed, AllowedColumns: d.AllowedColumns, DeniedColumns: d.DeniedColumns, Reason: d.Reason}
	}
	return resp, nil
}

// ListAccessibleTables implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ListAccessibleTables(_ context.Context, req *lakeplanev1.ListAccessibleTablesRequest) (*lakeplanev1.ListAccessibleTablesResponse, error) {
	tables, next, err := h.svc.ListAccessibleTables(req.GetGroup(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListAccessibleTablesResponse{NextPageToken: next}
	for _, at := range tables {
		resp.Tables = append(resp.Tables, accessibleToProto(at))
	}
	return resp, nil
}

// syncActionToProto converts an action; its input becomes a Struct.
func syncActionToProto(a SyncAction) (*lakeplanev1.SyncAction, error) {
	in := &structpb.Struct{}
	if err := protojson.Unmarshal(a.Input, in); err != nil {
		return nil, fmt.Errorf("%s input as a Struct: %w", a.Kind, err)
	}
	return &lakeplanev1.SyncAction{Kind: a.Kind, Description: a.Description, Input: in}, nil
}

// PlanSync implements lakeplanev1.GrantsServiceServer.
func (h *Handler) PlanSync(ctx context.Context, _ *lakeplanev1.PlanSyncRequest) (*lakeplanev1.PlanSyncResponse, error) {
	p, err := h.svc.PlanSync(ctx)
	if err != nil {
		return nil, err
	}
	plan := &lakeplanev1.SyncPlan{Id: p.ID, CreateTime: timestamppb.New(p.CreateTime), Actions: make([]*lakeplanev1.SyncAction, len(p.Actions))}
	for i, a := range p.Actions {
		if plan.Actions[i], err = syncActionToProto(a); err != nil {
			return nil, fmt.Errorf("plan sync: %w", err)
		}
	}
	return &lakeplanev1.PlanSyncResponse{Plan: plan}, nil
}

// ApplySync implements lakeplanev1.GrantsServiceServer.
func (h *Handler) ApplySync(ctx context.Context, req *lakeplanev1.ApplySyncRequest) (*lakeplanev1.ApplySyncResponse, error) {
	r, err := h.svc.ApplySync(ctx, req.GetPlanId())
	if err != nil {
		return nil, err
	}
	out := &lakeplanev1.SyncResult{PlanId: r.PlanID, Applied: int32(r.Applied), Failed: int32(r.Failed), Results: make([]*lakeplanev1.SyncActionResult, len(r.Results))}
	for i, ar := range r.Results {
		a, err := syncActionToProto(ar.Action)
		if err != nil {
			return nil, fmt.Errorf("apply sync: %w", err)
		}
		out.Results[i] = &lakeplanev1.SyncActionResult{Action: a, Applied: ar.Applied, Error: ar.Error}
	}
	return &lakeplanev1.ApplySyncResponse{Result: out}, nil
}
