package govern

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// The kinds of sync actions, one per Lake Formation call.
const (
	KindCreateLFTag   = "CREATE_LF_TAG"
	KindUpdateLFTag   = "UPDATE_LF_TAG"
	KindDeleteLFTag   = "DELETE_LF_TAG"
	KindAddLFTags     = "ADD_LF_TAGS_TO_RESOURCE"
	KindRemoveLFTags  = "REMOVE_LF_TAGS_FROM_RESOURCE"
	KindGrantPerms    = "GRANT_PERMISSIONS"
	KindRevokePerms   = "REVOKE_PERMISSIONS"
	MaxBatchEntries   = 20 // entries of one BatchGrantPermissions or BatchRevokePermissions call
	lfTypeDatabase    = "DATABASE"
	lfTypeTable       = "TABLE"
	permKeySeparator  = "\x1f"
	describeOnlyPerms = PermSet(1 << Describe)
)

// The inputs of the Lake Formation calls, with the field names of the Lake
// Formation API, so that a target may decode an action's Input straight
// into the AWS SDK's input types.
type (
	// LFTagPair is a tag key with values (LFTagPair, LFTag).
	LFTagPair struct {
		TagKey    string
		TagValues []string
	}
	// LFDatabaseResource names a database.
	LFDatabaseResource struct{ Name string }
	// LFTableResource names a table.
	LFTableResource struct{ DatabaseName, Name string }
	// LFTableWithColumnsResource names columns of a table.
	LFTableWithColumnsResource struct {
		DatabaseName, Name string
		ColumnNames        []string
	}
	// LFTagPolicyResource is the resources whose tags match all of
	// Expression.
	LFTagPolicyResource struct {
		ResourceType string
		Expression   []LFTagPair
	}
	// LFResource is a Lake Formation Resource: exactly one field is set.
	LFResource struct {
		Database         *LFDatabaseResource         `json:",omitempty"`
		Table            *LFTableResource            `json:",omitempty"`
		TableWithColumns *LFTableWithColumnsResource `json:",omitempty"`
		LFTagPolicy      *LFTagPolicyResource        `json:",omitempty"`
	}
	// LFPrincipal is a DataLakePrincipal.
	LFPrincipal struct{ DataLakePrincipalIdentifier string }
	// LFBatchEntry is a BatchPermissionsRequestEntry.
	LFBatchEntry struct {
		Id          string //nolint:revive // the API's spelling
		Principal   LFPrincipal
		Resource    LFResource
		Permissions []string
	}
	// CreateLFTagInput is the input of CreateLFTag.
	CreateLFTagInput struct {
		TagKey    string
		TagValues []string
	}
	// UpdateLFTagInput is the input of UpdateLFTag.
	UpdateLFTagInput struct {
		TagKey            string
		TagValuesToAdd    []string `json:",omitempty"`
		TagValuesToDelete []string `json:",omitempty"`
	}
	// DeleteLFTagInput is the input of DeleteLFTag.
	DeleteLFTagInput struct{ TagKey string }
	// LFTagsOnResourceInput is the input of AddLFTagsToResource and
	// RemoveLFTagsFromResource.
	LFTagsOnResourceInput struct {
		Resource LFResource
		LFTags   []LFTagPair
	}
	// BatchPermissionsInput is the input of BatchGrantPermissions and
	// BatchRevokePermissions.
	BatchPermissionsInput struct{ Entries []LFBatchEntry }
)

// SyncAction is one Lake Formation call of a plan: its kind (Kind*
// constants), a sentence for people, and the API input as JSON.
type SyncAction struct {
	Kind        string          `json:"kind"`
	Description string          `json:"description"`
	Input       json.RawMessage `json:"input"`
}

// SyncPlan is a stored plan.
type SyncPlan struct {
	ID         string
	Actions    []SyncAction
	CreateTime time.Time
}

