package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
)

// RunSync runs the conformance suite of store.Sync. open must return a
// fresh, empty store each time it is called, as for Run.
func RunSync(t *testing.T, open func(t *testing.T) store.Sync) {
	for _, tc := range syncTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// syncTests check store.Sync.
var syncTests = []struct {
	name string
	fn   func(t *testing.T, s store.Sync)
}{
	{"EmptyState", testSyncEmptyState},
	{"PlanRoundTrip", testSyncPlanRoundTrip},
	{"PlanNotFound", testSyncPlanNotFound},
	{"ApplyRecordsState", testSyncApplyRecordsState},
	{"StalePlanRefused", testSyncStalePlanRefused},
	{"ConcurrentApplies", testSyncConcurrentApplies},
}

// mustPlan stores a plan made against applied, to desired.
func mustPlan(t *testing.T, s store.Sync, applied, desired string) *store.SyncPlan {
	t.Helper()
	p, err := s.CreateSyncPlan(context.Background(), &store.SyncPlan{
		AppliedFingerprint: applied, DesiredFingerprint: desired,
		Actions: json.RawMessage(`[{"kind":"CREATE_LF_TAG"}]`), Desired: json.RawMessage(`{"fp":"` + desired + `"}`),
	})
	if err != nil {
		t.Fatalf("CreateSyncPlan: %v", err)
	}
	return p
}

func testSyncEmptyState(t *testing.T, s store.Sync) {
	st, err := s.GetSyncState(context.Background())
	if err != nil || st.Fingerprint != "" || st.State != nil || st.PlanID != "" || !st.ApplyTime.IsZero() {
		t.Fatalf("GetSyncState on a fresh store = %+v, %v; want the empty state", st, err)
	}
}

func testSyncPlanRoundTrip(t *testing.T, s store.Sync) {
	ctx := context.Background()
	p := mustPlan(t, s, "", "d1")
	if p.ID == "" || p.CreateTime.IsZero() || !p.ApplyTime.IsZero() {
		t.Fatalf("created plan = %+v", p)
	}
	got, err := s.GetSyncPlan(ctx, p.ID)
	if err != nil {
		t.Fatalf("GetSyncPlan: %v", err)
	}
	if got.ID != p.ID || got.DesiredFingerprint != "d1" || got.AppliedFingerprint != "" || !got.CreateTime.Equal(p.CreateTime) ||
		string(got.Actions) != string(p.Actions) || string(got.Desired) != string(p.Desired) || !got.ApplyTime.IsZero() {
		t.Errorf("GetSyncPlan = %+v, want %+v", got, p)
	}
	other := mustPlan(t, s, "", "d1")
	if other.ID == p.ID {
		t.Errorf("two plans share id %q", p.ID)
	}
}

func testSyncPlanNotFound(t *testing.T, s store.Sync) {
	ctx := context.Background()
	if _, err := s.GetSyncPlan(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSyncPlan(nope) = %v, want ErrNotFound", err)
	}
	if _, err := s.RecordSyncApplied(ctx, "nope", json.RawMessage(`{}`), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordSyncApplied(nope) = %v, want ErrNotFound", err)
	}
}

func testSyncApplyRecordsState(t *testing.T, s store.Sync) {
	ctx := context.Background()
	p := mustPlan(t, s, "", "d1")
	st, err := s.RecordSyncApplied(ctx, p.ID, p.Desired, "d1")
	if err != nil || st.Fingerprint != "d1" || st.PlanID != p.ID || st.ApplyTime.IsZero() {
		t.Fatalf("RecordSyncApplied = %+v, %v", st, err)
	}
	got, err := s.GetSyncState(ctx)
	if err != nil || got.Fingerprint != "d1" || string(got.State) != string(p.Desired) || got.PlanID != p.ID || !got.ApplyTime.Equal(st.ApplyTime) {
		t.Errorf("GetSyncState = %+v, %v; want %+v", got, err, st)
	}
	applied, err := s.GetSyncPlan(ctx, p.ID)
	if err != nil || !applied.ApplyTime.Equal(st.ApplyTime) {
		t.Errorf("plan after apply = %+v, %v; want apply time %v", applied, err, st.ApplyTime)
	}
	// Applying the same plan again is refused and changes nothing.
	if _, err := s.RecordSyncApplied(ctx, p.ID, json.RawMessage(`{"again":true}`), "d2"); !errors.Is(err, store.ErrStale) {
		t.Errorf("RecordSyncApplied twice = %v, want ErrStale", err)
	}
	if got, _ := s.GetSyncState(ctx); got.Fingerprint != "d1" {
		t.Errorf("state after a refused apply = %+v", got)
	}
}

func testSyncStalePlanRefused(t *testing.T, s store.Sync) {
	ctx := context.Background()
	first := mustPlan(t, s, "", "d1")
	second := mustPlan(t, s, "", "d2") // made against the same (empty) state
	if _, err := s.RecordSyncApplied(ctx, first.ID, first.Desired, "d1"); err != nil {
		t.Fatalf("RecordSyncApplied first: %v", err)
	}
	if _, err := s.RecordSyncApplied(ctx, second.ID, second.Desired, "d2"); !errors.Is(err, store.ErrStale) {
		t.Errorf("RecordSyncApplied of a plan made against an older state = %v, want ErrStale", err)
	}
	if p, _ := s.GetSyncPlan(ctx, second.ID); !p.ApplyTime.IsZero() {
		t.Errorf("the refused plan was marked applied: %+v", p)
	}
	third := mustPlan(t, s, "d1", "d3")
	if _, err := s.RecordSyncApplied(ctx, third.ID, third.Desired, "d3"); err != nil {
		t.Errorf("RecordSyncApplied of a plan made against the current state: %v", err)
	}
}

func testSyncConcurrentApplies(t *testing.T, s store.Sync) {
	ctx := context.Background()
	const n = 8
	plans := make([]*store.SyncPlan, n)
	for i := range plans {
		plans[i] = mustPlan(t, s, "", "d"+string(rune('a'+i)))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RecordSyncApplied(ctx, p.ID, p.Desired, p.DesiredFingerprint)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("plans %d and %d were both recorded against one state", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, store.ErrStale):
			t.Errorf("plan %d: %v, want ErrStale", i, err)
		}
	}
	st, err := s.GetSyncState(ctx)
	if err != nil {
		t.Fatalf("GetSyncState: %v", err)
	}
	if won >= 0 && st.Fingerprint != plans[won].DesiredFingerprint {
		t.Errorf("state %q, want the winner's %q", st.Fingerprint, plans[won].DesiredFingerprint)
	}
	if won < 0 && st.Fingerprint != "" {
		t.Errorf("no apply won but the state is %q", st.Fingerprint)
	}
}
