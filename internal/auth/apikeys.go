package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Authenticator identifies the caller of a gRPC call from the call's
// incoming metadata on ctx, reading only the entries it needs (with
// metadata.ValueFromIncomingContext: copying all of it costs more than the
// check itself). It returns a status error with code UNAUTHENTICATED when
// the credentials are missing or wrong.
type Authenticator interface {
	Authenticate(ctx context.Context) (*Principal, error)
}

// Compile-time checks that the authenticators satisfy the interface.
var (
	_ Authenticator = (*APIKeys)(nil)
	_ Authenticator = Local{}
)

// Key is one API key as configured: only the SHA-256 of the secret is kept.
type Key struct {
	// Name is the name of the principal the key authenticates.
	Name string
	// SHA256 is the SHA-256 digest of the key's secret.
	SHA256 [32]byte
	// Groups are the groups of the principal.
	Groups []string
}

// HashKey returns the SHA-256 digest of an API key's secret, the form in
// which keys are configured and stored.
func HashKey(secret string) [32]byte {
	return sha256.Sum256([]byte(secret))
}

// RoleMap says which groups hold which role.
type RoleMap map[Role][]string

// RolesFor returns the roles held by any of groups, in the order of
// AllRoles.
func (m RoleMap) RolesFor(groups []string) []Role {
	var roles []Role
	for _, r := range AllRoles() {
		for _, g := range m[r] {
			if slices.Contains(groups, g) {
				roles = append(roles, r)
				break
			}
		}
	}
	return roles
}

// validate checks that every role of m is a known one.
func (m RoleMap) validate() error {
	for r := range m {
		if _, err := ParseRole(string(r)); err != nil {
			return fmt.Errorf("role map: %w", err)
		}
	}
	return nil
}

// APIKeys authenticates callers by the API key they present as
// "authorization: Bearer <key>". It is safe for concurrent use.
type APIKeys struct {
	hashes     [][32]byte
	principals []*Principal // principals[i] is authenticated by hashes[i]
}

// NewAPIKeys returns an authenticator for keys, whose principals get the
// roles that roles grants to their groups. Key names and hashes must be
// unique and roles must name known roles; the arguments are copied.
func NewAPIKeys(keys []Key, roles RoleMap) (*APIKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("api keys: no keys configured")
	}
	if err := roles.validate(); err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	a := &APIKeys{}
	names := make(map[string]bool, len(keys))
	hashes := make(map[[32]byte]string, len(keys))
	for i, k := range keys {
		if k.Name == "" {
			return nil, fmt.Errorf("api keys: key %d has no name", i)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("api keys: duplicate key name %q", k.Name)
		}
		if other, dup := hashes[k.SHA256]; dup {
			return nil, fmt.Errorf("api keys: keys %q and %q have the same hash", other, k.Name)
		}
		names[k.Name] = true
		hashes[k.SHA256] = k.Name
		a.hashes = append(a.hashes, k.SHA256)
		a.principals = append(a.principals, &Principal{
			Name:   k.Name,
			Groups: slices.Clone(k.Groups),
			Roles:  roles.RolesFor(k.Groups),
		})
	}
	return a, nil
}

// Authenticate returns the principal of the key in the call's bearer token. The
// presented key is hashed and compared with every stored hash in constant
// time, and the loop never stops early, so neither the time taken nor the
// error says which key (if any) came close.
func (a *APIKeys) Authenticate(ctx context.Context) (*Principal, error) {
	token, err := bearerToken(metadata.ValueFromIncomingContext(ctx, "authorization"))
	if err != nil {
		return nil, err
	}
	sum := HashKey(token)
	match := -1
	for i := range a.hashes {
		eq := subtle.ConstantTimeCompare(sum[:], a.hashes[i][:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	}
	return a.principals[match].clone(), nil
}

// bearerToken returns the token of the single "authorization: Bearer <token>"
// entry, given the values of the authorization header. The scheme is matched
// case-insensitively (RFC 6750).
func bearerToken(values []string) (string, error) {
	if len(values) == 0 {
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	}
	if len(values) > 1 {
		return "", status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	const prefix = "bearer "
	v := values[0]
	if len(v) < len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	}
	token := strings.TrimSpace(v[len(prefix):])
	if token == "" {
		return "", status.Error(codes.Unauthenticated, "missing bearer token")
	}
	return token, nil
}

// LocalPrincipalName is the name of the principal Local authenticates.
const LocalPrincipalName = "local"

// Local is the authenticator of --auth=none: every caller is the principal
// "local" with the Admin role. It is meant for a server listening on loopback
// only; the configuration refuses it elsewhere unless told otherwise.
type Local struct{}

// Authenticate returns the local admin principal, whatever the call holds.
func (Local) Authenticate(context.Context) (*Principal, error) {
	return &Principal{Name: LocalPrincipalName, Roles: []Role{Admin}}, nil
}
