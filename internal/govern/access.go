package govern

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// GrantSpec is a group grant as asked for: group reads grades Grade..N
// with Permissions, narrowed to Domains when there are any.
type GrantSpec struct {
	Group       string
	Grade       int
	Permissions []Permission
	Domains     []string
}

// maxGroupLength bounds group names.
const maxGroupLength = 256

// checkGrantSpec checks a grant against the scale and the domain key; field
// prefixes the names of the fields in errors.
func (s *Service) checkGrantSpec(ctx context.Context, g GrantSpec, field string) error {
	if g.Group == "" || len(g.Group) > maxGroupLength {
		return fault.Invalid(field+"group", "must be 1 to %d characters", maxGroupLength)
	}
	if g.Grade < 1 || g.Grade > s.scale.Levels {
		return fault.Invalid(field+"grade", "%d is not a grade (1..%d)", g.Grade, s.scale.Levels)
	}
	if len(g.Permissions) == 0 {
		return fault.Invalid(field+"permissions", "must name at least one permission")
	}
	for i, p := range g.Permissions {
		if p >= numPermissions {
			return fault.Invalid(fmt.Sprintf("%spermissions[%d]", field, i), "is not a permission")
		}
	}
	if len(g.Domains) == 0 {
		return nil
	}
	key, err := s.st.GetTagKey(ctx, s.domainKey)
	if errors.Is(err, store.ErrNotFound) {
		return fault.Invalid(field+"domains", "the domain tag key %q is not defined", s.domainKey)
	}
	if err != nil {
		return fmt.Errorf("check domains: %w", err)
	}
	for i, d := range g.Domains {
		if !slices.Contains(key.Values, d) {
			return fault.Invalid(fmt.Sprintf("%sdomains[%d]", field, i), "%q is not a value of tag key %q", d, s.domainKey)
		}
	}
	return nil
}

// permSetOf collects permissions into a set.
func permSetOf(ps []Permission) PermSet {
	var s PermSet
	for _, p := range ps {
		s = s.With(p)
	}
	return s
}

// CreateGroupGrant stores a group grant.
func (s *Service) CreateGroupGrant(ctx context.Context, g GrantSpec) (*store.GroupGrant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkGrantSpec(ctx, g, "groupGrant."); err != nil {
		return nil, err
	}
	created, err := s.st.CreateGroupGrant(ctx, &store.GroupGrant{
		Group: g.Group, Grade: g.Grade, Permissions: permSetOf(g.Permissions).Names(), Domains: sortedUnique(g.Domains),
	})
	if err != nil {
		return nil, fmt.Errorf("create group grant: %w", err)
	}
	s.ix.SetGrant(created)
	return created, nil
}

// ListGroupGrants returns one page of group grants, of one group or all.
func (s *Service) ListGroupGrants(ctx context.Context, group string, pageSize int, pageToken string) (store.Page[*store.GroupGrant], error) {
	if pageSize < 0 {
		return store.Page[*store.GroupGrant]{}, fault.Invalid("pageSize", "must not be negative")
	}
	page, err := s.st.ListGroupGrants(ctx, store.ListGroupGrantsOptions{Group: group, PageSize: pageSize, PageToken: pageToken})
	if errors.Is(err, store.ErrInvalidPageToken) {
		return page, fault.Invalid("pageToken", "is not a token this listing issued")
	}
	if err != nil {
		return page, fmt.Errorf("list group grants: %w", err)
	}
	return page, nil
}