// SyncActionResult is what became of one action.
type SyncActionResult struct {
	Action  SyncAction
	Applied bool
	Error   string
}

// SyncResult is what applying a plan did.
type SyncResult struct {
	PlanID  string
	Applied int
	Failed  int
	Results []SyncActionResult
}

// LakeFormation is the target that plans are applied to. Apply performs
// one action and returns nil once it holds. ApplySync stops at the first
// failure and records what was applied until then, so the next plan holds
// the rest: Apply should treat "already done" answers (a tag or grant that
// exists, a tag or grant that is already gone) as success.
type LakeFormation interface {
	Apply(ctx context.Context, a SyncAction) error
}

// EmbeddedLakeFormation is the default target of the embedded control
// plane: there is no Lake Formation to call, the applied state that
// ApplySync records in the store is the target's state. Apply only checks
// that the action is well formed.
type EmbeddedLakeFormation struct{}

// Apply implements LakeFormation.
func (EmbeddedLakeFormation) Apply(ctx context.Context, a SyncAction) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return newLFModel().apply(a)
}

// WithLakeFormation sets the target of ApplySync (EmbeddedLakeFormation
// when not set).
func WithLakeFormation(lf LakeFormation) Option {
	return func(s *Service) { s.lf = lf }
}

// WithSyncStore sets the store of sync plans and of the applied state.
// Without it, the service uses its store when that implements store.Sync;
// otherwise PlanSync and ApplySync fail with FAILED_PRECONDITION.
func WithSyncStore(st store.Sync) Option {
	return func(s *Service) { s.sync = st }
}

// LFState is the Lake Formation state that lakeplane manages, in a
// canonical form: tag keys by key, resources by database, table and column,
// permissions by principal, resource type and expression.
type LFState struct {
	TagKeys   []LFTagPair      `json:"tagKeys"`
	Resources []LFResourceTags `json:"resources"`
	Grants    []LFPermission   `json:"grants"`
}

// LFResourceTags are the tags set on one resource itself.
type LFResourceTags struct {
	Database string            `json:"database"`
	Table    string            `json:"table,omitempty"`
	Column   string            `json:"column,omitempty"`
	Tags     map[string]string `json:"tags"`
}

// LFPermission is the permissions that a principal holds on the resources
// of a type whose tags match an expression.
type LFPermission struct {
	Principal    string      `json:"principal"`
	ResourceType string      `json:"resourceType"`
	Expression   []LFTagPair `json:"expression"`
	Permissions  []string    `json:"permissions"`
}

// lfModel is a Lake Formation state as maps, for diffing and applying.
type lfModel struct {
	tagKeys map[string][]string
	tags    map[Resource]map[string]string
	perms   map[string]*permEntry // by permKey
}

// permEntry is the permissions on one tag policy.
type permEntry struct {
	principal    string
	resourceType string
	expr         []LFTagPair
	perms        PermSet
}

func newLFModel() *lfModel {
	return &lfModel{tagKeys: map[string][]string{}, tags: map[Resource]map[string]string{}, perms: map[string]*permEntry{}}
}

// permKey identifies a tag policy of a principal: the expression's keys
// and values, sorted.
func permKey(principal, resourceType string, expr []LFTagPair) string {
	conds := make([]string, len(expr))
	for i, c := range expr {
		vs := slices.Clone(c.TagValues)
		slices.Sort(vs)
		conds[i] = c.TagKey + "=" + strings.Join(vs, ",")
	}
	slices.Sort(conds)
	return principal + permKeySeparator + resourceType + permKeySeparator + strings.Join(conds, ";")
}

// grant adds perms to the policy of principal on resourceType and expr.
func (m *lfModel) grant(principal, resourceType string, expr []LFTagPair, perms PermSet) {
	k := permKey(principal, resourceType, expr)
	e := m.perms[k]
	if e == nil {
		e = &permEntry{principal: principal, resourceType: resourceType, expr: expr}
		m.perms[k] = e
	}
	e.perms |= perms
}

