package auth

import (
	"context"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, r := range AllRoles() {
		got, err := ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, nil", r, got, err, r)
		}
	}
	for _, s := range []string{"", "Admin", "root", "admin "} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) succeeded; want an error", s)
		}
	}
}

func TestHasRole(t *testing.T) {
	p := &Principal{Name: "alice", Roles: []Role{Engineer, Analyst}}
	for _, tc := range []struct {
		role Role
		want bool
	}{
		{Engineer, true}, {Analyst, true}, {Admin, false}, {Steward, false}, {Auditor, false},
	} {
		if got := p.HasRole(tc.role); got != tc.want {
			t.Errorf("HasRole(%q) = %v, want %v", tc.role, got, tc.want)
		}
	}
	var nilPrincipal *Principal
	if nilPrincipal.HasRole(Admin) {
		t.Error("nil principal has the admin role")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if p, ok := FromContext(ctx); ok || p != nil {
		t.Fatalf("FromContext(empty) = %v, %v; want nil, false", p, ok)
	}
	want := &Principal{Name: "bob"}
	got, ok := FromContext(NewContext(ctx, want))
	if !ok || got != want {
		t.Fatalf("FromContext = %v, %v; want %v, true", got, ok, want)
	}
	if p, ok := FromContext(NewContext(ctx, nil)); ok || p != nil {
		t.Fatalf("FromContext(nil principal) = %v, %v; want nil, false", p, ok)
	}
}