// DeleteGroupGrant deletes a group grant.
func (s *Service) DeleteGroupGrant(ctx context.Context, id string) error {
	if id == "" {
		return fault.Invalid("id", "is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.DeleteGroupGrant(ctx, id); err != nil {
		return fmt.Errorf("delete group grant: %w", err)
	}
	s.ix.RemoveGrant(id)
	return nil
}

// TagCondition is one key of a tag expression: the key has one of Values.
type TagCondition struct {
	Key    string
	Values []string
}

// LFGrant is one Lake Formation GrantPermissions call with an LFTagPolicy
// resource: Permissions on the ResourceType resources whose tags match all
// the conditions of Expression.
type LFGrant struct {
	Principal    string
	ResourceType string // "DATABASE" or "TABLE"
	Expression   []TagCondition
	Permissions  PermSet
}

// Resolution is what a group grant means in Lake Formation.
type Resolution struct {
	LFGrants   []LFGrant
	Accessible []AccessibleTable
}

// expression returns the tag expression of a grant.
func (s *Service) expression(grade int, domains []string) []TagCondition {
	expr := []TagCondition{{Key: s.scale.Key, Values: s.scale.inValues(grade)}}
	if len(domains) > 0 {
		expr = append(expr, TagCondition{Key: s.domainKey, Values: sortedUnique(domains)})
	}
	return expr
}

// ResolveGrant computes, without storing anything, the Lake Formation
// grants that realise a group grant and every table it opens.
func (s *Service) ResolveGrant(ctx context.Context, g GrantSpec) (*Resolution, error) {
	if err := s.Fresh(); err != nil {
		return nil, err
	}
	if err := s.checkGrantSpec(ctx, g, ""); err != nil {
		return nil, err
	}
	perms := permSetOf(g.Permissions)
	expr := s.expression(g.Grade, g.Domains)
	res := &Resolution{LFGrants: []LFGrant{
		{Principal: g.Group, ResourceType: "TABLE", Expression: expr, Permissions: perms},
		{Principal: g.Group, ResourceType: "DATABASE", Expression: expr, Permissions: PermSet(0).With(Describe)},
	}}
	snap := s.ix.load()
	res.Accessible = snap.resolve(g.Grade, perms, g.Domains)
	return res, nil
}

// Resolve returns every table that a grant of grade with perms, narrowed to
// domains when there are any, would open, in (database, table) order.
func (ix *Index) Resolve(grade int, perms PermSet, domains []string) []AccessibleTable {
	return ix.load().resolve(grade, perms, domains)
}

// resolve implements Resolve on one snapshot.
func (s *snapshot) resolve(grade int, perms PermSet, domains []string) []AccessibleTable {
	cg := s.hypothetical(grade, perms, domains)
	var out []AccessibleTable
	s.eachTable("", "", func(t *tableEntry) bool {
		if at, ok := accessible([]*compiledGrant{cg}, t); ok {
			out = append(out, at)
		}
		return true
	})
	return out
}

// unknownDomain stands for a domain value no resource carries.
const unknownDomain = 0xFFFF

// hypothetical compiles a grant that is not stored, against s's domain ids.
func (s *snapshot) hypothetical(grade int, perms PermSet, domains []string) *compiledGrant {
	cg := &compiledGrant{grade: noGrade, perms: perms}
	if grade >= 1 && grade <= s.scale.Levels {
		cg.grade = uint8(grade)
	}
	for _, d := range domains {
		id, ok := s.domainIDs[d]
		if !ok {
			id = unknownDomain
		}
		cg.domains = append(cg.domains, id)
	}
	slices.Sort(cg.domains)
	cg.domains = slices.Compact(cg.domains)
	return cg
}

// Check asks whether any of Groups holds Permission on Columns (all of the
// table's when empty) of Database.Table.
type Check struct {
	Groups     []string
	Database   string
	Table      string
	Columns    []string
	Permission Permission
}

// Decision answers a Check.
type Decision struct {
	Allowed        bool
	AllowedColumns []string
	DeniedColumns  []string
	Reason         string
}

// CheckAccess decides a check from the index. An unknown table or column
// is denied, with the reason saying so.
func (s *Service) CheckAccess(c Check) (Decision, error) {
	if err := s.Fresh(); err != nil {
		return Decision{}, err
	}
	if err := checkCheck(c, -1); err != nil {
		return Decision{}, err
	}
	return s.ix.load().decide(c), nil
}

// BatchCheckAccess decides up to MaxBatchChecks checks, in order.
func (s *Service) BatchCheckAccess(cs []Check) ([]Decision, error) {
	if err := s.Fresh(); err != nil {
		return nil, err
	}
	if len(cs) == 0 || len(cs) > MaxBatchChecks {
		return nil, fault.Invalid("checks", "must hold 1 to %d checks, not %d", MaxBatchChecks, len(cs))
	}
	for i, c := range cs {
		if err := checkCheck(c, i); err != nil {
			return nil, err
		}
	}
	snap := s.ix.load() // one state for the whole batch
	out := make([]Decision, len(cs))
	for i, c := range cs {
		out[i] = snap.decide(c)
	}
	return out, nil
}

// checkCheck checks the form of a check, number batchIndex of a batch (-1:
// a single check, whose fields are named without the batch's path).
func checkCheck(c Check, batchIndex int) error {
	if c.Database == "" {
		return fault.Invalid(checkField(batchIndex, "database"), "is required")
	}
	if c.Table == "" {
		return fault.Invalid(checkField(batchIndex, "table"), "is required")
	}
	if c.Permission >= numPermissions {
		return fault.Invalid(checkField(batchIndex, "permission"), "is not a permission")
	}
	for i, col := range c.Columns {
		if col == "" {
			return fault.Invalid(checkField(batchIndex, fmt.Sprintf("columns[%d]", i)), "is empty")
		}
	}
	return nil
}

// checkField names a field of check number batchIndex of a batch (-1: a
// single check). It is called only for an error, so that a valid batch of
// a thousand checks formats no names.
func checkField(batchIndex int, name string) string {
	if batchIndex < 0 {
		return name
	}
	return fmt.Sprintf("checks[%d].%s", batchIndex, name)
}

// decide answers one check against the snapshot. Its reason is written
// into one buffer, as portals make this call on every page.
func (s *snapshot) decide(c Check) Decision {
	t := s.table(c.Database, c.Table)
	if t == nil {
		return Decision{DeniedColumns: slices.Clone(c.Columns), Reason: fmt.Sprintf("%s on %s.%s denied: no such table", c.Permission, c.Database, c.Table)}
	}
	var groupsBuf [8]*groupEntry
	groups := groupsBuf[:0]
	for _, name := range c.Groups {
		if g := s.group(name); g != nil {
			groups = append(groups, g)
		}
	}
	cols := c.Columns
	if len(cols) == 0 {
		cols = make([]string, len(t.cols))
		for i := range t.cols {
			cols[i] = t.cols[i].name
		}
	}
	d := Decision{AllowedColumns: make([]string, 0, len(cols)), DeniedColumns: []string{}}
	firstDenied := -2 // column index of the first denied column; -1: the table; -2: none
	deniedUnknown := ""
	// deciding are the grants that opened columns, in the order they first
	// did; opened[i] is the column AllowedColumns[i] and the grant in
	// deciding that opened it.
	var decidingBuf [4]*compiledGrant
	var openedBuf [32]openedColumn
	deciding, opened := decidingBuf[:0], openedBuf[:0]
	// opener returns whether column ci (-1: the table) is open to the
	// groups, and the index in deciding of the grant that opens it.
	opener := func(ci int) (bool, int) {
		for _, g := range groups {
			if !g.allows(c.Permission, t, ci) {
				continue
			}
			for _, cg := range g.grants {
				if cg.allows(c.Permission, t, ci) {
					i := slices.Index(deciding, cg)
					if i < 0 {
						i = len(deciding)
						deciding = append(deciding, cg)
					}
					return true, i
				}
			}
			return true, -1
		}
		return false, -1
	}
	if len(t.cols) == 0 && len(c.Columns) == 0 {
		ok, _ := opener(-1)
		d.Allowed = ok
		if !ok {
			firstDenied = -1
		}
	} else {
		for _, name := range cols {
			ci, ok := s.colIndex(t, name)
			if !ok {
				d.DeniedColumns = append(d.DeniedColumns, name)
				if firstDenied == -2 && deniedUnknown == "" {
					deniedUnknown = name
				}
				continue
			}
			if open, by := opener(ci); open {
				d.AllowedColumns = append(d.AllowedColumns, name)
				opened = append(opened, openedColumn{ci: int32(ci), by: int32(by)})
				continue
			}
			d.DeniedColumns = append(d.DeniedColumns, name)
			if firstDenied == -2 && deniedUnknown == "" {
				firstDenied = ci
			}
		}
		d.Allowed = len(d.DeniedColumns) == 0 && len(d.AllowedColumns) > 0
	}
	b := make([]byte, 0, 192)
	b = append(b, c.Permission.String()...)
	b = append(b, " on "...)
	b = append(append(append(b, t.db...), '.'), t.name...)
	switch {
	case deniedUnknown != "":
		b = append(b, " denied: the table has no column "...)
		b = strconv.AppendQuote(b, deniedUnknown)
	case firstDenied != -2:
		b = s.appendDenyReason(b, c, groups, t, firstDenied)
	case d.Allowed:
		b = append(b, " allowed: "...)
		for i, cg := range deciding {
			if i > 0 {
				b = append(b, "; "...)
			}
			b = append(b, cg.label...)
			if len(t.cols) > 0 {
				b = append(b, " opens "...)
				b = s.appendColumns(b, t, opened, int32(i))
			} else {
				b = append(b, " matches the table ("...)
				b = s.appendTags(b, t.grade, t.gradeFrom, t.domain, t.domainFrom)
				b = append(b, ')')
			}
		}
	default:
		b = append(b, " denied: the table has no columns to check"...)
	}
	d.Reason = string(b)
	return d
}

// openedColumn is a column of a check that a grant opened: its index in
// the table, and the grant's in the check's deciding grants.
type openedColumn struct{ ci, by int32 }

// appendColumns names the columns of t that grant number by opened, at
// most five, with their tag values.
func (s *snapshot) appendColumns(b []byte, t *tableEntry, opened []openedColumn, by int32) []byte {
	const most = 5
	n := 0
	for i, o := range opened {
		if o.by != by {
			continue
		}
		if n == most {
			rest := 0
			for _, o := range opened[i:] {
				if o.by == by {
					rest++
				}
			}
			b = append(b, ", and "...)
			b = strconv.AppendInt(b, int64(rest), 10)
			return append(b, " more"...)
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
		c := &t.cols[o.ci]
		b = append(b, c.name...)
		b = append(b, " (grade="...)
		b = strconv.AppendInt(b, int64(c.grade), 10)
		b = append(append(b, ' '), fromNames[c.gradeFrom]...)
		if c.domain != 0 {
			b = append(append(b, ", domain "...), fromNames[c.domainFrom]...)
		}
		b = append(b, ')')
	}
	return b
}

// domainName returns the value of a domain id.
func (s *snapshot) domainName(id uint16) string {
	for v, x := range s.domainIDs {
		if x == id {
			return v
		}
	}
	return "?"
}

// grantExpr renders the expression of a grant of grade, narrowed to
// domains when there are any, as Lake Formation would.
func grantExpr(scale GradeScale, domainKey string, grade uint8, domains []string) string {
	text := fmt.Sprintf("%s IN (%s)", scale.Key, strings.Join(scale.inValues(int(grade)), ","))
	if len(domains) > 0 {
		ds := slices.Sorted(slices.Values(domains))
		text += fmt.Sprintf(" AND %s IN (%s)", domainKey, strings.Join(slices.Compact(ds), ","))
	}
	return text
}

// appendTags appends the effective grade and domain of a resource, and
// where each comes from.
func (s *snapshot) appendTags(b []byte, grade, gradeFrom uint8, domain uint16, domainFrom uint8) []byte {
	b = append(b, s.scale.Key...)
	if grade != 0 {
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(grade), 10)
		b = append(append(b, ' '), fromNames[gradeFrom]...)
	} else {
		b = append(b, " untagged"...)
	}
	if domain != 0 {
		b = append(append(append(b, ", "...), s.domainKey...), '=')
		b = append(append(append(b, s.domainName(domain)...), ' '), fromNames[domainFrom]...)
	} else {
		b = append(append(b, ", no "...), s.domainKey...)
	}
	return b
}

// appendDenyReason appends, to "PERM on db.table", why column ci of t (-1:
// the table) is denied.
func (s *snapshot) appendDenyReason(b []byte, c Check, groups []*groupEntry, t *tableEntry, ci int) []byte {
	grade, gradeFrom, domain, domainFrom := t.grade, t.gradeFrom, t.domain, t.domainFrom
	if ci >= 0 {
		col := &t.cols[ci]
		b = append(append(b, '.'), col.name...)
		grade, gradeFrom, domain, domainFrom = col.grade, col.gradeFrom, col.domain, col.domainFrom
	}
	b = append(b, " denied: "...)
	considered := func(b []byte) []byte {
		b = append(b, "; grants considered: "...)
		first := true
		for _, g := range groups {
			for _, cg := range g.grants {
				if cg.perms.Has(c.Permission) {
					if !first {
						b = append(b, "; "...)
					}
					first = false
					b = append(b, cg.label...)
				}
			}
		}
		return b
	}
	held := false
	for _, g := range groups {
		for _, cg := range g.grants {
			held = held || cg.perms.Has(c.Permission)
		}
	}
	switch {
	case !held:
		b = append(b, "groups ["...)
		for i, g := range c.Groups {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, g...)
		}
		b = append(b, "] hold no grant with "...)
		return append(b, c.Permission.String()...)
	case grade == 0:
		b = append(b, "it carries no "...)
		b = append(b, s.scale.Key...)
		b = append(b, " tag ("...)
		b = s.appendTags(b, grade, gradeFrom, domain, domainFrom)
		b = append(b, "), and an untagged resource matches no grant expression"...)
		return considered(b)
	case ci >= 0 && !c.Permission.columnLevel():
		b = append(b, c.Permission.String()...)
		b = append(b, " needs the table and all its columns to match one grant ("...)
		b = s.appendTags(b, grade, gradeFrom, domain, domainFrom)
		b = append(b, ", table's least grade "...)
		if t.minGrade == 0 {
			b = append(b, "untagged"...)
		} else {
			b = strconv.AppendInt(b, int64(t.minGrade), 10)
		}
		b = append(b, ')')
		return considered(b)
	default:
		b = append(b, "its tags ("...)
		b = s.appendTags(b, grade, gradeFrom, domain, domainFrom)
		b = append(b, ") match no grant expression"...)
		return considered(b)
	}
}

