package store

import (
	"context"
	"encoding/json"
	"time"
)

// AlertState is where the delivery of an alert to one sink stands.
type AlertState string

// The states of an alert delivery.
const (
	// AlertDelivered means that the sink accepted the alert.
	AlertDelivered AlertState = "DELIVERED"
	// AlertRetrying means that an attempt failed and another follows.
	AlertRetrying AlertState = "RETRYING"
	// AlertDeadLetter means that the alert was given up on: every attempt
	// failed, or the server stopped before it could be sent. The payload is
	// kept, so that it can be sent again by hand.
	AlertDeadLetter AlertState = "DEAD_LETTER"
)

// AlertDelivery is the delivery of one validation's alert to one sink; a
// validation has at most one per sink, updated as attempts are made.
type AlertDelivery struct {
	// ID is the delivery's id, given by the store when first recorded.
	ID           string
	ValidationID string
	// Sink is the configured name of the sink.
	Sink  string
	State AlertState
	// Attempts is the number of attempts made so far.
	Attempts int
	// LastError is why the last attempt failed, if it did.
	LastError string
	// Payload is the alert's body, as sent (JSON).
	Payload json.RawMessage
	// CreateTime is when the delivery was first recorded, UpdateTime when
	// it last changed; both are set by the store.
	CreateTime time.Time
	UpdateTime time.Time
}

// Alerts records the alerts sent about failed validations and the ones
// given up on (dead letters).
type Alerts interface {
	// RecordAlertDelivery records the delivery of d.ValidationID's alert to
	// d.Sink, replacing the one recorded before (whose CreateTime stays),
	// and returns it as stored.
	RecordAlertDelivery(ctx context.Context, d *AlertDelivery) (*AlertDelivery, error)
	// ListAlertDeliveries returns the deliveries of the alerts of the given
	// validations, ordered by validation and sink.
	ListAlertDeliveries(ctx context.Context, validationIDs ...string) ([]*AlertDelivery, error)
	// ListDeadLetters returns one page of the deliveries given up on, most
	// recently changed first.
	ListDeadLetters(ctx context.Context, pageSize int, pageToken string) (Page[*AlertDelivery], error)
}
