package auth

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	aliceSecret = "alice-secret-0123456789abcdef"
	bobSecret   = "bob-secret-0123456789abcdefgh" // same length as aliceSecret
)

func hashHex(secret string) string {
	h := HashKey(secret)
	return hex.EncodeToString(h[:])
}

func testRoles() RoleMap {
	return RoleMap{
		Admin:    {"platform-admins"},
		Steward:  {"governance"},
		Engineer: {"data-eng"},
		Analyst:  {"analysts"},
		Auditor:  {"audit"},
	}
}

func testAPIKeys(t *testing.T) *APIKeys {
	t.Helper()
	a, err := NewAPIKeys([]Key{
		{Name: "alice", SHA256: HashKey(aliceSecret), Groups: []string{"data-eng", "analysts"}},
		{Name: "bob", SHA256: HashKey(bobSecret), Groups: []string{"audit"}},
		{Name: "carol", SHA256: HashKey("carol"), Groups: []string{"platform-admins", "unmapped"}},
		{Name: "dave", SHA256: HashKey("dave"), Groups: nil},
	}, testRoles())
	if err != nil {
		t.Fatalf("NewAPIKeys: %v", err)
	}
	return a
}

func TestAPIKeysAuthenticate(t *testing.T) {
	a := testAPIKeys(t)
	if len(aliceSecret) != len(bobSecret) {
		t.Fatal("test secrets must have the same length")
	}
	tests := []struct {
		name       string
		md         metadata.MD
		wantName   string
		wantGroups []string
		wantRoles  []Role
		wantMsg    string // error message when the call must fail
	}{
		{
			name:       "right key",
			md:         metadata.Pairs("authorization", "Bearer "+aliceSecret),
			wantName:   "alice",
			wantGroups: []string{"data-eng", "analysts"},
			wantRoles:  []Role{Engineer, Analyst},
		},
		{
			name:       "second key, lower-case scheme",
			md:         metadata.Pairs("authorization", "bearer "+bobSecret),
			wantName:   "bob",
			wantGroups: []string{"audit"},
			wantRoles:  []Role{Auditor},
		},
		{
			name:       "unmapped groups give no role",
			md:         metadata.Pairs("authorization", "Bearer carol"),
			wantName:   "carol",
			wantGroups: []string{"platform-admins", "unmapped"},
			wantRoles:  []Role{Admin},
		},
		{
			name:     "no groups",
			md:       metadata.Pairs("authorization", "Bearer dave"),
			wantName: "dave",
		},
		{
			name:    "wrong key of the same length",
			md:      metadata.Pairs("authorization", "Bearer "+strings.Repeat("x", len(aliceSecret))),
			wantMsg: "invalid API key",
		},
		{
			name:    "key differing in its last byte",
			md:      metadata.Pairs("authorization", "Bearer "+aliceSecret[:len(aliceSecret)-1]+"0"),
			wantMsg: "invalid API key",
		},
		{
			name:    "the hash instead of the key",
			md:      metadata.Pairs("authorization", "Bearer "+hashHex(aliceSecret)),
			wantMsg: "invalid API key",
		},
		{name: "missing header", md: metadata.MD{}, wantMsg: "missing bearer token"},
		{name: "nil metadata", md: nil, wantMsg: "missing bearer token"},
		{name: "basic scheme", md: metadata.Pairs("authorization", "Basic YWxpY2U6c2VjcmV0"), wantMsg: "missing bearer token"},
		{name: "bare key", md: metadata.Pairs("authorization", aliceSecret), wantMsg: "missing bearer token"},
		{name: "empty token", md: metadata.Pairs("authorization", "Bearer "), wantMsg: "missing bearer token"},
		{name: "blank token", md: metadata.Pairs("authorization", "Bearer    "), wantMsg: "missing bearer token"},
		{
			name:    "two authorization headers",
			md:      metadata.Pairs("authorization", "Bearer "+aliceSecret, "authorization", "Bearer "+bobSecret),
			wantMsg: "more than one authorization header",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), tc.md))
			if tc.wantMsg != "" {
				if p != nil {
					t.Errorf("got principal %+v; want none", p)
				}
				st, _ := status.FromError(err)
				if st.Code() != codes.Unauthenticated || st.Message() != tc.wantMsg {
					t.Fatalf("err = %v; want UNAUTHENTICATED %q", err, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if p.Name != tc.wantName || !slices.Equal(p.Groups, tc.wantGroups) || !slices.Equal(p.Roles, tc.wantRoles) {
				t.Fatalf("principal = %+v; want name %q groups %v roles %v", p, tc.wantName, tc.wantGroups, tc.wantRoles)
			}
		})
	}
}

