package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/auth"
)

func TestUnimplementedNamesTheArea(t *testing.T) {
	st := unimplemented("/lakeplane.v1.CostReportService/GetCostReport")
	if st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "CostReportService.GetCostReport") || !strings.Contains(st.Message(), "cost area") {
		t.Fatalf("got %v", st)
	}
}

// Every RPC of the generated contract must have a row in the role table,
// so that a new RPC cannot ship unreachable or, worse, unguarded.
func TestEveryGeneratedMethodHasAPolicy(t *testing.T) {
	g := grpc.NewServer()
	register(g, Services{})
	var count int
	for service, info := range g.GetServiceInfo() {
		for _, m := range info.Methods {
			method := "/" + service + "/" + m.Name
			if _, ok := auth.AllowedRoles(method); !ok {
				t.Errorf("%s has no row in the role table (internal/auth/policy.go)", method)
			}
			count++
		}
	}
	want := 0
	for _, f := range []protoreflect.FileDescriptor{
		lakeplanev1.File_lakeplane_v1_ingest_proto,
		lakeplanev1.File_lakeplane_v1_quality_proto,
		lakeplanev1.File_lakeplane_v1_grants_proto,
		lakeplanev1.File_lakeplane_v1_cost_proto,
		lakeplanev1.File_lakeplane_v1_storage_proto,
	} {
		for i := 0; i < f.Services().Len(); i++ {
			want += f.Services().Get(i).Methods().Len()
		}
	}
	if count != want {
		t.Fatalf("%d methods registered, the contract has %d", count, want)
	}
}
