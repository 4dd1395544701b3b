package quality

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Handler serves QualityService over gRPC.
type Handler struct {
	lakeplanev1.UnimplementedQualityServiceServer
	svc   *Service
	store store.Quality
}

var _ lakeplanev1.QualityServiceServer = (*Handler)(nil)

// NewHandler returns a Handler over a Service and the store it lists from.
func NewHandler(svc *Service, s store.Quality) *Handler { return &Handler{svc: svc, store: s} }

func rulesOf(p *lakeplanev1.Suite) (*dqdl.Ruleset, error) {
	return SuiteRules(p.GetDqdl(), structuredFromProto(p.GetRules()))
}

func structuredFromProto(rules []*lakeplanev1.Rule) []dqdl.StructuredRule {
	var out []dqdl.StructuredRule
	for _, r := range rules {
		out = append(out, dqdl.StructuredRule{
			Type: r.GetType(), Columns: r.GetColumns(), Expression: r.GetExpression(), Threshold: r.GetThreshold(),
			Where: r.GetWhere(), All: structuredFromProto(r.GetAll()), Any: structuredFromProto(r.GetAny()),
			ReferenceDataset: r.GetReferenceDataset(), ReferenceColumns: r.GetReferenceColumns(),
		})
	}
	return out
}

func structuredToProto(rules []dqdl.StructuredRule) []*lakeplanev1.Rule {
	var out []*lakeplanev1.Rule
	for _, r := range rules {
		out = append(out, &lakeplanev1.Rule{
			Type: r.Type, Columns: r.Columns, Expression: r.Expression, Threshold: r.Threshold, Where: r.Where,
			All: structuredToProto(r.All), Any: structuredToProto(r.Any), Text: r.Text,
			ReferenceDataset: r.ReferenceDataset, ReferenceColumns: r.ReferenceColumns,
		})
	}
	return out
}

func suiteToProto(s *suite.Suite) (*lakeplanev1.Suite, error) {
	rs, err := dqdl.Parse(s.DQDL)
	if err != nil {
		return nil, fmt.Errorf("stored suite %q no longer parses: %w", s.Name, err)
	}
	return &lakeplanev1.Suite{
		Name: s.Name, Dqdl: s.DQDL, Rules: structuredToProto(dqdl.ToStructured(rs)), Description: s.Description,
		Etag: s.Etag, CreateTime: timestamppb.New(s.CreateTime), UpdateTime: timestamppb.New(s.UpdateTime),
	}, nil
}

// CreateSuite implements lakeplanev1.QualityServiceServer.
func (h *Handler) CreateSuite(ctx context.Context, req *lakeplanev1.CreateSuiteRequest) (*lakeplanev1.CreateSuiteResponse, error) {
	rs, err := rulesOf(req.GetSuite())
	if err != nil {
		return nil, err
	}
	s, err := h.svc.CreateSuite(ctx, req.GetSuite().GetName(), req.GetSuite().GetDescription(), rs)
	if err != nil {
		return nil, err
	}
	p, err := suiteToProto(s)
	return &lakeplanev1.CreateSuiteResponse{Suite: p}, err
}

