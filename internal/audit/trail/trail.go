// Package trail writes and reads the audit trail at the gRPC edge: an
// interceptor records every mutating call as an audit.Event after it ends,
// and the GrantsService calls ListAuditEvents and VerifyAuditLog read it.
package trail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/lakeplane/lakeplane/internal/audit"
	"github.com/lakeplane/lakeplane/internal/auth"
	"github.com/lakeplane/lakeplane/internal/errcode"
	"github.com/lakeplane/lakeplane/internal/store"
)

// readOnlyVerbs start the names of the methods that change nothing; every
// other method of the lakeplane services is audited.
var readOnlyVerbs = []string{"Get", "List", "Check", "BatchCheck", "Resolve", "Watch", "Preview", "Verify", "Count", "Grep", "Discover", "Plan"}

// Mutating reports whether a full gRPC method name is a lakeplane call that
// changes state (and so is audited).
func Mutating(fullMethod string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok || !strings.HasPrefix(service, "lakeplane.") {
		return false
	}
	for _, verb := range readOnlyVerbs {
		if strings.HasPrefix(method, verb) {
			return false
		}
	}
	return true
}

// ReadOnly reports whether a full gRPC method name is a call that changes
// nothing: every method Mutating is not, other services' (such as health
// checks) included.
func ReadOnly(fullMethod string) bool { return !Mutating(fullMethod) }

// Recorder appends audit events.
type Recorder struct {
	store  store.Audit
	logger *slog.Logger
}

// NewRecorder returns a Recorder over the store.
func NewRecorder(s store.Audit, logger *slog.Logger) *Recorder {
	return &Recorder{store: s, logger: logger}
}

// UnaryInterceptor records each mutating unary call once it has ended, with
// its outcome. It sits after authentication, so the principal is known.
func (r *Recorder) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if Mutating(info.FullMethod) {
			r.record(ctx, info.FullMethod, req, err)
		}
		return resp, err
	}
}

func (r *Recorder) record(ctx context.Context, method string, req any, callErr error) {
	// The errors interceptor below this one has made callErr a status.
	e := &audit.Event{Method: method, Outcome: errcode.Name(status.Code(callErr))}
	if p, ok := auth.FromContext(ctx); ok {
		e.Principal, e.Groups = p.Name, p.Groups
	}
	if m, ok := req.(proto.Message); ok {
		e.Resource = resourceOf(m.ProtoReflect())
		if body, err := (proto.MarshalOptions{Deterministic: true}).Marshal(m); err == nil {
			sum := sha256.Sum256(body)
			e.RequestDigest = hex.EncodeToString(sum[:])
		}
	}
	// The call has ended; its record must not depend on the caller waiting.
	if _, err := r.store.AppendAuditEvent(context.WithoutCancel(ctx), e); err != nil {
		r.logger.ErrorContext(ctx, "audit event not recorded", "method", method, "principal", e.Principal, "resource", e.Resource, "error", err)
	}
}

// resourceOf finds what a request is about: its id, name, dataset, URI,
// group or key, looking one level into the resource message it carries.
func resourceOf(m protoreflect.Message) string {
	for _, name := range []protoreflect.Name{"id", "name", "dataset", "source_uri", "uri", "prefix_uri", "group", "key", "plan_id"} {
		if f := m.Descriptor().Fields().ByName(name); f != nil && f.Kind() == protoreflect.StringKind && !f.IsList() {
			if v := m.Get(f).String(); v != "" {
				return v
			}
		}
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		if f.Kind() != protoreflect.MessageKind || f.IsList() || f.IsMap() || !m.Has(f) {
			continue
		}
		inner := m.Get(f).Message()
		if f.Name() == "resource" {
			return joinResource(inner)
		}
		if v := resourceOf(inner); v != "" {
			return v
		}
	}
	return ""
}

// joinResource renders a grants Resource as database[.table[.column]].
func joinResource(m protoreflect.Message) string {
	var parts []string
	for _, name := range []protoreflect.Name{"database", "table", "column"} {
		if f := m.Descriptor().Fields().ByName(name); f != nil {
			if v := m.Get(f).String(); v != "" {
				parts = append(parts, v)
			}
		}
	}
	return strings.Join(parts, ".")
}