// ListAccessibleTables returns one page of the tables a group's grants
// open, in (database, table) order, with the columns they open and leave
// out and the permissions that hold.
func (s *Service) ListAccessibleTables(group string, pageSize int, pageToken string) ([]AccessibleTable, string, error) {
	if err := s.Fresh(); err != nil {
		return nil, "", err
	}
	if group == "" {
		return nil, "", fault.Invalid("group", "is required")
	}
	if pageSize < 0 {
		return nil, "", fault.Invalid("pageSize", "must not be negative")
	}
	size := store.NormalizePageSize(pageSize)
	var afterDB, afterTable string
	if pageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(pageToken)
		var ok bool
		afterDB, afterTable, ok = strings.Cut(string(raw), "\x1f")
		if err != nil || !ok || afterDB == "" || afterTable == "" {
			return nil, "", fault.Invalid("pageToken", "is not a token this listing issued")
		}
	}
	snap := s.ix.load()
	g := snap.group(group)
	if g == nil {
		return nil, "", nil
	}
	var out []AccessibleTable
	next := ""
	snap.eachTable(afterDB, afterTable, func(t *tableEntry) bool {
		at, ok := accessible(g.grants, t)
		if !ok {
			return true
		}
		if len(out) == size {
			last := out[len(out)-1]
			next = base64.RawURLEncoding.EncodeToString([]byte(last.Database + "\x1f" + last.Table))
			return false
		}
		out = append(out, at)
		return true
	})
	return out, next, nil
}
