package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// GovernanceChangeKind says what a governance change names.
type GovernanceChangeKind string

// The kinds of governance changes, and what their Key is.
const (
	// ChangeDataset: a dataset was created, updated or deleted; Key is its
	// id.
	ChangeDataset GovernanceChangeKind = "dataset"
	// ChangeTags: the explicit tags of a resource changed; Key is the
	// resource's TagResource.Key.
	ChangeTags GovernanceChangeKind = "tags"
	// ChangeGrant: a group grant was created or deleted; Key is its id.
	ChangeGrant GovernanceChangeKind = "grant"
	// ChangeTagKey: a tag key was created or deleted; Key is the key.
	ChangeTagKey GovernanceChangeKind = "tagkey"
	// ChangeReload: a governed table was emptied at once (PostgreSQL's
	// TRUNCATE, which logs no rows); Key is the table's name. Readers
	// reload everything.
	ChangeReload GovernanceChangeKind = "reload"
)

// GovernanceChange is one entry of the governance change log: the object
// named by Kind and Key changed in the transaction that took Seq. It does
// not say how: readers read the object's current state.
type GovernanceChange struct {
	Seq  int64
	Kind GovernanceChangeKind
	Key  string
	// Time is when the writing transaction began (PostgreSQL's now()), for
	// people reading the log: it need not follow Seq's order.
	Time time.Time
}

// GovernanceLog is the log of the writes to what the governance index holds
// (datasets, resource tags, group grants and tag keys), with which replicas
// sharing the store keep their indexes current.
//
// Every such write appends one change per row it touches, in its own
// transaction, whoever the writer. Seqs count up from 1 without gaps in
// commit order: a reader that sees seq N has seen every seq below it. The
// log keeps only its newest changes (100,000 by default), so a reader that
// finds the seqs it needs gone must reload everything.
type GovernanceLog interface {
	// GovernanceVersion returns the seq of the last change committed, 0
	// before the first. It is one small read.
	GovernanceVersion(ctx context.Context) (int64, error)
	// GovernanceChanges returns the changes with a seq above after, in seq
	// order, at most limit of them (<= 0 means DefaultPageSize, and it is
	// capped at MaxPageSize). Changes the log no longer keeps are missing:
	// the first one returned has a seq above after+1 then.
	GovernanceChanges(ctx context.Context, after int64, limit int) ([]GovernanceChange, error)
}

// Key renders r as the governance change log names it: database,
// database.table or database.table.column.
func (r TagResource) Key() string {
	parts := []string{r.Database}
	if r.Table != "" {
		parts = append(parts, r.Table)
	}
	if r.Column != "" {
		parts = append(parts, r.Column)
	}
	return strings.Join(parts, ".")
}

// ParseTagResourceKey reads a resource from its Key; ok is false when key
// is not one. Database, table and column names hold no dot.
func ParseTagResourceKey(key string) (r TagResource, ok bool) {
	parts := strings.Split(key, ".")
	if len(parts) > 3 || slices.Contains(parts, "") {
		return TagResource{}, false
	}
	r.Database = parts[0]
	if len(parts) > 1 {
		r.Table = parts[1]
	}
	if len(parts) > 2 {
		r.Column = parts[2]
	}
	return r, true
}
