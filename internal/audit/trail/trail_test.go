package trail

import (
	"testing"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"google.golang.org/protobuf/proto"
)

func TestMutating(t *testing.T) {
	for method, want := range map[string]bool{
		"/lakeplane.v1.IngestService/CreateDataset":     true,
		"/lakeplane.v1.IngestService/StartIngest":       true,
		"/lakeplane.v1.StorageService/DeletePrefix":     true,
		"/lakeplane.v1.QualityService/ValidateObject":   true,
		"/lakeplane.v1.IngestService/GetDataset":        false,
		"/lakeplane.v1.IngestService/ListJobs":          false,
		"/lakeplane.v1.GrantsService/CheckAccess":       false,
		"/lakeplane.v1.GrantsService/BatchCheckAccess":  false,
		"/lakeplane.v1.GrantsService/VerifyAuditLog":    false,
		"/lakeplane.v1.StorageService/Grep":             false,
		"/grpc.health.v1.Health/Check":                  false,
		"/grpc.reflection.v1.ServerReflection/Whatever": false,
	} {
		if got := Mutating(method); got != want {
			t.Errorf("Mutating(%s) = %v, want %v", method, got, want)
		}
	}
}

func TestResourceOf(t *testing.T) {
	tests := []struct {
		req  proto.Message
		want string
	}{
		{&lakeplanev1.DeleteDatasetRequest{Id: "a.b"}, "a.b"},
		{&lakeplanev1.CreateDatasetRequest{Dataset: &lakeplanev1.Dataset{Id: "a.c"}}, "a.c"},
		{&lakeplanev1.StartIngestRequest{Id: "a.d", SourceUri: "file:///x"}, "a.d"},
		{&lakeplanev1.AssignTagsRequest{Resource: &lakeplanev1.Resource{Database: "db", Table: "t", Column: "c"}}, "db.t.c"},
		{&lakeplanev1.DeletePrefixRequest{Uri: "s3://b/p/"}, "s3://b/p/"},
		{&lakeplanev1.CreateSuiteRequest{Suite: &lakeplanev1.Suite{Name: "basic"}}, "basic"},
		{&lakeplanev1.EraseSubjectsRequest{SubjectIds: []string{"x"}}, ""},
	}
	for _, tt := range tests {
		if got := resourceOf(tt.req.ProtoReflect()); got != tt.want {
			t.Errorf("resourceOf(%T) = %q, want %q", tt.req, got, tt.want)
		}
	}
}
