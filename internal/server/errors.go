package server

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// serviceAreas names the area of the lake each service belongs to, for
// UNIMPLEMENTED answers that say which part of the product is missing.
var serviceAreas = map[string]string{
	"lakeplane.v1.IngestService":     "ingest",
	"lakeplane.v1.QualityService":    "quality",
	"lakeplane.v1.GrantsService":     "grants",
	"lakeplane.v1.CostReportService": "cost",
	"lakeplane.v1.StorageService":    "storage",
}

// unimplemented rewrites the generated "method X not implemented" status to
// name the service, the method and the area still to come.
func unimplemented(fullMethod string) *status.Status {
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	area, ok := serviceAreas[service]
	if !ok {
		return status.New(codes.Unimplemented, fmt.Sprintf("%s is not implemented", fullMethod))
	}
	short := strings.TrimPrefix(service, "lakeplane.v1.")
	return status.New(codes.Unimplemented, fmt.Sprintf("%s.%s is not implemented yet: the %s area of lakeplane is still being built", short, method, area))
}
