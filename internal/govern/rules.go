// Package govern is the GrantsService: sensitivity grades as Lake Formation
// tags (LF-Tags) on databases, tables and columns, group grants ("group G
// reads grade g and less sensitive"), their resolution into Lake Formation
// tag-policy grants, and fast access checks.
//
// Service holds the logic on plain Go values, on top of the control-plane
// store (store.Datasets and store.Grants) and an in-memory Index that
// answers checks without touching the store; Handler translates it to gRPC.
//
// The rules are Lake Formation's:
//
//   - Tag keys and values are lower-case, at most 50 characters; a resource
//     carries one value per key and at most 50 tags.
//   - The grade key (default "grade") has the ordered values "1".."N" from
//     the configuration, "1" the most sensitive. The grade tag of a table or
//     column IS its dataset's Grade or its column's Grade; the grade tag of a
//     database is an explicit tag kept by the grants store.
//   - A table inherits its database's value of a key, a column its table's,
//     unless it carries its own (an override may go either way).
//   - A group grant (G, g, P, D) is the tag expression grade IN (g..N), AND
//     domain IN (D) when D is given, granted with P on TABLE resources and
//     with DESCRIBE on DATABASE resources. A column is opened by it when the
//     column's effective tags match the expression; a resource untagged for a
//     key of the expression matches nothing.
//   - Where a grant opens only some columns of a table (or the table's own
//     tags do not match), only SELECT and DESCRIBE of P hold there; INSERT,
//     DELETE, ALTER and DROP need the table and all its columns to match.
//   - A principal in several groups gets the union of what their grants open.
package govern

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
)

// Limits of Lake Formation tags.
const (
	// MaxTagLength is the longest tag key or value.
	MaxTagLength = 50
	// MaxTagValues is the most values one tag key may allow.
	MaxTagValues = 1000
	// MaxBatchChecks is the most checks one BatchCheckAccess call takes.
	MaxBatchChecks = 1000
	// DefaultDomainKey is the tag key that a grant's domains narrow by.
	DefaultDomainKey = "domain"
)

// Permission is a Lake Formation data permission.
type Permission uint8

// The permissions, in the order of the API's enum.
const (
	Select Permission = iota
	Describe
	Insert
	Delete
	Alter
	Drop
	numPermissions
)

var permissionNames = [numPermissions]string{"SELECT", "DESCRIBE", "INSERT", "DELETE", "ALTER", "DROP"}

// String returns the permission's API name.
func (p Permission) String() string {
	if p < numPermissions {
		return permissionNames[p]
	}
	return "Permission(" + strconv.Itoa(int(p)) + ")"
}

// columnLevel reports whether p may hold on some columns of a table only
// (SELECT, DESCRIBE); the others need the whole table.
func (p Permission) columnLevel() bool { return p == Select || p == Describe }

// ParsePermission returns the permission with the API name s.
func ParsePermission(s string) (Permission, error) {
	for i, n := range permissionNames {
		if n == s {
			return Permission(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a permission (one of %s)", s, strings.Join(permissionNames[:], ", "))
}

// PermSet is a set of permissions, one bit each.
type PermSet uint8

// columnLevelPerms are the permissions that hold where a grant opens only
// some columns of a table.
const columnLevelPerms = PermSet(1<<Select | 1<<Describe)

// Has reports whether p is in the set.
func (s PermSet) Has(p Permission) bool { return s&(1<<p) != 0 }

// With returns the set with p added.
func (s PermSet) With(p Permission) PermSet { return s | 1<<p }

// List returns the permissions of the set in enum order.
func (s PermSet) List() []Permission {
	var out []Permission
	for p := range numPermissions {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Names returns the API names of the set's permissions in enum order.
func (s PermSet) Names() []string {
	var out []string
	for _, p := range s.List() {
		out = append(out, p.String())
	}
	return out
}

// permFromProto converts an API permission; UNSPECIFIED and unknown values
// fail.
func permFromProto(p lakeplanev1.Permission) (Permission, bool) {
	if p < lakeplanev1.Permission_SELECT || p > lakeplanev1.Permission_DROP {
		return 0, false
	}
	return Permission(p - lakeplanev1.Permission_SELECT), true
}

// permToProto converts a permission to the API's enum.
func permToProto(p Permission) lakeplanev1.Permission {
	return lakeplanev1.Permission(p) + lakeplanev1.Permission_SELECT
}

// CheckTagText checks a tag key or value against Lake Formation's rules as
// lakeplane applies them: 1 to MaxTagLength characters, no upper-case
// letters, and only letters, digits, spaces and _ . : / = + - @ %.
func CheckTagText(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	if n := len([]rune(s)); n > MaxTagLength {
		return fmt.Errorf("is %d characters, more than %d", n, MaxTagLength)
	}
	for i, r := range []rune(s) {
		switch {
		case unicode.IsUpper(r):
			return fmt.Errorf("character %d (%q) is upper-case; tags are lower-case", i+1, r)
		case unicode.IsLetter(r), unicode.IsDigit(r), r == ' ', strings.ContainsRune("_.:/=+-@%", r):
		default:
			return fmt.Errorf("character %d (%q) is not a letter, digit, space or one of _ . : / = + - @ %%", i+1, r)
		}
	}
	return nil
}

// GradeScale is the grade key and its levels, from the configuration.
type GradeScale struct {
	// Key is the grade tag key.
	Key string
	// Levels is N: the grades are "1".."N", 1 the most sensitive.
	Levels int
	// Labels optionally names each level, level 1 first.
	Labels []string
}

// Values returns the grade values "1".."N".
func (g GradeScale) Values() []string {
	out := make([]string, g.Levels)
	for i := range out {
		out[i] = strconv.Itoa(i + 1)
	}
	return out
}

// parse returns the grade a tag value names, or 0 when it names none.
func (g GradeScale) parse(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > g.Levels || strconv.Itoa(n) != v {
		return 0
	}
	return n
}

// inValues returns the values of grade IN (g..N).
func (g GradeScale) inValues(grade int) []string {
	var out []string
	for v := grade; v <= g.Levels; v++ {
		out = append(out, strconv.Itoa(v))
	}
	return out
}

// validate checks the scale itself.
func (g GradeScale) validate() error {
	if err := CheckTagText(g.Key); err != nil {
		return fmt.Errorf("grade key %q: %w", g.Key, err)
	}
	if g.Levels < 1 || g.Levels > 250 {
		return fmt.Errorf("grade levels %d: must be 1..250", g.Levels)
	}
	if len(g.Labels) != 0 && len(g.Labels) != g.Levels {
		return fmt.Errorf("%d grade labels for %d levels", len(g.Labels), g.Levels)
	}
	return nil
}

// Resource names a database (Database only), a table (Database and Table)
// or a column (all three).
type Resource struct {
	Database string
	Table    string
	Column   string
}

// String renders the resource as database[.table[.column]], as the
// store's governance change log names it.
func (r Resource) String() string { return r.toStore().Key() }

// sortedUnique returns the sorted distinct values of ss.
func sortedUnique(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return slices.Compact(out)
}
