package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestQuietCallsLogSuccessAtDebug checks the levels of the call log: a
// successful call of a quiet method is logged at debug level only, its
// failures and every call of another method as before.
func TestQuietCallsLogSuccessAtDebug(t *testing.T) {
	quiet := func(m string) bool { return strings.HasSuffix(m, "/CheckAccess") }
	cases := []struct {
		method string
		err    error
		level  slog.Level // the logger's level
		want   string     // the line's level; "" for no line
	}{
		{"/lakeplane.v1.GrantsService/CheckAccess", nil, slog.LevelInfo, ""},
		{"/lakeplane.v1.GrantsService/CheckAccess", nil, slog.LevelDebug, "DEBUG"},
		{"/lakeplane.v1.GrantsService/CheckAccess", status.Error(codes.InvalidArgument, "bad table"), slog.LevelInfo, "WARN"},
		{"/lakeplane.v1.GrantsService/CheckAccess", status.Error(codes.Internal, "boom"), slog.LevelInfo, "ERROR"},
		{"/lakeplane.v1.GrantsService/CreateGroupGrant", nil, slog.LevelInfo, "INFO"},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: c.level}))
		intercept := loggingUnary(logger, quiet)
		_, err := intercept(withRequestID(context.Background()), nil, &grpc.UnaryServerInfo{FullMethod: c.method},
			func(context.Context, any) (any, error) { return nil, c.err })
		if err != c.err {
			t.Fatalf("%s: the interceptor returned %v, want the handler's %v", c.method, err, c.err)
		}
		if c.want == "" {
			if buf.Len() != 0 {
				t.Errorf("%s (%v) at logger level %v logged %s, want nothing", c.method, c.err, c.level, buf.String())
			}
			continue
		}
		var line struct {
			Level, Msg, Method, Code, Error string
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%s (%v): log %q: %v", c.method, c.err, buf.String(), err)
		}
		if line.Level != c.want || line.Method != c.method || line.Code != status.Code(c.err).String() {
			t.Errorf("%s (%v) logged %+v, want level %s", c.method, c.err, line, c.want)
		}
		if c.want == "WARN" && line.Error != "bad table" {
			t.Errorf("a warning logged error %q, want the status message", line.Error)
		}
	}
}

// TestNewRequestIDIsUUIDv4 checks that the ids made for calls without one
// are distinct version 4 UUIDs.
func TestNewRequestIDIsUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for range 10_000 {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || len(id) != 36 {
			t.Fatalf("request id %q: version %v, variant %v, err %v; want a version 4 UUID", id, u.Version(), u.Variant(), err)
		}
		if seen[id] {
			t.Fatalf("request id %q made twice", id)
		}
		seen[id] = true
	}
}