func TestAPIKeysReturnsIndependentPrincipals(t *testing.T) {
	a := testAPIKeys(t)
	md := metadata.Pairs("authorization", "Bearer "+aliceSecret)
	p1, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), md))
	if err != nil {
		t.Fatal(err)
	}
	p1.Roles[0] = Admin
	p1.Groups[0] = "platform-admins"
	p2, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), md))
	if err != nil {
		t.Fatal(err)
	}
	if p2.HasRole(Admin) || p2.Groups[0] != "data-eng" {
		t.Fatalf("changing one principal changed the next: %+v", p2)
	}
}

func TestNewAPIKeysCopiesInput(t *testing.T) {
	groups := []string{"data-eng"}
	roles := RoleMap{Engineer: {"data-eng"}}
	a, err := NewAPIKeys([]Key{{Name: "alice", SHA256: HashKey("k"), Groups: groups}}, roles)
	if err != nil {
		t.Fatal(err)
	}
	groups[0] = "platform-admins"
	roles[Admin] = []string{"data-eng"}
	p, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer k")))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Groups, []string{"data-eng"}) || !slices.Equal(p.Roles, []Role{Engineer}) {
		t.Fatalf("principal = %+v; want the groups and roles as configured", p)
	}
}

func TestNewAPIKeysErrors(t *testing.T) {
	h := HashKey("k")
	tests := []struct {
		name  string
		keys  []Key
		roles RoleMap
		want  string
	}{
		{name: "no keys", want: "no keys configured"},
		{name: "empty name", keys: []Key{{SHA256: h}}, want: "key 0 has no name"},
		{
			name: "duplicate name",
			keys: []Key{{Name: "a", SHA256: h}, {Name: "a", SHA256: HashKey("other")}},
			want: `duplicate key name "a"`,
		},
		{
			name: "duplicate hash",
			keys: []Key{{Name: "a", SHA256: h}, {Name: "b", SHA256: h}},
			want: `keys "a" and "b" have the same hash`,
		},
		{
			name:  "unknown role",
			keys:  []Key{{Name: "a", SHA256: h}},
			roles: RoleMap{"root": {"g"}},
			want:  `unknown role "root"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAPIKeys(tc.keys, tc.roles)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRolesFor(t *testing.T) {
	m := testRoles()
	m[Steward] = append(m[Steward], "data-eng") // one group may hold several roles
	tests := []struct {
		groups []string
		want   []Role
	}{
		{nil, nil},
		{[]string{"nobody"}, nil},
		{[]string{"analysts"}, []Role{Analyst}},
		{[]string{"audit", "platform-admins"}, []Role{Admin, Auditor}},
		{[]string{"data-eng"}, []Role{Steward, Engineer}},
		{[]string{"data-eng", "governance", "analysts"}, []Role{Steward, Engineer, Analyst}},
	}
	for _, tc := range tests {
		if got := m.RolesFor(tc.groups); !slices.Equal(got, tc.want) {
			t.Errorf("RolesFor(%v) = %v, want %v", tc.groups, got, tc.want)
		}
	}
}

func TestLocalIsAdmin(t *testing.T) {
	for _, md := range []metadata.MD{nil, metadata.Pairs("authorization", "Bearer whatever")} {
		p, err := Local{}.Authenticate(metadata.NewIncomingContext(context.Background(), md))
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != LocalPrincipalName || !p.HasRole(Admin) {
			t.Fatalf("Local principal = %+v; want %q with the admin role", p, LocalPrincipalName)
		}
		for _, m := range Methods() {
			if err := Authorize(m, p); err != nil {
				t.Errorf("local admin may not call %s: %v", m, err)
			}
		}
	}
}

// BenchmarkAuthenticate shows the cost of a call with many keys; it compares
// with every stored hash whether or not the key matches.
func BenchmarkAuthenticate(b *testing.B) {
	keys := make([]Key, 100)
	for i := range keys {
		keys[i] = Key{Name: string(rune('a'+i%26)) + strings.Repeat("x", i), SHA256: HashKey(strings.Repeat("k", i+1))}
	}
	a, err := NewAPIKeys(keys, nil)
	if err != nil {
		b.Fatal(err)
	}
	md := metadata.Pairs("authorization", "Bearer k")
	for b.Loop() {
		if _, err := a.Authenticate(metadata.NewIncomingContext(context.Background(), md)); err != nil {
			b.Fatal(err)
		}
	}
}
