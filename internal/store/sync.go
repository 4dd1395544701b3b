package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrStale means that a sync plan was made against an applied state that
// has changed since, or that the plan was applied already.
var ErrStale = errors.New("sync plan is stale")

// SyncPlan is a stored Lake Formation sync plan: the actions that bring the
// target from the applied state it was made against (AppliedFingerprint) to
// the desired state it was made from (DesiredFingerprint, Desired). The
// store keeps Actions and Desired as opaque JSON.
type SyncPlan struct {
	ID                 string
	DesiredFingerprint string
	AppliedFingerprint string
	// Actions are the plan's actions, as JSON.
	Actions json.RawMessage
	// Desired is the state the plan brings the target to, as JSON.
	Desired    json.RawMessage
	CreateTime time.Time
	// ApplyTime is when the plan was applied; zero while it is not.
	ApplyTime time.Time
}

// SyncState is the last applied Lake Formation state: opaque JSON and its
// fingerprint. Before anything is applied, Fingerprint is "" and State is
// nil.
type SyncState struct {
	Fingerprint string
	State       json.RawMessage
	// PlanID is the plan whose application recorded the state.
	PlanID    string
	ApplyTime time.Time
}

// Sync keeps sync plans and the last applied state. Values passed in are
// not modified and values returned are owned by the caller.
type Sync interface {
	// CreateSyncPlan stores a new plan of p's fingerprints, Actions and
	// Desired, and returns it with a new ID and CreateTime (the ones in p
	// are ignored).
	CreateSyncPlan(ctx context.Context, p *SyncPlan) (*SyncPlan, error)
	// GetSyncPlan returns the plan, or ErrNotFound.
	GetSyncPlan(ctx context.Context, id string) (*SyncPlan, error)
	// GetSyncState returns the last applied state (Fingerprint "" when
	// nothing was applied yet).
	GetSyncState(ctx context.Context) (*SyncState, error)
	// RecordSyncApplied marks plan planID applied and records state, of
	// the given fingerprint, as the applied state, in one transaction. It
	// fails with ErrNotFound when there is no such plan, and with ErrStale,
	// changing nothing, when the plan was applied already or the applied
	// state's fingerprint is not the plan's AppliedFingerprint any more.
	RecordSyncApplied(ctx context.Context, planID string, state json.RawMessage, fingerprint string) (*SyncState, error)
}
