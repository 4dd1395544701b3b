// Package auth decides who is calling lakeplane and what they may do.
//
// Authentication turns the credentials of a gRPC call (its metadata) into a
// Principal: a name, the groups it belongs to and the roles those groups hold
// according to the configuration. Authorization then checks the principal's
// roles against one table (policy.go) that names, for every RPC, the roles
// allowed to call it. The interceptors in this package do both for every gRPC
// call, so handlers only ever see authenticated, authorized callers and can
// read the principal from their context with FromContext.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is a coarse permission set granted to groups by the configuration.
type Role string

// The roles lakeplane knows. Admin may call every RPC in the policy table;
// the others are granted per RPC in policy.go.
const (
	// Admin runs the platform and may call everything.
	Admin Role = "admin"
	// Steward governs data: grades, tags, grants, erasure and audit.
	Steward Role = "steward"
	// Engineer builds and operates datasets, ingests and storage chores.
	Engineer Role = "engineer"
	// Analyst reads metadata and previews the columns its grades allow.
	Analyst Role = "analyst"
	// Auditor reads metadata, costs and the audit log.
	Auditor Role = "auditor"
)

// AllRoles returns every known role, most powerful first. The slice is new on
// every call, so callers may keep or change it.
func AllRoles() []Role {
	return []Role{Admin, Steward, Engineer, Analyst, Auditor}
}

// ParseRole returns the Role named s, or an error listing the known roles.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(AllRoles(), r) {
		return "", fmt.Errorf("unknown role %q (known roles: %v)", s, AllRoles())
	}
	return r, nil
}

// Principal is an authenticated caller.
type Principal struct {
	// Name identifies the caller in logs and audit events (an API key's
	// name, or "local" when authentication is off).
	Name string
	// Groups are the groups the caller belongs to; grade grants are made to
	// groups.
	Groups []string
	// Roles are the roles the caller's groups hold.
	Roles []Role
}

// HasRole reports whether p holds role r. A nil principal holds no role.
func (p *Principal) HasRole(r Role) bool {
	return p != nil && slices.Contains(p.Roles, r)
}

// clone returns a deep copy of p, so that a principal handed to one call can
// be changed without affecting another.
func (p *Principal) clone() *Principal {
	return &Principal{
		Name:   p.Name,
		Groups: slices.Clone(p.Groups),
		Roles:  slices.Clone(p.Roles),
	}
}

// principalKey is the context key of the principal; being an unexported
// type, no other package can collide with it.
type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal stored in ctx by NewContext, and whether
// there was a non-nil one.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
