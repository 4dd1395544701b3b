package auth

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// apiMethods returns every RPC of the public API (shared/API.md), by service.
func apiMethods() map[string][]string {
	return map[string][]string{
		"IngestService": {
			"CreateDataset", "GetDataset", "ListDatasets", "UpdateDataset", "DeleteDataset",
			"PreviewRows", "ListSnapshots", "StartIngest", "OptimizeDataset", "ExpireSnapshots",
			"SeparateRecords", "EraseSubjects", "GetJob", "ListJobs", "CancelJob", "WatchJob",
		},
		"QualityService": {
			"CreateSuite", "GetSuite", "ListSuites", "UpdateSuite", "DeleteSuite",
			"ValidateObject", "ValidateDataset", "GetValidation", "ListValidations",
		},
		"GrantsService": {
			"GetGradeScale", "CreateTagKey", "ListTagKeys", "DeleteTagKey", "AssignTags",
			"RemoveTags", "ListResourceTags", "CreateGroupGrant", "ListGroupGrants",
			"DeleteGroupGrant", "ResolveGrant", "CheckAccess", "BatchCheckAccess",
			"ListAccessibleTables", "PlanSync", "ApplySync", "ListAuditEvents", "VerifyAuditLog",
		},
		"CostReportService": {
			"ImportUsage", "RecordUsage", "GetCostReport", "ListRecommendations", "StopIdleNotebooks",
		},
		"StorageService": {
			"ListObjects", "DeletePrefix", "MoveObjects", "CountLines", "Grep", "DiscoverSchema",
		},
	}
}

func fullMethod(service, method string) string {
	return "/lakeplane.v1." + service + "/" + method
}

func TestEveryAPIMethodIsInPolicy(t *testing.T) {
	listed := 0
	for service, methods := range apiMethods() {
		for _, m := range methods {
			listed++
			name := fullMethod(service, m)
			roles, ok := AllowedRoles(name)
			if !ok {
				t.Errorf("%s is missing from the policy table", name)
				continue
			}
			if roles[0] != Admin {
				t.Errorf("%s: AllowedRoles = %v; want admin first", name, roles)
			}
		}
	}
	if n := len(Methods()); n != listed {
		t.Errorf("policy table has %d methods, the API lists %d", n, listed)
	}
}

func TestPolicyTableIsWellFormed(t *testing.T) {
	name := regexp.MustCompile(`^/lakeplane\.v1\.[A-Z][A-Za-z]*Service/[A-Z][A-Za-z]*$`)
	for _, m := range Methods() {
		if !name.MatchString(m) {
			t.Errorf("%q is not a full lakeplane.v1 method name", m)
		}
		roles := policy[m]
		if len(roles) == 0 {
			t.Errorf("%s: no role besides admin may call it", m)
		}
		for i, r := range roles {
			if _, err := ParseRole(string(r)); err != nil {
				t.Errorf("%s: %v", m, err)
			}
			if r == Admin {
				t.Errorf("%s: admin is implicit and should not be listed", m)
			}
			if slices.Contains(roles[:i], r) {
				t.Errorf("%s: role %s listed twice", m, r)
			}
		}
	}
}