// state returns the canonical form of m.
func (m *lfModel) state() *LFState {
	st := &LFState{TagKeys: []LFTagPair{}, Resources: []LFResourceTags{}, Grants: []LFPermission{}}
	for _, k := range slices.Sorted(maps.Keys(m.tagKeys)) {
		st.TagKeys = append(st.TagKeys, LFTagPair{TagKey: k, TagValues: slices.Clone(m.tagKeys[k])})
	}
	for _, r := range sortedResources(m.tags) {
		st.Resources = append(st.Resources, LFResourceTags{Database: r.Database, Table: r.Table, Column: r.Column, Tags: maps.Clone(m.tags[r])})
	}
	for _, k := range slices.Sorted(maps.Keys(m.perms)) {
		e := m.perms[k]
		st.Grants = append(st.Grants, LFPermission{Principal: e.principal, ResourceType: e.resourceType, Expression: e.expr, Permissions: e.perms.Names()})
	}
	return st
}

// sortedResources returns the keys of tags by database, table and column.
func sortedResources(tags map[Resource]map[string]string) []Resource {
	return slices.SortedFunc(maps.Keys(tags), compareResources)
}

// compareResources orders resources by database, table and column.
func compareResources(a, b Resource) int {
	return cmp.Or(strings.Compare(a.Database, b.Database), strings.Compare(a.Table, b.Table), strings.Compare(a.Column, b.Column))
}

// modelOf converts a canonical state.
func modelOf(st *LFState) (*lfModel, error) {
	m := newLFModel()
	for _, k := range st.TagKeys {
		m.tagKeys[k.TagKey] = slices.Clone(k.TagValues)
	}
	for _, r := range st.Resources {
		m.tags[Resource{Database: r.Database, Table: r.Table, Column: r.Column}] = maps.Clone(r.Tags)
	}
	for _, g := range st.Grants {
		perms, err := parsePermNames(g.Permissions)
		if err != nil {
			return nil, fmt.Errorf("grant of %q: %w", g.Principal, err)
		}
		m.grant(g.Principal, g.ResourceType, g.Expression, perms)
	}
	return m, nil
}

// parsePermNames converts permission names to a set.
func parsePermNames(names []string) (PermSet, error) {
	var s PermSet
	for _, n := range names {
		p, err := ParsePermission(n)
		if err != nil {
			return 0, err
		}
		s = s.With(p)
	}
	return s, nil
}

