package auth

import (
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Full-method prefixes of lakeplane's services.
const (
	ingestSvc  = "/lakeplane.v1.IngestService/"
	qualitySvc = "/lakeplane.v1.QualityService/"
	grantsSvc  = "/lakeplane.v1.GrantsService/"
	costSvc    = "/lakeplane.v1.CostReportService/"
	storageSvc = "/lakeplane.v1.StorageService/"
)

// policy is the one authorization table: full gRPC method name -> the roles,
// besides Admin, that may call it. Admin may call every method listed here.
// A method missing from the table is denied to everyone, Admin included
// (fail closed): a new RPC is unreachable until someone decides here who may
// call it. The public methods of IsPublic are not listed; they need no
// authentication at all.
//
// Reasoning:
//   - Reading metadata (datasets, snapshots, jobs, suites, validations, the
//     grade scale, tags, grants, access checks) is open to every role: it
//     shows names and settings, never row values.
//   - PreviewRows shows row values, so it is for the roles that work with
//     data (engineer, steward, analyst); which columns come back is decided
//     by the caller's grades elsewhere. Auditors audit the log, not the rows.
//   - Changing datasets and their data (create/update/delete, ingest,
//     optimize, expire, cancel a job), quality suites and validation runs, and
//     storage chores are for engineers and stewards.
//   - Storage calls that destroy or move objects outside any dataset
//     (DeletePrefix, MoveObjects) and cost-side actions (recording usage,
//     stopping notebooks) are for engineers only.
//   - Governance (tag keys, tags, group grants, Lake Formation sync) and the
//     privacy operations (EraseSubjects, SeparateRecords) are for stewards.
//   - The audit log is read and verified by auditors and stewards.
//   - Cost reports and recommendations are for everyone but analysts.
var policy = map[string][]Role{
	// IngestService
	ingestSvc + "CreateDataset":   {Engineer, Steward},
	ingestSvc + "GetDataset":      {Steward, Engineer, Analyst, Auditor},
	ingestSvc + "ListDatasets":    {Steward, Engineer, Analyst, Auditor},
	ingestSvc + "UpdateDataset":   {Engineer, Steward},
	ingestSvc + "DeleteDataset":   {Engineer, Steward},
	ingestSvc + "PreviewRows":     {Engineer, Steward, Analyst},
	ingestSvc + "ListSnapshots":   {Steward, Engineer, Analyst, Auditor},
	ingestSvc + "StartIngest":     {Engineer, Steward},
	ingestSvc + "OptimizeDataset": {Engineer, Steward},
	ingestSvc + "ExpireSnapshots": {Engineer, Steward},
	ingestSvc + "SeparateRecords": {Steward},
	ingestSvc + "EraseSubjects":   {Steward},
	ingestSvc + "GetJob":          {Steward, Engineer, Analyst, Auditor},
	ingestSvc + "ListJobs":        {Steward, Engineer, Analyst, Auditor},
	ingestSvc + "CancelJob":       {Engineer, Steward},
	ingestSvc + "WatchJob":        {Steward, Engineer, Analyst, Auditor},

	// QualityService
	qualitySvc + "CreateSuite":     {Engineer, Steward},
	qualitySvc + "GetSuite":        {Steward, Engineer, Analyst, Auditor},
	qualitySvc + "ListSuites":      {Steward, Engineer, Analyst, Auditor},
	qualitySvc + "UpdateSuite":     {Engineer, Steward},
	qualitySvc + "DeleteSuite":     {Engineer, Steward},
	qualitySvc + "ValidateObject":  {Engineer, Steward},
	qualitySvc + "ValidateDataset": {Engineer, Steward},
	qualitySvc + "GetValidation":   {Steward, Engineer, Analyst, Auditor},
	qualitySvc + "ListValidations": {Steward, Engineer, Analyst, Auditor},

	// GrantsService
	grantsSvc + "GetGradeScale":        {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "CreateTagKey":         {Steward},
	grantsSvc + "ListTagKeys":          {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "DeleteTagKey":         {Steward},
	grantsSvc + "AssignTags":           {Steward},
	grantsSvc + "RemoveTags":           {Steward},
	grantsSvc + "ListResourceTags":     {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "CreateGroupGrant":     {Steward},
	grantsSvc + "ListGroupGrants":      {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "DeleteGroupGrant":     {Steward},
	grantsSvc + "ResolveGrant":         {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "CheckAccess":          {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "BatchCheckAccess":     {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "ListAccessibleTables": {Steward, Engineer, Analyst, Auditor},
	grantsSvc + "PlanSync":             {Steward},
	grantsSvc + "ApplySync":            {Steward},
	grantsSvc + "ListAuditEvents":      {Auditor, Steward},
	grantsSvc + "VerifyAuditLog":       {Auditor, Steward},

	// CostReportService
	costSvc + "ImportUsage":         {Engineer},
	costSvc + "RecordUsage":         {Engineer},
	costSvc + "GetCostReport":       {Steward, Engineer, Auditor},
	costSvc + "ListRecommendations": {Steward, Engineer, Auditor},
	costSvc + "StopIdleNotebooks":   {Engineer},

	// StorageService
	storageSvc + "ListObjects":    {Engineer, Steward},
	storageSvc + "DeletePrefix":   {Engineer},
	storageSvc + "MoveObjects":    {Engineer},
	storageSvc + "CountLines":     {Engineer, Steward},
	storageSvc + "Grep":           {Engineer, Steward},
	storageSvc + "DiscoverSchema": {Engineer, Steward},
}

// IsPublic reports whether method (a full gRPC method name) may be called
// without authentication: the standard health and reflection services.
func IsPublic(method string) bool {
	for _, prefix := range [...]string{
		"/grpc.health.v1.Health/",
		"/grpc.reflection.v1.ServerReflection/",
		"/grpc.reflection.v1alpha.ServerReflection/",
	} {
		if strings.HasPrefix(method, prefix) {
			return true
		}
	}
	return false
}

// AllowedRoles returns the roles that may call method, Admin first, and
// whether method is in the policy table at all. The slice is a copy.
func AllowedRoles(method string) ([]Role, bool) {
	roles, ok := policy[method]
	if !ok {
		return nil, false
	}
	return append([]Role{Admin}, roles...), true
}

// Methods returns the full names of all methods in the policy table, sorted.
func Methods() []string {
	methods := make([]string, 0, len(policy))
	for m := range policy {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	return methods
}

// Authorize returns nil if p may call method, a status error with code
// PERMISSION_DENIED naming the method and the roles that may call it if not,
// or one with code UNAUTHENTICATED if there is no principal. Public methods
// are always allowed.
func Authorize(method string, p *Principal) error {
	if IsPublic(method) {
		return nil
	}
	if p == nil {
		return status.Errorf(codes.Unauthenticated, "%s requires authentication", method)
	}
	roles, ok := policy[method]
	if !ok {
		return status.Errorf(codes.PermissionDenied,
			"%s is not in the authorization policy, so no one may call it", method)
	}
	if p.HasRole(Admin) || slices.ContainsFunc(roles, p.HasRole) {
		return nil
	}
	allowed, _ := AllowedRoles(method)
	return status.Errorf(codes.PermissionDenied,
		"%s may be called only by roles %v; principal %q has roles %v",
		method, allowed, p.Name, p.Roles)
}
