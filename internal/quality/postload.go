package quality

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
	"github.com/lakeplane/lakeplane/internal/quality/eval"
	"github.com/lakeplane/lakeplane/internal/quality/suite"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// PostLoad reports whether rule r of a load's suite needs the whole table,
// so that it runs on the snapshot the load made rather than on the rows as
// they stream: RowCount (of the whole table), ReferentialIntegrity (the
// table's rows against another dataset's keys) and, when the load adds to
// rows already in the table (intoRows: an APPEND or UPSERT into a table
// that has rows), IsUnique, Uniqueness and IsPrimaryKey, which must see
// the old rows with the new. A composite rule with one such part needs the
// table as a whole, and then its header parts (ColumnOrder, ColumnCount,
// ...) judge the table's schema rather than the file's header.
func PostLoad(r *dqdl.Rule, intoRows bool) bool {
	for _, l := range r.Leaves() {
		switch l.Type {
		case dqdl.TypeRowCount, dqdl.TypeReferentialIntegrity:
			return true
		case dqdl.TypeIsUnique, dqdl.TypeUniqueness, dqdl.TypeIsPrimaryKey:
			if intoRows {
				return true
			}
		}
	}
	return false
}

// SplitSuite divides rs into the rules that run on a load's stream and the
// post-load rules (see PostLoad), each in the suite's order; either may
// hold no rules.
func SplitSuite(rs *dqdl.Ruleset, intoRows bool) (stream, post *dqdl.Ruleset) {
	stream, post = &dqdl.Ruleset{}, &dqdl.Ruleset{}
	for _, r := range rs.Rules {
		if PostLoad(r, intoRows) {
			post.Rules = append(post.Rules, r)
		} else {
			stream.Rules = append(stream.Rules, r)
		}
	}
	return stream, post
}

// LoadGate is the quality check of one load, in two validations recorded
// apart: the stream rules, run on the rows as they stream before the
// commit, and the post-load rules, run on the snapshot the commit made.
type LoadGate struct {
	// Stream validates the rows as they stream; nil when the suite has no
	// stream rules.
	Stream *Run

	svc   *Service
	suite string
	d     *dataset.Dataset
	post  *dqdl.Ruleset
}

// StartLoad begins the quality check of a load into d's table with suite
// suiteName: it splits the suite (SplitSuite; intoRows says the load adds
// to rows the table has) and starts the stream validation of the source
// (header in file order, rows of schema). Every rule is checked here, the
// stream rules for an object validated for a dataset and the post-load
// ones for a dataset snapshot, so a rule that cannot run fails the load
// before any row is read.
func (s *Service) StartLoad(ctx context.Context, suiteName string, d *dataset.Dataset, source string, header []string, schema *arrow.Schema, intoRows bool) (*LoadGate, error) {
	_, rs, err := s.Suite(ctx, suiteName)
	if err != nil {
		return nil, err
	}
	stream, post := SplitSuite(rs, intoRows)
	g := &LoadGate{svc: s, suite: suiteName, d: d}
	if len(post.Rules) > 0 {
		if s.tables == nil {
			return nil, fmt.Errorf("suite %q has post-load rules and this service reads no tables", suiteName)
		}
		if err := dqdl.Check(post, dqdl.TargetDataset); err != nil {
			return nil, fmt.Errorf("suite %q: post-load rules cannot run on %s: %w", suiteName, d.ID, err)
		}
		g.post = post
	}
	if len(stream.Rules) > 0 {
		if g.Stream, err = s.start(ctx, suiteName, stream, d, source, schema, dqdl.TargetDatasetObject, eval.Options{Header: header}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Suite names the suite the gate runs.
func (g *LoadGate) Suite() string { return g.suite }

// HasPostLoad reports whether the suite has rules to run after the commit.
func (g *LoadGate) HasPostLoad() bool { return g != nil && g.post != nil }

// PostLoadRules returns the post-load rules as DQDL ("" when none).
func (g *LoadGate) PostLoadRules() string {
	if !g.HasPostLoad() {
		return ""
	}
	return g.post.String()
}

// PostLoad runs the post-load rules on snapshot snapshotID of the
// dataset's table (the current one when 0), records the result linked to
// jobID and reports whether it passed. RowCount without a where clause is
// the snapshot's row count from its summary; the snapshot's rows are read
// (tables.Read) only when another rule needs them, so a suite whose only
// post-load rule is RowCount records 0 rows evaluated.
// ReferentialIntegrity reads each referenced dataset's current snapshot
// (its keys are sorted and spilled, so any size fits the memory budget).
func (g *LoadGate) PostLoad(ctx context.Context, snapshotID int64, jobID string) (*suite.Validation, bool, error) {
	if !g.HasPostLoad() {
		return nil, true, nil
	}
	s := g.svc
	rows, snap, err := s.tables.SnapshotRowCount(ctx, g.d.ID, snapshotID)
	if err != nil {
		return nil, false, fmt.Errorf("post-load rules of suite %q: %w", g.suite, err)
	}
	target := fmt.Sprintf("%s@%d", g.d.ID, snap)
	run, err := s.start(ctx, g.suite, g.post, g.d, target, tables.ArrowSchema(g.d), dqdl.TargetDataset,
		eval.Options{Table: fixedRowCount(rows)})
	if err != nil {
		return nil, false, err
	}
	if needsRows(g.post) && snap != 0 {
		if _, err := s.tables.Read(ctx, g.d.ID, snap, func(rec arrow.RecordBatch) error { return run.Add(ctx, rec) }); err != nil {
			run.Abort()
			return nil, false, fmt.Errorf("post-load rules of suite %q on %s: %w", g.suite, target, err)
		}
	}
	return run.Finish(ctx, jobID)
}

// Abort drops the stream validation if it has not finished.
func (g *LoadGate) Abort() {
	if g != nil && g.Stream != nil {
		g.Stream.Abort()
	}
}

// needsRows reports whether a rule of rs needs the table's rows rather
// than its row count alone.
func needsRows(rs *dqdl.Ruleset) bool {
	for _, r := range rs.Rules {
		for _, l := range r.Leaves() {
			if l.Type != dqdl.TypeRowCount || l.Where != "" {
				return true
			}
		}
	}
	return false
}

// fixedRowCount is the eval.TableStats of a snapshot whose row count is
// known.
type fixedRowCount int64

// RowCount returns the row count.
func (n fixedRowCount) RowCount(context.Context) (int64, error) { return int64(n), nil }