// encodeState renders a state as JSON and returns it with its fingerprint,
// the hex SHA-256 of that JSON.
func encodeState(st *LFState) (json.RawMessage, string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, "", fmt.Errorf("encode lake formation state: %w", err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// decodeState reads a stored state; nil or empty is the empty state.
func decodeState(raw json.RawMessage) (*lfModel, error) {
	if len(raw) == 0 {
		return newLFModel(), nil
	}
	var st LFState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("decode applied lake formation state: %w", err)
	}
	return modelOf(&st)
}

// desiredModel is the state that the snapshot's tag keys, tags and group
// grants call for. principal maps a group to its Lake Formation principal.
func (s *snapshot) desiredModel(principal func(string) string) *lfModel {
	m := newLFModel()
	m.tagKeys[s.scale.Key] = s.scale.Values()
	for k, tk := range s.tagKeys {
		m.tagKeys[k] = slices.Clone(tk.Values)
	}
	put := func(r Resource, explicit map[string]string, grade uint8, own bool) {
		tags := maps.Clone(explicit)
		if own {
			if tags == nil {
				tags = map[string]string{}
			}
			tags[s.scale.Key] = strconv.Itoa(int(grade))
		}
		if len(tags) > 0 {
			m.tags[r] = tags
		}
	}
	for _, db := range s.dbs {
		put(Resource{Database: db.name}, db.explicit, 0, false)
		for _, t := range db.tables {
			put(Resource{Database: t.db, Table: t.name}, t.explicit, t.grade, t.gradeFrom == fromTable)
			for i := range t.cols {
				c := &t.cols[i]
				put(Resource{Database: t.db, Table: t.name, Column: c.name}, c.explicit, c.grade, c.gradeFrom == fromColumn)
			}
		}
	}
	for _, g := range s.grants {
		if g.Grade < 1 || g.Grade > s.scale.Levels {
			continue
		}
		perms, err := parsePermNames(g.Permissions)
		if err != nil || perms == 0 {
			continue
		}
		expr := []LFTagPair{{TagKey: s.scale.Key, TagValues: s.scale.inValues(g.Grade)}}
		if len(g.Domains) > 0 {
			expr = append(expr, LFTagPair{TagKey: s.domainKey, TagValues: sortedUnique(g.Domains)})
		}
		p := principal(g.Group)
		m.grant(p, lfTypeTable, expr, perms)
		m.grant(p, lfTypeDatabase, expr, describeOnlyPerms)
	}
	return m
}

// PlanSyncActions returns the ordered Lake Formation calls that bring a
// target in state applied to state desired:
//
//  1. CreateLFTag for new keys, UpdateLFTag adding values to kept keys;
//  2. AddLFTagsToResource for tags set or changed (columns of a table that
//     get the same tags share one call);
//  3. BatchGrantPermissions, at most MaxBatchEntries entries a call;
//  4. BatchRevokePermissions, likewise;
//  5. RemoveLFTagsFromResource for tags gone;
//  6. UpdateLFTag deleting values, DeleteLFTag for keys gone.
//
// Phases 4-6 undo in the reverse order of 1-3: a value or key is deleted
// only after no grant and no resource uses it.
func PlanSyncActions(applied, desired *LFState) ([]SyncAction, error) {
	a, err := modelOf(applied)
	if err != nil {
		return nil, fmt.Errorf("applied state: %w", err)
	}
	d, err := modelOf(desired)
	if err != nil {
		return nil, fmt.Errorf("desired state: %w", err)
	}
	return diffModels(a, d)
}

// diffModels implements PlanSyncActions on models.
func diffModels(a, d *lfModel) ([]SyncAction, error) {
	p := &planner{}
	for _, k := range slices.Sorted(maps.Keys(d.tagKeys)) {
		want, have := d.tagKeys[k], a.tagKeys[k]
		if _, ok := a.tagKeys[k]; !ok {
			p.add(KindCreateLFTag, fmt.Sprintf("CreateLFTag %s (%s)", k, strings.Join(want, ", ")), CreateLFTagInput{TagKey: k, TagValues: want})
		} else if added := missing(want, have); len(added) > 0 {
			p.add(KindUpdateLFTag, fmt.Sprintf("UpdateLFTag %s: add values %s", k, strings.Join(added, ", ")), UpdateLFTagInput{TagKey: k, TagValuesToAdd: added})
		}
	}
	p.tagsOnResources(KindAddLFTags, "AddLFTagsToResource", d.tags, func(r Resource, want map[string]string) map[string]string {
		have := a.tags[r]
		out := map[string]string{}
		for k, v := range want {
			if hv, ok := have[k]; !ok || hv != v {
				out[k] = v
			}
		}
		return out
	})
	// Grants are what desired holds beyond applied; revokes the reverse.
	grants, revokes := permDelta(d.perms, a.perms), permDelta(a.perms, d.perms)
	p.batches(KindGrantPerms, "BatchGrantPermissions", grants)
	p.batches(KindRevokePerms, "BatchRevokePermissions", revokes)
	p.tagsOnResources(KindRemoveLFTags, "RemoveLFTagsFromResource", a.tags, func(r Resource, have map[string]string) map[string]string {
		want := d.tags[r]
		out := map[string]string{}
		for k, v := range have {
			if _, ok := want[k]; !ok {
				out[k] = v
			}
		}
		return out
	})
	for _, k := range slices.Sorted(maps.Keys(a.tagKeys)) {
		want, ok := d.tagKeys[k]
		if !ok {
			p.add(KindDeleteLFTag, "DeleteLFTag "+k, DeleteLFTagInput{TagKey: k})
		} else if gone := missing(a.tagKeys[k], want); len(gone) > 0 {
			p.add(KindUpdateLFTag, fmt.Sprintf("UpdateLFTag %s: delete values %s", k, strings.Join(gone, ", ")), UpdateLFTagInput{TagKey: k, TagValuesToDelete: gone})
		}
	}
	return p.actions, p.err
}

// permDelta returns, by key, a batch entry for the permissions of each
// policy of from that to lacks.
func permDelta(from, to map[string]*permEntry) []LFBatchEntry {
	var out []LFBatchEntry
	for _, k := range slices.Sorted(maps.Keys(from)) {
		e := from[k]
		var other PermSet
		if oe := to[k]; oe != nil {
			other = oe.perms
		}
		if delta := e.perms &^ other; delta != 0 {
			out = append(out, batchEntry(e, delta))
		}
	}
	return out
}

// missing returns the values of want that have lacks, in want's order.
func missing(want, have []string) []string {
	var out []string
	for _, v := range want {
		if !slices.Contains(have, v) {
			out = append(out, v)
		}
	}
	return out
}

// batchEntry is a batch entry for perms of e (its Id is set by batches).
func batchEntry(e *permEntry, perms PermSet) LFBatchEntry {
	return LFBatchEntry{
		Principal:   LFPrincipal{DataLakePrincipalIdentifier: e.principal},
		Resource:    LFResource{LFTagPolicy: &LFTagPolicyResource{ResourceType: e.resourceType, Expression: e.expr}},
		Permissions: perms.Names(),
	}
}

// planner collects actions; the first encoding error sticks.
type planner struct {
	actions []SyncAction
	err     error
}

// add appends an action with input encoded as JSON.
func (p *planner) add(kind, desc string, input any) {
	b, err := json.Marshal(input)
	if err != nil {
		p.err = cmp.Or(p.err, fmt.Errorf("encode %s input: %w", kind, err))
		return
	}
	p.actions = append(p.actions, SyncAction{Kind: kind, Description: desc, Input: b})
}

// batches appends the entries in calls of at most MaxBatchEntries.
func (p *planner) batches(kind, call string, entries []LFBatchEntry) {
	for start := 0; start < len(entries); start += MaxBatchEntries {
		batch := slices.Clone(entries[start:min(start+MaxBatchEntries, len(entries))])
		parts := make([]string, len(batch))
		for i := range batch {
			batch[i].Id = strconv.Itoa(i + 1)
			e := batch[i]
			parts[i] = fmt.Sprintf("%s %s on %s %s", e.Principal.DataLakePrincipalIdentifier, strings.Join(e.Permissions, ","),
				e.Resource.LFTagPolicy.ResourceType, exprString(e.Resource.LFTagPolicy.Expression))
		}
		p.add(kind, fmt.Sprintf("%s (%d entries): %s", call, len(batch), strings.Join(parts, "; ")), BatchPermissionsInput{Entries: batch})
	}
}

// exprString renders an expression as "k IN (v,...) AND ...".
func exprString(expr []LFTagPair) string {
	parts := make([]string, len(expr))
	for i, c := range expr {
		parts[i] = fmt.Sprintf("%s IN (%s)", c.TagKey, strings.Join(c.TagValues, ","))
	}
	return strings.Join(parts, " AND ")
}

// tagsOnResources appends one call per database and table, and one per
// group of a table's columns that change the same way, for the tags that
// change(r, tags) returns for each resource of from.
func (p *planner) tagsOnResources(kind, call string, from map[Resource]map[string]string, change func(Resource, map[string]string) map[string]string) {
	type colGroup struct {
		table Resource
		tags  map[string]string
		cols  []string
	}
	var groups []*colGroup
	byKey := map[string]*colGroup{}
	flush := func() {
		for _, g := range groups {
			slices.Sort(g.cols)
			r := LFResource{TableWithColumns: &LFTableWithColumnsResource{DatabaseName: g.table.Database, Name: g.table.Table, ColumnNames: g.cols}}
			p.add(kind, fmt.Sprintf("%s %s.%s columns %s: %s", call, g.table.Database, g.table.Table, strings.Join(g.cols, ","), tagsString(g.tags)),
				LFTagsOnResourceInput{Resource: r, LFTags: tagPairs(g.tags)})
		}
		groups, byKey = nil, map[string]*colGroup{}
	}
	var table Resource
	for _, r := range sortedResources(from) {
		tags := change(r, from[r])
		if len(tags) == 0 {
			continue
		}
		if r.Column == "" {
			flush()
			lr := LFResource{Database: &LFDatabaseResource{Name: r.Database}}
			if r.Table != "" {
				lr = LFResource{Table: &LFTableResource{DatabaseName: r.Database, Name: r.Table}}
			}
			p.add(kind, fmt.Sprintf("%s %s: %s", call, r, tagsString(tags)), LFTagsOnResourceInput{Resource: lr, LFTags: tagPairs(tags)})
			continue
		}
		if t := (Resource{Database: r.Database, Table: r.Table}); t != table {
			flush()
			table = t
		}
		key := tagsString(tags)
		g := byKey[key]
		if g == nil {
			g = &colGroup{table: table, tags: tags}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.cols = append(g.cols, r.Column)
	}
	flush()
}

// tagPairs converts tags to LFTags, by key.
func tagPairs(tags map[string]string) []LFTagPair {
	out := make([]LFTagPair, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		out = append(out, LFTagPair{TagKey: k, TagValues: []string{tags[k]}})
	}
	return out
}

// tagsString renders tags as "k=v, ..." by key.
func tagsString(tags map[string]string) string {
	parts := make([]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ", ")
}

// resourcesOf returns the resources an LFResource names.
func resourcesOf(r LFResource) ([]Resource, error) {
	switch {
	case r.Database != nil && r.Database.Name != "":
		return []Resource{{Database: r.Database.Name}}, nil
	case r.Table != nil && r.Table.DatabaseName != "" && r.Table.Name != "":
		return []Resource{{Database: r.Table.DatabaseName, Table: r.Table.Name}}, nil
	case r.TableWithColumns != nil && r.TableWithColumns.DatabaseName != "" && r.TableWithColumns.Name != "" && len(r.TableWithColumns.ColumnNames) > 0:
		out := make([]Resource, len(r.TableWithColumns.ColumnNames))
		for i, c := range r.TableWithColumns.ColumnNames {
			out[i] = Resource{Database: r.TableWithColumns.DatabaseName, Table: r.TableWithColumns.Name, Column: c}
		}
		return out, nil
	}
	return nil, errors.New("the resource names no database, table or columns")
}

// decodeInput decodes an action's input strictly.
func decodeInput(a SyncAction, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(a.Input)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s input: %w", a.Kind, err)
	}
	return nil
}

// apply changes m as the action changes Lake Formation. It is lenient the
// way a repeated action is: creating an existing key, granting a held
// permission or removing an absent tag changes nothing.
func (m *lfModel) apply(a SyncAction) error {
	switch a.Kind {
	case KindCreateLFTag:
		var in CreateLFTagInput
		if err := decodeInput(a, &in); err != nil {
			return err
		}
		if in.TagKey == "" || len(in.TagValues) == 0 {
			return fmt.Errorf("%s: a tag key and values are required", a.Kind)
		}
		m.tagKeys[in.TagKey] = slices.Clone(in.TagValues)
	case KindUpdateLFTag:
		var in UpdateLFTagInput
		if err := decodeInput(a, &in); err != nil {
			return err
		}
		vals, ok := m.tagKeys[in.TagKey]
		if !ok {
			return fmt.Errorf("%s: tag key %q does not exist", a.Kind, in.TagKey)
		}
		vals = append(slices.Clone(vals), missing(in.TagValuesToAdd, vals)...)
		m.tagKeys[in.TagKey] = slices.DeleteFunc(vals, func(v string) bool { return slices.Contains(in.TagValuesToDelete, v) })
	case KindDeleteLFTag:
		var in DeleteLFTagInput
		if err := decodeInput(a, &in); err != nil {
			return err
		}
		delete(m.tagKeys, in.TagKey)
	case KindAddLFTags, KindRemoveLFTags:
		var in LFTagsOnResourceInput
		if err := decodeInput(a, &in); err != nil {
			return err
		}
		rs, err := resourcesOf(in.Resource)
		if err != nil {
			return fmt.Errorf("%s: %w", a.Kind, err)
		}
		for _, r := range rs {
			m.setTags(r, in.LFTags, a.Kind == KindAddLFTags)
		}
	case KindGrantPerms, KindRevokePerms:
		var in BatchPermissionsInput
		if err := decodeInput(a, &in); err != nil {
			return err
		}
		if len(in.Entries) == 0 || len(in.Entries) > MaxBatchEntries {
			return fmt.Errorf("%s: %d entries, want 1 to %d", a.Kind, len(in.Entries), MaxBatchEntries)
		}
		for _, e := range in.Entries {
			pol := e.Resource.LFTagPolicy
			if pol == nil || e.Principal.DataLakePrincipalIdentifier == "" {
				return fmt.Errorf("%s entry %s: a principal and an LFTagPolicy resource are required", a.Kind, e.Id)
			}
			perms, err := parsePermNames(e.Permissions)
			if err != nil {
				return fmt.Errorf("%s entry %s: %w", a.Kind, e.Id, err)
			}
			if a.Kind == KindGrantPerms {
				m.grant(e.Principal.DataLakePrincipalIdentifier, pol.ResourceType, pol.Expression, perms)
				continue
			}
			k := permKey(e.Principal.DataLakePrincipalIdentifier, pol.ResourceType, pol.Expression)
			if pe := m.perms[k]; pe != nil {
				if pe.perms &^= perms; pe.perms == 0 {
					delete(m.perms, k)
				}
			}
		}
	default:
		return fmt.Errorf("unknown sync action kind %q", a.Kind)
	}
	return nil
}

// setTags adds (set) or removes tags of r.
func (m *lfModel) setTags(r Resource, pairs []LFTagPair, set bool) {
	tags := maps.Clone(m.tags[r])
	if tags == nil {
		tags = map[string]string{}
	}
	for _, p := range pairs {
		switch {
		case set && len(p.TagValues) > 0:
			tags[p.TagKey] = p.TagValues[0]
		case !set:
			delete(tags, p.TagKey)
		}
	}
	if len(tags) == 0 {
		delete(m.tags, r)
		return
	}
	m.tags[r] = tags
}

// syncStore returns the store of plans, or FAILED_PRECONDITION.
func (s *Service) syncStore() (store.Sync, error) {
	if s.sync == nil {
		return nil, fault.Precondition("sync plans need a store that keeps them; this server has none")
	}
	return s.sync, nil
}

// principalOf maps a group to its Lake Formation principal.
func principalOf(group string) string { return group }

// desired computes the desired state from the index, with its JSON and
// fingerprint.
func (s *Service) desired() (*lfModel, json.RawMessage, string, error) {
	m := s.ix.load().desiredModel(principalOf)
	raw, fp, err := encodeState(m.state())
	return m, raw, fp, err
}

// PlanSync compares the desired state (tag keys, tags, group grants) with
// the last applied state, stores the plan that brings the target there and
// returns it. A plan with no actions means the target is in sync. It
// first brings the index up to date with the store, so that a plan made on
// one replica holds what every replica wrote before it.
func (s *Service) PlanSync(ctx context.Context) (*SyncPlan, error) {
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	if err := s.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	cur, err := ss.GetSyncState(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	applied, err := decodeState(cur.State)
	if err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	want, raw, fp, err := s.desired()
	if err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	actions, err := diffModels(applied, want)
	if err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	if actions == nil {
		actions = []SyncAction{}
	}
	encoded, err := json.Marshal(actions)
	if err != nil {
		return nil, fmt.Errorf("plan sync: encode actions: %w", err)
	}
	p, err := ss.CreateSyncPlan(ctx, &store.SyncPlan{DesiredFingerprint: fp, AppliedFingerprint: cur.Fingerprint, Actions: encoded, Desired: raw})
	if err != nil {
		return nil, fmt.Errorf("plan sync: %w", err)
	}
	return &SyncPlan{ID: p.ID, Actions: actions, CreateTime: p.CreateTime}, nil
}

// ApplySync applies a stored plan to the target, action by action in plan
// order, stopping at the first failure, and records the state reached as
// the applied state. It refuses with FAILED_PRECONDITION a plan that was
// applied already, or that was made against a desired or applied state
// that has changed since: plan again. A failed action is no error of the
// call: the result counts it, and the next plan holds what is left.
func (s *Service) ApplySync(ctx context.Context, planID string) (*SyncResult, error) {
	if planID == "" {
		return nil, fault.Invalid("planId", "is required")
	}
	ss, err := s.syncStore()
	if err != nil {
		return nil, err
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	p, err := ss.GetSyncPlan(ctx, planID)
	if err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	if !p.ApplyTime.IsZero() {
		return nil, fault.Precondition("sync plan %s was applied at %s; make a new plan", planID, p.ApplyTime.Format(time.RFC3339))
	}
	cur, err := ss.GetSyncState(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	if cur.Fingerprint != p.AppliedFingerprint {
		return nil, fault.Precondition("sync plan %s is stale: plan %s was applied after it was made; make a new plan", planID, cur.PlanID)
	}
	// Another replica's tag or grant changes since the plan count too.
	if err := s.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	if _, _, fp, err := s.desired(); err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	} else if fp != p.DesiredFingerprint {
		return nil, fault.Precondition("sync plan %s is stale: tags or grants changed after it was made; make a new plan", planID)
	}
	var actions []SyncAction
	if err := json.Unmarshal(p.Actions, &actions); err != nil {
		return nil, fmt.Errorf("apply sync: decode actions of plan %s: %w", planID, err)
	}
	model, err := decodeState(cur.State)
	if err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	res := &SyncResult{PlanID: planID, Results: make([]SyncActionResult, len(actions))}
	var failed error
	failedAt := -1
	for i, a := range actions {
		r := &res.Results[i]
		r.Action = a
		if failed != nil {
			r.Error = fmt.Sprintf("not attempted: action %d failed", failedAt+1)
			res.Failed++
			continue
		}
		if err := s.lf.Apply(ctx, a); err != nil {
			failed = err
		} else if err := model.apply(a); err != nil {
			failed = fmt.Errorf("record: %w", err)
		}
		if failed != nil {
			failedAt = i
			r.Error = failed.Error()
			res.Failed++
			continue
		}
		r.Applied = true
		res.Applied++
	}
	raw, fp, err := encodeState(model.state())
	if err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	// Record what was applied even when the caller has gone: the target
	// changed.
	_, err = ss.RecordSyncApplied(context.WithoutCancel(ctx), planID, raw, fp)
	if errors.Is(err, store.ErrStale) {
		return nil, fault.Precondition("sync plan %s is stale: %v", planID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("apply sync: %w", err)
	}
	return res, nil
}
