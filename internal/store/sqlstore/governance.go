package sqlstore

import (
	"context"
	"fmt"

	"github.com/lakeplane/lakeplane/internal/store"
)

var _ store.GovernanceLog = (*Store)(nil)

// The change log is written by the triggers of migrations 0012 (and, on
// PostgreSQL, 0013), not here.
const (
	selectGovernanceVersion = `SELECT v FROM governance_version WHERE id = 1`
	listGovernanceChanges   = `SELECT seq, kind, key, at FROM governance_changes WHERE seq > ? ORDER BY seq LIMIT ?`
)

// GovernanceVersion implements store.GovernanceLog.
func (s *Store) GovernanceVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, selectGovernanceVersion).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: governance version: %w", s.dialect.Name, err)
	}
	return v, nil
}

// GovernanceChanges implements store.GovernanceLog.
func (s *Store) GovernanceChanges(ctx context.Context, after int64, limit int) ([]store.GovernanceChange, error) {
	out, err := queryAll(ctx, s.db, s.bind(listGovernanceChanges), func(sc scanner) (store.GovernanceChange, error) {
		var c store.GovernanceChange
		err := sc.Scan(&c.Seq, &c.Kind, &c.Key, timeScanner{&c.Time})
		return c, err
	}, after, store.NormalizePageSize(limit))
	if err != nil {
		return nil, fmt.Errorf("%s: governance changes after %d: %w", s.dialect.Name, after, err)
	}
	return out, nil
}