// TestPolicyDecisions pins the decisions that matter most, so that a change
// to the table is a deliberate one.
func TestPolicyDecisions(t *testing.T) {
	tests := []struct {
		method string
		role   Role
		want   bool
	}{
		{fullMethod("IngestService", "ListDatasets"), Analyst, true},
		{fullMethod("IngestService", "ListDatasets"), Auditor, true},
		{fullMethod("IngestService", "PreviewRows"), Analyst, true},
		{fullMethod("IngestService", "PreviewRows"), Auditor, false},
		{fullMethod("IngestService", "CreateDataset"), Engineer, true},
		{fullMethod("IngestService", "CreateDataset"), Analyst, false},
		{fullMethod("IngestService", "EraseSubjects"), Steward, true},
		{fullMethod("IngestService", "EraseSubjects"), Engineer, false},
		{fullMethod("IngestService", "SeparateRecords"), Engineer, false},
		{fullMethod("IngestService", "WatchJob"), Auditor, true},
		{fullMethod("QualityService", "ValidateDataset"), Analyst, false},
		{fullMethod("GrantsService", "CreateGroupGrant"), Steward, true},
		{fullMethod("GrantsService", "CreateGroupGrant"), Engineer, false},
		{fullMethod("GrantsService", "ApplySync"), Engineer, false},
		{fullMethod("GrantsService", "CheckAccess"), Analyst, true},
		{fullMethod("GrantsService", "ListAuditEvents"), Auditor, true},
		{fullMethod("GrantsService", "ListAuditEvents"), Engineer, false},
		{fullMethod("GrantsService", "VerifyAuditLog"), Analyst, false},
		{fullMethod("CostReportService", "GetCostReport"), Auditor, true},
		{fullMethod("CostReportService", "GetCostReport"), Analyst, false},
		{fullMethod("StorageService", "DeletePrefix"), Engineer, true},
		{fullMethod("StorageService", "DeletePrefix"), Steward, false},
		{fullMethod("StorageService", "MoveObjects"), Steward, false},
		{fullMethod("StorageService", "Grep"), Analyst, false},
	}
	for _, tc := range tests {
		p := &Principal{Name: "p", Roles: []Role{tc.role}}
		err := Authorize(tc.method, p)
		if got := err == nil; got != tc.want {
			t.Errorf("Authorize(%s, %s) = %v; want allowed=%v", tc.method, tc.role, err, tc.want)
		}
	}
}

func TestAdminMayCallEveryListedMethod(t *testing.T) {
	admin := &Principal{Name: "root", Roles: []Role{Admin}}
	for _, m := range Methods() {
		if err := Authorize(m, admin); err != nil {
			t.Errorf("Authorize(%s, admin) = %v", m, err)
		}
	}
}

func TestAuthorizeDenied(t *testing.T) {
	method := fullMethod("GrantsService", "ApplySync")
	err := Authorize(method, &Principal{Name: "alice", Roles: []Role{Engineer, Analyst}})
	st, _ := status.FromError(err)
	if st.Code() != codes.PermissionDenied {
		t.Fatalf("err = %v; want PERMISSION_DENIED", err)
	}
	for _, want := range []string{method, "admin", "steward", `"alice"`} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("message %q does not name %q", st.Message(), want)
		}
	}
}

func TestUnknownMethodDenied(t *testing.T) {
	everyone := &Principal{Name: "all", Roles: AllRoles()}
	for _, m := range []string{
		fullMethod("IngestService", "DropEverything"),
		"/lakeplane.v2.IngestService/ListDatasets",
		"/lakeplane.v1.IngestService/listDatasets",
		"/grpc.health.v1.Healthy/Check",
		"",
		"ListDatasets",
	} {
		err := Authorize(m, everyone)
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("Authorize(%q) = %v; want PERMISSION_DENIED", m, err)
		}
	}
}

func TestPublicMethods(t *testing.T) {
	for _, m := range []string{
		"/grpc.health.v1.Health/Check",
		"/grpc.health.v1.Health/Watch",
		"/grpc.health.v1.Health/List",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	} {
		if !IsPublic(m) {
			t.Errorf("IsPublic(%q) = false", m)
		}
		if err := Authorize(m, nil); err != nil {
			t.Errorf("Authorize(%q, nil) = %v; want nil", m, err)
		}
	}
	for _, m := range Methods() {
		if IsPublic(m) {
			t.Errorf("IsPublic(%q) = true", m)
		}
	}
}

func TestAuthorizeWithoutPrincipal(t *testing.T) {
	err := Authorize(fullMethod("IngestService", "ListDatasets"), nil)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("err = %v; want UNAUTHENTICATED", err)
	}
}

func TestAllowedRolesReturnsCopy(t *testing.T) {
	m := fullMethod("GrantsService", "ApplySync")
	roles, _ := AllowedRoles(m)
	roles[1] = Analyst
	if err := Authorize(m, &Principal{Roles: []Role{Analyst}}); err == nil {
		t.Fatal("changing AllowedRoles' result changed the policy")
	}
}
