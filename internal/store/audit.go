package store

import (
	"context"
	"time"

	"github.com/lakeplane/lakeplane/internal/audit"
)

// Audit keeps the append-only, hash-chained audit trail.
type Audit interface {
	// AppendAuditEvent links e after the last stored event (see
	// audit.Event.Seal), giving it its id, time, sequence and hashes, and
	// stores it. Concurrent appends are ordered, never forked.
	AppendAuditEvent(ctx context.Context, e *audit.Event) (*audit.Event, error)
	// ListAuditEvents returns one page of events, oldest first.
	ListAuditEvents(ctx context.Context, opts ListAuditEventsOptions) (Page[*audit.Event], error)
	// ScanAuditEvents calls fn with every event in sequence order, streaming,
	// until fn returns false.
	ScanAuditEvents(ctx context.Context, fn func(*audit.Event) bool) error
}

// ListAuditEventsOptions selects a page of audit events; the filters that
// are set must all match.
type ListAuditEventsOptions struct {
	PageSize  int
	PageToken string
	Principal string
	Resource  string
	Method    string
	// Start and End bound the event time: Start <= time < End; zero means open.
	Start, End time.Time
}
