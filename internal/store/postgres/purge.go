package postgres

import (
	"context"
	"fmt"
)

// erasedTables are the tables in which an erasure overwrites rows holding
// subject ids: jobs (an ERASE job's spec is redacted) and validations
// (samples holding an id are removed).
var erasedTables = []string{"jobs", "validations"}

// PurgeRemnants vacuums the tables an erasure changes, so that the dead
// tuples holding the rows as they were before (an erased job's spec, a
// validation's samples) are pruned from their pages, instead of lingering
// until autovacuum comes by. What PostgreSQL still keeps for a while: the
// WAL segments (until they are recycled), the freed space of pages (which
// VACUUM makes reusable but need not zero), and copies outside the
// database (base backups, WAL archives, replicas), which their own
// retention covers.
func (s *Store) PurgeRemnants(ctx context.Context) error {
	for _, t := range erasedTables {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		// VACUUM runs outside a transaction: on the pool, not in inTx.
		if _, err := s.DB().ExecContext(ctx, "VACUUM "+t); err != nil {
			return fmt.Errorf("postgres: vacuum %s: %w", t, err)
		}
	}
	return nil
}