// GetSuite implements lakeplanev1.QualityServiceServer.
func (h *Handler) GetSuite(ctx context.Context, req *lakeplanev1.GetSuiteRequest) (*lakeplanev1.GetSuiteResponse, error) {
	s, err := h.store.GetSuite(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	p, err := suiteToProto(s)
	return &lakeplanev1.GetSuiteResponse{Suite: p}, err
}

// ListSuites implements lakeplanev1.QualityServiceServer.
func (h *Handler) ListSuites(ctx context.Context, req *lakeplanev1.ListSuitesRequest) (*lakeplanev1.ListSuitesResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, fault.Invalid("pageSize", "must not be negative")
	}
	page, err := h.store.ListSuites(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListSuitesResponse{NextPageToken: page.NextPageToken}
	for _, s := range page.Items {
		p, err := suiteToProto(s)
		if err != nil {
			return nil, err
		}
		resp.Suites = append(resp.Suites, p)
	}
	return resp, nil
}

// UpdateSuite implements lakeplanev1.QualityServiceServer: the rules (dqdl
// or structured) and the description are replaced.
func (h *Handler) UpdateSuite(ctx context.Context, req *lakeplanev1.UpdateSuiteRequest) (*lakeplanev1.UpdateSuiteResponse, error) {
	p := req.GetSuite()
	var rs *dqdl.Ruleset
	if p.GetDqdl() != "" || len(p.GetRules()) > 0 {
		var err error
		if rs, err = rulesOf(p); err != nil {
			return nil, err
		}
	}
	s, err := h.svc.UpdateSuite(ctx, p.GetName(), p.GetDescription(), p.GetEtag(), rs)
	if err != nil {
		return nil, err
	}
	out, err := suiteToProto(s)
	return &lakeplanev1.UpdateSuiteResponse{Suite: out}, err
}

// DeleteSuite implements lakeplanev1.QualityServiceServer.
func (h *Handler) DeleteSuite(ctx context.Context, req *lakeplanev1.DeleteSuiteRequest) (*lakeplanev1.DeleteSuiteResponse, error) {
	if err := h.store.DeleteSuite(ctx, req.GetName(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &lakeplanev1.DeleteSuiteResponse{}, nil
}

// ValidateObject implements lakeplanev1.QualityServiceServer.
func (h *Handler) ValidateObject(ctx context.Context, req *lakeplanev1.ValidateObjectRequest) (*lakeplanev1.ValidateObjectResponse, error) {
	f := req.GetFormat()
	format := csvstream.Format{Header: f == nil || f.Header == nil || f.GetHeader(), NullValues: f.GetNullValues(), DateFormat: f.GetDateFormat(), TimestampFormat: f.GetTimestampFormat()}
	if d := []rune(f.GetDelimiter()); len(d) == 1 {
		format.Delimiter = d[0]
	} else if len(d) > 1 {
		return nil, fault.Invalid("format.delimiter", "%q must be one character", f.GetDelimiter())
	}
	if q := []rune(f.GetQuote()); len(q) == 1 {
		format.Quote = q[0]
	}
	if f.GetEncoding() != lakeplanev1.Encoding_ENCODING_UNSPECIFIED {
		enc, err := csvstream.EncodingFromName(f.GetEncoding().String())
		if err != nil {
			return nil, fault.Invalid("format.encoding", "%v", err)
		}
		format.Encoding = enc
	}
	v, err := h.svc.ValidateObject(ctx, req.GetName(), req.GetSourceUri(), req.GetDataset(), format)
	if err != nil {
		return nil, err
	}
	p, err := h.validationToProto(ctx, v)
	return &lakeplanev1.ValidateObjectResponse{Validation: p}, err
}

// ValidateDataset implements lakeplanev1.QualityServiceServer.
func (h *Handler) ValidateDataset(ctx context.Context, req *lakeplanev1.ValidateDatasetRequest) (*lakeplanev1.ValidateDatasetResponse, error) {
	v, err := h.svc.ValidateDataset(ctx, req.GetName(), req.GetDataset(), req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	p, err := h.validationToProto(ctx, v)
	return &lakeplanev1.ValidateDatasetResponse{Validation: p}, err
}

// GetValidation implements lakeplanev1.QualityServiceServer.
func (h *Handler) GetValidation(ctx context.Context, req *lakeplanev1.GetValidationRequest) (*lakeplanev1.GetValidationResponse, error) {
	v, err := h.store.GetValidation(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	p, err := h.validationToProto(ctx, v)
	return &lakeplanev1.GetValidationResponse{Validation: p}, err
}

// ListValidations implements lakeplanev1.QualityServiceServer.
func (h *Handler) ListValidations(ctx context.Context, req *lakeplanev1.ListValidationsRequest) (*lakeplanev1.ListValidationsResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, fault.Invalid("pageSize", "must not be negative")
	}
	opts := store.ListValidationsOptions{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(), Dataset: req.GetDataset(), Suite: req.GetSuite()}
	if req.GetOutcome() != lakeplanev1.Outcome_OUTCOME_UNSPECIFIED {
		opts.Outcome = suite.Outcome(req.GetOutcome().String())
	}
	if req.StartTime != nil {
		opts.Start = req.GetStartTime().AsTime()
	}
	if req.EndTime != nil {
		opts.End = req.GetEndTime().AsTime()
	}
	page, err := h.store.ListValidations(ctx, opts)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(page.Items))
	for i, v := range page.Items {
		ids[i] = v.ID
	}
	alerts, err := h.svc.alertDeliveries(ctx, ids...)
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListValidationsResponse{NextPageToken: page.NextPageToken}
	for _, v := range page.Items {
		p, err := ValidationToProto(v)
		if err != nil {
			return nil, err
		}
		p.Alerts = AlertDeliveriesToProto(alerts[v.ID])
		resp.Validations = append(resp.Validations, p)
	}
	return resp, nil
}

// validationToProto renders a recorded result with its alert deliveries.
func (h *Handler) validationToProto(ctx context.Context, v *suite.Validation) (*lakeplanev1.ValidationResult, error) {
	p, err := ValidationToProto(v)
	if err != nil {
		return nil, err
	}
	alerts, err := h.svc.alertDeliveries(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	p.Alerts = AlertDeliveriesToProto(alerts[v.ID])
	return p, nil
}

// AlertDeliveriesToProto renders recorded alert deliveries as the API shows
// them (without their payload).
func AlertDeliveriesToProto(ds []*store.AlertDelivery) []*lakeplanev1.AlertDelivery {
	var out []*lakeplanev1.AlertDelivery
	for _, d := range ds {
		out = append(out, &lakeplanev1.AlertDelivery{
			Sink: d.Sink, State: lakeplanev1.AlertDeliveryState(lakeplanev1.AlertDeliveryState_value[string(d.State)]),
			Attempts: int32(d.Attempts), LastError: d.LastError, Time: timestamppb.New(d.UpdateTime),
		})
	}
	return out
}

// ValidationToProto renders a recorded result as the API shows it.
func ValidationToProto(v *suite.Validation) (*lakeplanev1.ValidationResult, error) {
	var results []eval.Result
	if err := json.Unmarshal(v.RuleResults, &results); err != nil {
		return nil, fmt.Errorf("validation %s: stored results: %w", v.ID, err)
	}
	p := &lakeplanev1.ValidationResult{
		Id: v.ID, Suite: v.Suite, Target: v.Target, Dataset: v.Dataset, JobId: v.JobID,
		Outcome:       lakeplanev1.Outcome(lakeplanev1.Outcome_value[string(v.Outcome)]),
		RowsEvaluated: v.RowsEvaluated, StartTime: timestamppb.New(v.StartTime), EndTime: timestamppb.New(v.EndTime),
	}
	for _, r := range results {
		rr := &lakeplanev1.RuleResult{
			Rule: r.Rule, Outcome: lakeplanev1.Outcome(lakeplanev1.Outcome_value[r.Outcome.String()]),
			Observed: r.Observed, Expected: r.Expected, FailingRows: r.FailingRows, Message: r.Message,
		}
		for _, s := range r.Samples {
			rr.Samples = append(rr.Samples, &lakeplanev1.RuleSample{Row: s.Row, Value: s.Value})
		}
		p.RuleResults = append(p.RuleResults, rr)
	}
	return p, nil
}
