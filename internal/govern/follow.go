package govern

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/store"
)

// Follow keeps the index current with the writes that other replicas
// sharing the store make: every interval it runs Refresh, until ctx ends.
// A failed refresh is tried again at the next tick, so a write committed
// anywhere shows in this replica's answers within about one interval plus
// one refresh while the store can be reached. The first failure of a run
// of them is logged as an error, the next ones at debug level, and the
// recovery with how long the index went without refresh. An interval <= 0
// returns at once.
//
// With WithMaxStaleness, a watch beside the refreshes (so that a refresh
// hung on an unreachable store does not hold it up) turns the index's
// answers into UNAVAILABLE once it has gone that long without a successful
// refresh; the next successful refresh turns them back.
func (s *Service) Follow(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	if s.maxStale > 0 {
		var watch sync.WaitGroup
		watch.Go(func() { s.watchStaleness(ctx, max(min(interval, s.maxStale/4), time.Millisecond)) })
		defer func() {
			watch.Wait()
			s.stale.Store(false) // the bound holds while Follow runs
		}()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var failingSince time.Time // zero while refreshes succeed
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A refresh has a time limit, so that a connection that hangs
		// rather than fails does not stop Follow for good.
		refreshCtx, cancel := context.WithTimeout(ctx, max(s.refreshTimeout, interval))
		err := s.Refresh(refreshCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && failingSince.IsZero():
			failingSince = time.Now()
			s.logger.Error("governance index refresh failed; access checks answer from the last state read until it succeeds", "error", err)
		case err != nil:
			s.logger.Debug("governance index refresh failed again", "error", err, "failingFor", time.Since(failingSince).String())
		case !failingSince.IsZero():
			s.logger.Info("governance index refresh recovered", "failedFor", time.Since(failingSince).String())
			failingSince = time.Time{}
		}
	}
}

// watchStaleness checks every tick, until ctx ends, whether the index has
// gone longer than maxStale without a successful refresh.
func (s *Service) watchStaleness(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.freshMu.Lock()
		if since := time.Since(s.freshAt); since > s.maxStale && !s.stale.Load() {
			s.stale.Store(true)
			s.logger.Error("governance index is stale: access checks, resolutions and sync plans fail with UNAVAILABLE until a refresh succeeds",
				"lastRefresh", s.freshAt, "maxStaleness", s.maxStale.String())
		}
		s.freshMu.Unlock()
	}
}

// markFresh records a successful refresh or rebuild that began at began:
// the index holds every change committed before then.
func (s *Service) markFresh(began time.Time) {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	if began.After(s.freshAt) {
		s.freshAt = began
	}
	if s.stale.Load() {
		s.logger.Info("governance index is fresh again: access checks answer")
		s.stale.Store(false)
	}
}

// Fresh returns nil, or, while the index has gone longer than
// WithMaxStaleness allows without being brought up to date with the store,
// an error wrapping fault.ErrUnavailable. The answers that come from the
// index fail with it; callers that read the index in process (Index) ask it
// first.
func (s *Service) Fresh() error {
	if !s.stale.Load() {
		return nil
	}
	s.freshMu.Lock()
	at := s.freshAt
	s.freshMu.Unlock()
	return fault.Unavailable("the access index was last brought up to date with the store %s ago, longer than the %s allowed; it answers again once the store can be read",
		time.Since(at).Round(time.Millisecond), s.maxStale)
}

// errUnreadableChange means that the change log named something this
// version cannot apply by itself: a kind it does not know, or a key it
// cannot read.
var errUnreadableChange = errors.New("unreadable governance change")

// Refresh brings the index up to date with every change that the store's
// governance change log holds when it is called: it applies the changes
// after the last one applied, each by reading the current stored state of
// what it names. When the log no longer holds some of them (it keeps only
// its newest changes), or names something Refresh cannot read, it reloads
// the whole index instead. After Refresh returns nil, the index reflects
// every write committed before it was called, by any replica, so callers
// that need to read another replica's writes call it first.
//
// Changes this service made itself are applied again: applying is
// idempotent, and skipping them would skip whatever other replicas wrote
// to the same objects in between.
func (s *Service) Refresh(ctx context.Context) error {
	began := time.Now()
	if err := s.refresh(ctx); err != nil {
		return err
	}
	s.markFresh(began)
	return nil
}

