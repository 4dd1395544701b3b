package cost

import (
	"context"
	"maps"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/cost/usage"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Handler serves CostReportService over gRPC.
type Handler struct {
	lakeplanev1.UnimplementedCostReportServiceServer
	svc *Service
}

var _ lakeplanev1.CostReportServiceServer = (*Handler)(nil)

// NewHandler returns a Handler over a Service.
func NewHandler(svc *Service) *Handler { return &Handler{svc: svc} }

// importFormats maps the request's sources to import formats.
var importFormats = map[lakeplanev1.ImportUsageRequest_Source]Format{
	lakeplanev1.ImportUsageRequest_CUR:            FormatCUR,
	lakeplanev1.ImportUsageRequest_GLUE_JOB_RUNS:  FormatGlueJobRuns,
	lakeplanev1.ImportUsageRequest_ATHENA_QUERIES: FormatAthenaQueries,
	lakeplanev1.ImportUsageRequest_SAGEMAKER:      FormatSageMaker,
}

// ImportUsage implements lakeplanev1.CostReportServiceServer.
func (h *Handler) ImportUsage(ctx context.Context, req *lakeplanev1.ImportUsageRequest) (*lakeplanev1.ImportUsageResponse, error) {
	f, ok := importFormats[req.GetSource()]
	if !ok {
		return nil, fault.Invalid("source", "must be CUR, GLUE_JOB_RUNS, ATHENA_QUERIES or SAGEMAKER, not %s", req.GetSource())
	}
	res, err := h.svc.Import(ctx, ImportRequest{Format: f, URI: req.GetUri(), SkipMalformed: req.GetSkipMalformed()})
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ImportUsageResponse{Imported: res.Imported, Skipped: res.Skipped}
	for _, e := range res.Errors {
		resp.Errors = append(resp.Errors, &lakeplanev1.ImportError{Uri: e.URI, Line: e.Line, Message: e.Message})
	}
	return resp, nil
}

// RecordUsage implements lakeplanev1.CostReportServiceServer. A record
// without a cost is priced from the price table.
func (h *Handler) RecordUsage(ctx context.Context, req *lakeplanev1.RecordUsageRequest) (*lakeplanev1.RecordUsageResponse, error) {
	p := req.GetUsageRecord()
	if p == nil {
		return nil, fault.Invalid("usageRecord", "is required")
	}
	r, price, err := recordFromProto(p)
	if err != nil {
		return nil, err
	}
	out, err := h.svc.Record(ctx, r, price)
	if err != nil {
		return nil, err
	}
	return &lakeplanev1.RecordUsageResponse{UsageRecord: recordToProto(out)}, nil
}

// GetCostReport implements lakeplanev1.CostReportServiceServer.
func (h *Handler) GetCostReport(ctx context.Context, req *lakeplanev1.GetCostReportRequest) (*lakeplanev1.GetCostReportResponse, error) {
	rr := ReportRequest{GroupBy: store.UsageGroupBy(req.GetGroupBy()), ParetoThreshold: req.GetParetoThreshold()}
	var err error
	if rr.Start, err = optionalTime("startTime", req.GetStartTime()); err != nil {
		return nil, err
	}
	if rr.End, err = optionalTime("endTime", req.GetEndTime()); err != nil {
		return nil, err
	}
	rep, err := h.svc.Report(ctx, rr)
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.GetCostReportResponse{
		Total:    usage.FormatMoney(rep.Total),
		Currency: rep.Currency,
		Pareto: &lakeplanev1.ParetoCut{
			ItemsFraction: rep.Pareto.ItemsFraction,
			CostFraction:  rep.Pareto.CostFraction,
			TopItems:      rep.Pareto.TopItems,
		},
	}
	for _, it := range rep.Items {
		resp.Items = append(resp.Items, &lakeplanev1.CostItem{Key: it.Key, Cost: usage.FormatMoney(it.Cost),
			Share: it.Share, CumulativeShare: it.CumulativeShare, Runs: it.Runs})
	}
	for _, m := range rep.Trend {
		resp.Trend = append(resp.Trend, &lakeplanev1.MonthCost{Month: m.Month, Cost: usage.FormatMoney(m.Cost), Change: m.Change})
	}
	for _, r := range rep.Recommendations {
		resp.Recommendations = append(resp.Recommendations, recommendationToProto(r))
	}
	return resp, nil
}

// recommendationToProto converts a recommendation.
func recommendationToProto(r Recommendation) *lakeplanev1.Recommendation {
	return &lakeplanev1.Recommendation{Kind: string(r.Kind), Resource: r.Resource,
		EstimatedMonthlySaving: usage.FormatMoney(r.MonthlySaving), Currency: r.Currency, Action: r.Action, Reason: r.Reason}
}

// ListRecommendations implements lakeplanev1.CostReportServiceServer: the
// recommendations for the last 30 days, most saving first, paged.
func (h *Handler) ListRecommendations(ctx context.Context, req *lakeplanev1.ListRecommendationsRequest) (*lakeplanev1.ListRecommendationsResponse, error) {
	size, err := pageSize(req.GetPageSize())
	if err != nil {
		return nil, err
	}
	recs, err := h.svc.Recommend(ctx, RecommendRequest{})
	if err != nil {
		return nil, err
	}
	page, next, err := pageRecommendations(recs, req.GetPageToken(), size)
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListRecommendationsResponse{NextPageToken: next}
	for _, r := range page {
		resp.Recommendations = append(resp.Recommendations, recommendationToProto(r))
	}
	return resp, nil
}

// StopIdleNotebooks implements lakeplanev1.CostReportServiceServer.
func (h *Handler) StopIdleNotebooks(ctx context.Context, req *lakeplanev1.StopIdleNotebooksRequest) (*lakeplanev1.StopIdleNotebooksResponse, error) {
	nbs, err := h.svc.StopIdleNotebooks(ctx, StopIdleRequest{IdleHours: req.GetIdleHours(), DryRun: req.GetDryRun()})
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.StopIdleNotebooksResponse{}
	for _, n := range nbs {
		resp.Notebooks = append(resp.Notebooks, &lakeplanev1.Notebook{Name: n.Name, InstanceType: n.InstanceType, IdleHours: n.IdleHours,
			Stopped: n.Stopped, EstimatedMonthlySaving: usage.FormatMoney(n.MonthlySaving), Currency: h.svc.Prices().Currency})
	}
	return resp, nil
}

// optionalTime converts a request timestamp; nil is the zero time.
func optionalTime(field string, ts *timestamppb.Timestamp) (t0 time.Time, err error) {
	if ts == nil {
		return t0, nil
	}
	if err := ts.CheckValid(); err != nil {
		return t0, fault.Invalid(field, "%v", err)
	}
	return ts.AsTime(), nil
}

// recordFromProto converts a request's usage record; price is true when
// its cost is empty, to be priced.
func recordFromProto(p *lakeplanev1.UsageRecord) (r *usage.Record, price bool, err error) {
	r = &usage.Record{
		ID: p.GetId(), Resource: p.GetResource(), Dataset: p.GetDataset(), Team: p.GetTeam(),
		Service: p.GetService(), Unit: p.GetUnit(), Currency: p.GetCurrency(),
		Attributes: maps.Clone(p.GetAttributes()),
	}
	if p.GetSource() == lakeplanev1.UsageRecord_SOURCE_UNSPECIFIED {
		return nil, false, fault.Invalid("usageRecord.source", "is required")
	}
	r.Source = usage.Source(p.GetSource().String())
	if !r.Source.Valid() {
		return nil, false, fault.Invalid("usageRecord.source", "%v is not a usage source", p.GetSource())
	}
	if p.GetStartTime() == nil {
		return nil, false, fault.Invalid("usageRecord.startTime", "is required")
	}
	if r.StartTime, err = optionalTime("usageRecord.startTime", p.GetStartTime()); err != nil {
		return nil, false, err
	}
	if r.EndTime, err = optionalTime("usageRecord.endTime", p.GetEndTime()); err != nil {
		return nil, false, err
	}
	if q := p.GetQuantity(); q != "" {
		if r.Quantity, err = decimal.NewFromString(q); err != nil {
			return nil, false, fault.Invalid("usageRecord.quantity", "%q is not a decimal", q)
		}
	}
	c := p.GetCost()
	if c == "" {
		return r, true, nil
	}
	if r.Cost, err = decimal.NewFromString(c); err != nil {
		return nil, false, fault.Invalid("usageRecord.cost", "%q is not a decimal", c)
	}
	if r.Currency == "" {
		return nil, false, fault.Invalid("usageRecord.currency", "is required with a cost")
	}
	return r, false, nil
}

// recordToProto converts a stored usage record.
func recordToProto(r *usage.Record) *lakeplanev1.UsageRecord {
	p := &lakeplanev1.UsageRecord{
		Id: r.ID, Source: lakeplanev1.UsageRecord_Source(lakeplanev1.UsageRecord_Source_value[string(r.Source)]),
		Resource: r.Resource, Dataset: r.Dataset, Team: r.Team, Service: r.Service,
		StartTime: timestamppb.New(r.StartTime),
		Quantity:  r.Quantity.String(), Unit: r.Unit,
		Cost: usage.FormatMoney(r.Cost), Currency: r.Currency,
		Attributes: maps.Clone(r.Attributes),
	}
	if !r.EndTime.IsZero() {
		p.EndTime = timestamppb.New(r.EndTime)
	}
	return p
}
