package auth

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Interceptors returns the unary and stream server interceptors that
// authenticate every call with authn, authorize it with Authorize and put the
// principal on the handler's context (see FromContext). Public methods (see
// IsPublic) skip both steps. Failures are status errors with code
// UNAUTHENTICATED or PERMISSION_DENIED; the handler is not called.
func Interceptors(authn Authenticator) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := check(ctx, authn, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := check(ss.Context(), authn, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
	return unary, stream
}

// check authenticates and authorizes a call of method and returns the
// context the handler should run with.
func check(ctx context.Context, authn Authenticator, method string) (context.Context, error) {
	if IsPublic(method) {
		return ctx, nil
	}
	p, err := authn.Authenticate(ctx)
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		// An authenticator's plain error may hold details meant for the
		// server's logs, not for the caller.
		return nil, status.Error(codes.Unauthenticated, "authentication failed")
	}
	if p == nil {
		return nil, status.Error(codes.Unauthenticated, "authentication failed")
	}
	if err := Authorize(method, p); err != nil {
		return nil, err
	}
	return NewContext(ctx, p), nil
}

// contextStream is a grpc.ServerStream whose Context carries the principal.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the principal on it.
func (s *contextStream) Context() context.Context { return s.ctx }
