package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Checkpoint retries of PurgeRemnants while readers keep old frames in use.
const (
	checkpointAttempts = 50
	checkpointRetry    = 20 * time.Millisecond
)

// PurgeRemnants leaves no copy of deleted or overwritten rows (an erased
// job's spec, redacted validation samples) in the database's files: every
// connection runs with secure_delete on, so that SQLite overwrites freed
// cells and pages with zeros, and this checkpoints the write-ahead log into
// the database file and truncates it, so that no older page image survives
// in the -wal file. It waits while readers still use the log's frames.
func (s *Store) PurgeRemnants(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		var busy, frames, checkpointed int
		err := s.DB().QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &checkpointed)
		if err != nil {
			return fmt.Errorf("sqlite: checkpoint the WAL: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if attempt >= checkpointAttempts {
			return fmt.Errorf("sqlite: checkpoint the WAL: still busy after %d attempts (%d of %d frames checkpointed)", attempt, checkpointed, frames)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(checkpointRetry):
		}
	}
}
