package trail

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/audit"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Handler serves the audit calls of GrantsService.
type Handler struct {
	store store.Audit
}

// NewHandler returns a Handler over the store.
func NewHandler(s store.Audit) *Handler { return &Handler{store: s} }

// ListAuditEvents implements the GrantsService call.
func (h *Handler) ListAuditEvents(ctx context.Context, req *lakeplanev1.ListAuditEventsRequest) (*lakeplanev1.ListAuditEventsResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, fault.Invalid("pageSize", "must not be negative")
	}
	opts := store.ListAuditEventsOptions{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(), Principal: req.GetPrincipal(), Resource: req.GetResource(), Method: req.GetMethod()}
	if req.StartTime != nil {
		opts.Start = req.GetStartTime().AsTime()
	}
	if req.EndTime != nil {
		opts.End = req.GetEndTime().AsTime()
	}
	page, err := h.store.ListAuditEvents(ctx, opts)
	if err != nil {
		return nil, err
	}
	resp := &lakeplanev1.ListAuditEventsResponse{NextPageToken: page.NextPageToken}
	for _, e := range page.Items {
		resp.Events = append(resp.Events, eventToProto(e))
	}
	return resp, nil
}

// VerifyAuditLog implements the GrantsService call: it walks the whole chain.
func (h *Handler) VerifyAuditLog(ctx context.Context, _ *lakeplanev1.VerifyAuditLogRequest) (*lakeplanev1.VerifyAuditLogResponse, error) {
	var v audit.Verifier
	if err := h.store.ScanAuditEvents(ctx, v.Add); err != nil {
		return nil, err
	}
	valid, firstBad, checked := v.Result()
	return &lakeplanev1.VerifyAuditLogResponse{Valid: valid, FirstBadEvent: firstBad, EventsChecked: checked}, nil
}

func eventToProto(e *audit.Event) *lakeplanev1.AuditEvent {
	return &lakeplanev1.AuditEvent{
		Id:            e.ID,
		Sequence:      e.Sequence,
		Time:          timestamppb.New(e.Time),
		Principal:     e.Principal,
		Method:        e.Method,
		Resource:      e.Resource,
		Hash:          e.Hash,
		PreviousHash:  e.PreviousHash,
		Groups:        e.Groups,
		Outcome:       e.Outcome,
		RequestDigest: e.RequestDigest,
	}
}
