package auth

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeStream is a grpc.ServerStream with only a context.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

// authnFunc adapts a function to Authenticator.
type authnFunc func(context.Context) (*Principal, error)

func (f authnFunc) Authenticate(ctx context.Context) (*Principal, error) {
	return f(ctx)
}

func incoming(pairs ...string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(pairs...))
}

func TestInterceptors(t *testing.T) {
	keys, err := NewAPIKeys([]Key{
		{Name: "eve", SHA256: HashKey("eve-key"), Groups: []string{"data-eng"}},
		{Name: "ann", SHA256: HashKey("ann-key"), Groups: []string{"analysts"}},
	}, testRoles())
	if err != nil {
		t.Fatal(err)
	}
	createDataset := fullMethod("IngestService", "CreateDataset")
	tests := []struct {
		name     string
		authn    Authenticator
		ctx      context.Context
		method   string
		wantCode codes.Code
		wantName string // principal the handler sees; "" for none
	}{
		{
			name: "allowed", authn: keys, ctx: incoming("authorization", "Bearer eve-key"),
			method: createDataset, wantCode: codes.OK, wantName: "eve",
		},
		{
			name: "wrong role", authn: keys, ctx: incoming("authorization", "Bearer ann-key"),
			method: createDataset, wantCode: codes.PermissionDenied,
		},
		{
			name: "wrong key", authn: keys, ctx: incoming("authorization", "Bearer nope"),
			method: createDataset, wantCode: codes.Unauthenticated,
		},
		{
			name: "no metadata", authn: keys, ctx: context.Background(),
			method: createDataset, wantCode: codes.Unauthenticated,
		},
		{
			name: "unknown method", authn: keys, ctx: incoming("authorization", "Bearer eve-key"),
			method: fullMethod("IngestService", "Nope"), wantCode: codes.PermissionDenied,
		},
		{
			name: "public method without credentials", authn: keys, ctx: context.Background(),
			method: "/grpc.health.v1.Health/Check", wantCode: codes.OK,
		},
		{
			name: "local admin", authn: Local{}, ctx: context.Background(),
			method: fullMethod("GrantsService", "ApplySync"), wantCode: codes.OK, wantName: LocalPrincipalName,
		},
		{
			name: "plain error is hidden",
			authn: authnFunc(func(context.Context) (*Principal, error) {
				return nil, errors.New("identity provider at 10.0.0.7 unreachable")
			}),
			ctx: context.Background(), method: createDataset, wantCode: codes.Unauthenticated,
		},
		{
			name: "status error passes through",
			authn: authnFunc(func(context.Context) (*Principal, error) {
				return nil, status.Error(codes.Unavailable, "try later")
			}),
			ctx: context.Background(), method: createDataset, wantCode: codes.Unavailable,
		},
		{
			name: "nil principal without error",
			authn: authnFunc(func(context.Context) (*Principal, error) {
				return nil, nil
			}),
			ctx: context.Background(), method: createDataset, wantCode: codes.Unauthenticated,
		},
	}
	for _, tc := range tests {
		unary, stream := Interceptors(tc.authn)
		check := func(t *testing.T, ctx context.Context, called bool, err error) {
			t.Helper()
			if code := status.Code(err); code != tc.wantCode {
				t.Fatalf("code = %v (%v); want %v", code, err, tc.wantCode)
			}
			if called != (tc.wantCode == codes.OK) {
				t.Fatalf("handler called = %v; want %v", called, tc.wantCode == codes.OK)
			}
			if !called {
				return
			}
			p, ok := FromContext(ctx)
			if tc.wantName == "" {
				if ok {
					t.Fatalf("handler got principal %+v; want none", p)
				}
				return
			}
			if !ok || p.Name != tc.wantName {
				t.Fatalf("handler got principal %+v, %v; want %q", p, ok, tc.wantName)
			}
		}
		t.Run(tc.name+"/unary", func(t *testing.T) {
			var called bool
			var seen context.Context
			resp, err := unary(tc.ctx, "req", &grpc.UnaryServerInfo{FullMethod: tc.method},
				func(ctx context.Context, req any) (any, error) {
					called, seen = true, ctx
					return "resp", nil
				})
			check(t, seen, called, err)
			if called && resp != "resp" {
				t.Fatalf("resp = %v; want the handler's", resp)
			}
		})
		t.Run(tc.name+"/stream", func(t *testing.T) {
			var called bool
			var seen context.Context
			err := stream(nil, &fakeStream{ctx: tc.ctx}, &grpc.StreamServerInfo{FullMethod: tc.method},
				func(srv any, ss grpc.ServerStream) error {
					called, seen = true, ss.Context()
					return nil
				})
			check(t, seen, called, err)
		})
	}
}