func (s *Service) refresh(ctx context.Context) error {
	// The version is read under the lock: read before it, it could be
	// older than what a concurrent refresh applied meanwhile, and look
	// like a store that went back.
	s.mu.Lock()
	defer s.mu.Unlock()
	version, err := s.st.GovernanceVersion(ctx)
	if err != nil {
		return fmt.Errorf("govern: refresh index: %w", err)
	}
	if version < s.applied {
		s.logger.Warn("governance change log is behind the index (store replaced?); reloading the index", "applied", s.applied, "version", version)
		return s.rebuild(ctx)
	}
	for s.applied < version {
		changes, err := s.st.GovernanceChanges(ctx, s.applied, store.MaxPageSize)
		if err != nil {
			return fmt.Errorf("govern: refresh index: %w", err)
		}
		if len(changes) == 0 || changes[0].Seq != s.applied+1 {
			s.logger.Warn("governance change log no longer holds the changes after the last one applied; reloading the index", "applied", s.applied, "version", version)
			return s.rebuild(ctx)
		}
		if i := slices.IndexFunc(changes, func(c store.GovernanceChange) bool { return c.Kind == store.ChangeReload }); i >= 0 {
			s.logger.Info("a governed table was emptied at once; reloading the index", "table", changes[i].Key)
			return s.rebuild(ctx)
		}
		err = s.applyChanges(ctx, changes)
		if errors.Is(err, errUnreadableChange) {
			s.logger.Warn("reloading the index", "error", err)
			return s.rebuild(ctx)
		}
		if err != nil {
			return fmt.Errorf("govern: refresh index: %w", err)
		}
		s.applied = changes[len(changes)-1].Seq
	}
	return nil
}

// applyChanges applies a batch of changes, each object once however often
// the batch names it: applying reads the object's current state. The
// caller holds s.mu.
func (s *Service) applyChanges(ctx context.Context, changes []store.GovernanceChange) error {
	type object struct {
		kind store.GovernanceChangeKind
		key  string
	}
	done := make(map[object]bool, len(changes))
	for _, c := range changes {
		o := object{c.Kind, c.Key}
		if done[o] {
			continue
		}
		done[o] = true
		if err := s.applyChange(ctx, c); err != nil {
			return fmt.Errorf("change %d (%s %q): %w", c.Seq, c.Kind, c.Key, err)
		}
	}
	return nil
}

// applyChange sets the index's copy of what c names to its stored state.
// The caller holds s.mu.
func (s *Service) applyChange(ctx context.Context, c store.GovernanceChange) error {
	switch c.Kind {
	case store.ChangeDataset:
		return s.reloadDataset(ctx, c.Key)
	case store.ChangeTags:
		r, ok := store.ParseTagResourceKey(c.Key)
		if !ok {
			return errUnreadableChange
		}
		tags, err := s.st.GetResourceTags(ctx, r)
		if err != nil {
			return err
		}
		s.ix.SetTags(Resource(r), tags)
	case store.ChangeGrant:
		g, err := s.st.GetGroupGrant(ctx, c.Key)
		if errors.Is(err, store.ErrNotFound) {
			s.ix.RemoveGrant(c.Key)
			return nil
		}
		if err != nil {
			return err
		}
		s.ix.SetGrant(g)
	case store.ChangeTagKey:
		k, err := s.st.GetTagKey(ctx, c.Key)
		if errors.Is(err, store.ErrNotFound) {
			s.ix.SetTagKey(c.Key, nil)
			return nil
		}
		if err != nil {
			return err
		}
		s.ix.SetTagKey(c.Key, k)
	default:
		return errUnreadableChange
	}
	return nil
}

// reloadDataset sets the index's copy of a dataset to the stored one, or
// forgets it when it is gone. The tags of its table and columns stay as
// they are: the store logs their changes (DatasetChanged's deletion among
// them) as changes of their own. The caller holds s.mu.
func (s *Service) reloadDataset(ctx context.Context, id string) error {
	d, err := s.st.GetDataset(ctx, id)
	switch {
	case err == nil:
		s.ix.SetDataset(d)
	case errors.Is(err, store.ErrNotFound):
		s.ix.ForgetDataset(id)
	default:
		return err
	}
	return nil
}
