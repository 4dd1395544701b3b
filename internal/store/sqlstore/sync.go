package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.Sync = (*Store)(nil)

// The sync statements.
const (
	insertSyncPlan  = `INSERT INTO sync_plans (id, desired_fp, applied_fp, actions, desired, create_time, apply_time) VALUES (?, ?, ?, ?, ?, ?, NULL)`
	selectSyncPlan  = `SELECT id, desired_fp, applied_fp, actions, desired, create_time, apply_time FROM sync_plans WHERE id = ?`
	markPlanApplied = `UPDATE sync_plans SET apply_time = ? WHERE id = ? AND apply_time IS NULL AND applied_fp = ?`
	selectSyncState = `SELECT fingerprint, state, plan_id, apply_time FROM sync_state WHERE id = 1`
	updateSyncState = `UPDATE sync_state SET fingerprint = ?, state = ?, plan_id = ?, apply_time = ? WHERE id = 1 AND fingerprint = ?`
)

// CreateSyncPlan implements store.Sync.
func (s *Store) CreateSyncPlan(ctx context.Context, p *store.SyncPlan) (*store.SyncPlan, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create sync plan: new id: %w", err)
	}
	out := &store.SyncPlan{
		ID: id.String(), DesiredFingerprint: p.DesiredFingerprint, AppliedFingerprint: p.AppliedFingerprint,
		Actions: cloneJSON(p.Actions, "[]"), Desired: cloneJSON(p.Desired, "{}"), CreateTime: s.timestamp(),
	}
	_, err = s.db.ExecContext(ctx, s.bind(insertSyncPlan), out.ID, out.DesiredFingerprint, out.AppliedFingerprint,
		string(out.Actions), string(out.Desired), s.timeArg(out.CreateTime))
	if err != nil {
		return nil, fmt.Errorf("create sync plan: %w", err)
	}
	return out, nil
}

// cloneJSON copies a JSON document, def when it is empty.
func cloneJSON(raw json.RawMessage, def string) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(def)
	}
	return append(json.RawMessage(nil), raw...)
}

// GetSyncPlan implements store.Sync.
func (s *Store) GetSyncPlan(ctx context.Context, id string) (*store.SyncPlan, error) {
	p := &store.SyncPlan{}
	var actions, desired string
	err := s.db.QueryRowContext(ctx, s.bind(selectSyncPlan), id).Scan(&p.ID, &p.DesiredFingerprint, &p.AppliedFingerprint,
		&actions, &desired, timeScanner{&p.CreateTime}, nullTimeScanner{&p.ApplyTime})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sync plan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get sync plan %q: %w", id, err)
	}
	p.Actions, p.Desired = json.RawMessage(actions), json.RawMessage(desired)
	return p, nil
}

// GetSyncState implements store.Sync.
func (s *Store) GetSyncState(ctx context.Context) (*store.SyncState, error) {
	return s.syncState(ctx, s.db)
}

// rowQuerier is what *sql.DB and *sql.Tx share for single-row reads.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// syncState reads the applied state through q.
func (s *Store) syncState(ctx context.Context, q rowQuerier) (*store.SyncState, error) {
	st := &store.SyncState{}
	var state string
	err := q.QueryRowContext(ctx, s.bind(selectSyncState)).Scan(&st.Fingerprint, &state, &st.PlanID, nullTimeScanner{&st.ApplyTime})
	if err != nil {
		return nil, fmt.Errorf("get sync state: %w", err)
	}
	if state != "" {
		st.State = json.RawMessage(state)
	}
	return st, nil
}

// RecordSyncApplied implements store.Sync. Both updates are conditional
// (the plan not applied and made against the stored fingerprint; the
// stored fingerprint unchanged), so concurrent appliers cannot both win,
// whichever database serialises them.
func (s *Store) RecordSyncApplied(ctx context.Context, planID string, state json.RawMessage, fingerprint string) (*store.SyncState, error) {
	var out *store.SyncState
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.syncState(ctx, tx)
		if err != nil {
			return err
		}
		var exists int64
		if err := tx.QueryRowContext(ctx, s.bind(`SELECT COUNT(*) FROM sync_plans WHERE id = ?`), planID).Scan(&exists); err != nil {
			return fmt.Errorf("record sync plan %q applied: %w", planID, err)
		}
		if exists == 0 {
			return fmt.Errorf("sync plan %q: %w", planID, store.ErrNotFound)
		}
		now := s.timestamp()
		n, err := affected(tx.ExecContext(ctx, s.bind(markPlanApplied), s.timeArg(now), planID, cur.Fingerprint))
		if err != nil {
			return fmt.Errorf("record sync plan %q applied: %w", planID, err)
		}
		if n == 0 {
			return fmt.Errorf("sync plan %q was applied already or made against another applied state than %q: %w", planID, cur.Fingerprint, store.ErrStale)
		}
		n, err = affected(tx.ExecContext(ctx, s.bind(updateSyncState), fingerprint, string(state), planID, s.timeArg(now), cur.Fingerprint))
		if err != nil {
			return fmt.Errorf("record sync state of plan %q: %w", planID, err)
		}
		if n == 0 {
			return fmt.Errorf("sync state changed while plan %q was recorded: %w", planID, store.ErrStale)
		}
		out = &store.SyncState{Fingerprint: fingerprint, State: cloneJSON(state, "{}"), PlanID: planID, ApplyTime: now}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.dialect.Name, err)
	}
	return out, nil
}
