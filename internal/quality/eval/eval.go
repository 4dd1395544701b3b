// Package eval runs a DQDL rule suite over a stream of Arrow record
// batches in one pass: every rule of the suite is computed while the
// batches go by (Evaluator.Add), and Finish returns one Result per rule.
//
// Memory is bounded and the results are exact:
//
//   - counts, ratios, sums, means and standard deviations are kept as
//     integers, big.Int and big.Rat (decimals as unscaled integers, doubles
//     in big.Float wide enough never to round), so "observed" is the exact
//     value and every comparison with a constant is exact;
//   - uniqueness and distinct counts (IsUnique, Uniqueness, IsPrimaryKey,
//     UniqueValueRatio, DistinctValuesCount) keep one 40-byte entry per row
//     in a buffer of at most Options.MemoryBudget bytes, sorted and spilled
//     to a temporary file when full and merged at Finish (see keyStore).
//     Keys of integer, date, timestamp, boolean, double and decimal columns
//     are the values themselves, so equal keys are equal values. Strings
//     and multi-column keys are 128-bit xxh3 hashes with a random seed per
//     Evaluator: for n keys the chance that any two different values
//     collide is about n²/2¹²⁹, 1.5·10⁻²³ for 100 million keys, far below
//     the chance of a memory error, so collisions are not confirmed
//     against the values (which would need a second pass or spilling the
//     values themselves). 100 million keys take 4 GB of spill files and
//     about 60 runs at the default 64 MiB budget;
//   - ReferentialIntegrity is a sort-merge anti-join in the same kind of
//     stores: the referenced dataset's keys and the checked rows' keys
//     (their values' text, hashed as multi-column keys are) go into one
//     store each, and Finish merges the two in key order to count the rows
//     whose key the reference lacks, so a reference of any size is checked
//     in the same memory (a collision, as unlikely as above, would count
//     a missing key as found). A sample shows the first 16 bytes of the
//     missing key's text, then "…" when it is longer.
//
// Semantics: a null value fails every per-row condition except one that
// names NULL (= NULL, in [..., NULL]); a where clause's NOT is two-valued
// (NOT (x > 1) selects a null x). Uniqueness rules ignore rows whose key
// has a null (IsPrimaryKey counts them as failing); Uniqueness is the
// share of rows whose value occurs once, UniqueValueRatio the share of
// distinct values that occur once; StandardDeviation is the population
// one. A ratio over no rows is 1. Row numbers count the rows given to Add,
// from 1.
//
// Header rules (ColumnCount, ColumnExists, ColumnNamesMatchPattern,
// ColumnOrder, ColumnDataType of a typed column) are decided from the
// header and the schema when the Evaluator is made. ReferentialIntegrity
// reads the referenced keys through Options.References when the Evaluator
// is made; RowCount of a whole table can come from Options.Table.
package eval

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

// Outcome is the verdict of a rule.
type Outcome int

// The outcomes of a rule.
const (
	Pass Outcome = iota + 1
	Fail
	// Error is a rule that could not be evaluated: a missing column, a
	// type the rule cannot read, a failed lookup.
	Error
)

// String returns PASS, FAIL or ERROR.
func (o Outcome) String() string {
	switch o {
	case Pass:
		return "PASS"
	case Fail:
		return "FAIL"
	case Error:
		return "ERROR"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Sample is one failing value.
type Sample struct {
	// Row is the 1-based position of the row among the rows evaluated (0
	// for a header rule).
	Row int64
	// Value is the value as text, masked for masked columns; NULL for a
	// null.
	Value string
}

// Result is the outcome of one rule of the suite.
type Result struct {
	// Rule is the rule as DQDL.
	Rule    string
	Outcome Outcome
	// Observed is the measured value, exact: a count, a ratio (a decimal,
	// or p/q when it has no finite decimal), a sum, a header.
	Observed string
	// Expected is the constraint, e.g. "> 0.95" or
	// "in [\"M\", \"F\"] with threshold > 0.9".
	Expected string
	// FailingRows is the number of rows that break the rule (for a
	// composite, the sum over its failing parts).
	FailingRows int64
	// Samples are up to Options.MaxSamples failing rows, by row number.
	Samples []Sample
	// Message explains an ERROR, or adds detail to a FAIL.
	Message string
	// Parts are a composite rule's parts' results.
	Parts []Result
}

// ReferenceLookup reads the keys of a referenced dataset for
// ReferentialIntegrity.
type ReferenceLookup interface {
	// ReferenceKeys calls add with each key of dataset's columns (in the
	// current snapshot), one value per column as text (as ValueText
	// renders it: decimals with their scale, dates 2006-01-02, timestamps
	// RFC 3339 in UTC), leaving out the keys with a null. Keys may repeat
	// and come in any order; add does not keep key, so ReferenceKeys may
	// reuse it. An error from add stops the read, and ReferenceKeys
	// returns it (wrapped or not).
	ReferenceKeys(ctx context.Context, dataset string, columns []string, add func(key []string) error) error
}

// TableStats gives whole-table figures for rules run after a load.
type TableStats interface {
	// RowCount is the number of rows of the whole table.
	RowCount(ctx context.Context) (int64, error)
}

// Options tune an Evaluator; the zero value is usable.
type Options struct {
	// Header is the source's header, in file order, for the header rules;
	// the schema's field names when nil.
	Header []string
	// Masked reports whether a column's values are masked in samples (PII
	// columns, and columns whose grade the caller may not read). Nil masks
	// nothing.
	Masked func(column string) bool
	// MemoryBudget bounds the memory of the keys of the uniqueness and
	// ReferentialIntegrity rules, shared equally among their key stores
	// (one per column set and where clause of the uniqueness rules, two
	// per ReferentialIntegrity rule); 64 MiB when 0.
	MemoryBudget int64
	// TempDir is where keys spill; os.TempDir() when empty.
	TempDir string
	// MaxSamples is the number of failing rows kept per rule; 20 when 0.
	MaxSamples int
	// References looks up ReferentialIntegrity's referenced keys; without
	// it those rules are ERROR.
	References ReferenceLookup
	// Table, when set, gives RowCount (without a where clause) the row
	// count of the whole table instead of the rows streamed.
	Table TableStats
	// Now is the time now() and DataFreshness measure from; time.Now()
	// when zero.
	Now time.Time
}

// DefaultMemoryBudget is the keys' memory budget when Options leave it 0.
const DefaultMemoryBudget = 64 << 20

// leaf is one compiled leaf rule.
type leaf interface {
	add(b *batch)
	result(ctx context.Context) Result
}

// node is a rule of the suite: a leaf or a composite of nodes.
type node struct {
	rule  *dqdl.Rule
	leaf  leaf
	parts []*node
}

// batch is one record batch being evaluated.
type batch struct {
	rec    arrow.RecordBatch
	offset int64 // rows before this batch
	masks  map[*whereEval][]bool
	errs   map[*whereEval]error
}

// mask returns w's selection for the batch (nil when w is nil: every row).
func (b *batch) mask(w *whereEval) ([]bool, error) {
	if w == nil {
		return nil, nil
	}
	if m, ok := b.masks[w]; ok {
		return m, b.errs[w]
	}
	m, err := w.mask(b.rec)
	b.masks[w], b.errs[w] = m, err
	return m, err
}

// Evaluator evaluates a suite over a stream of record batches. It is not
// safe for concurrent use.
type Evaluator struct {
	opts   Options
	schema *arrow.Schema
	header []string
	now    time.Time
	seed   uint64
	nodes  []*node
	leaves []leaf
	wheres map[string]*whereEval
	keys   map[string]*keyCollector
	refs   []*referenceLeaf
	// referenced are the key stores of the referenced datasets' keys, by
	// referenceLeaf.referenceKey.
	referenced map[string]*referenced
	read       []bool // by field: some rule reads the column's values
	rows       int64
	finished   bool
}

// New compiles rs (as dqdl.Parse or dqdl.FromStructured return it) for
// batches of schema. Rules that cannot run on these
// columns (a missing column, a mean of a STRING column) are not an error
// here: their results are ERROR with the reason. ctx is used to read the
// keys of the datasets that ReferentialIntegrity rules refer to, which
// go into key stores (spilling like uniqueness keys); a failed read makes
// the rule ERROR.
func New(ctx context.Context, rs *dqdl.Ruleset, schema *arrow.Schema, opts Options) (*Evaluator, error) {
	if rs == nil || schema == nil {
		return nil, errors.New("quality/eval: a ruleset and a schema are required")
	}
	if opts.MemoryBudget <= 0 {
		opts.MemoryBudget = DefaultMemoryBudget
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 20
	}
	e := &Evaluator{
		opts:   opts,
		schema: schema,
		header: opts.Header,
		now:    opts.Now,
		seed:   rand.Uint64(),
		wheres: map[string]*whereEval{},
		keys:   map[string]*keyCollector{},
		read:   make([]bool, schema.NumFields()),
	}
	if e.now.IsZero() {
		e.now = time.Now()
	}
	if e.header == nil {
		for _, f := range schema.Fields() {
			e.header = append(e.header, f.Name)
		}
	}
	for _, r := range rs.Rules {
		e.nodes = append(e.nodes, e.compileNode(r))
	}
	// Share the budget among the key stores: one per key collector, one
	// per ReferentialIntegrity rule for its rows, and one per referenced
	// dataset and columns, read once however many rules refer to them.
	e.referenced = map[string]*referenced{}
	for _, l := range e.refs {
		e.referenced[l.referenceKey()] = nil
	}
	if n := int64(len(e.keys) + len(e.refs) + len(e.referenced)); n > 0 {
		share := opts.MemoryBudget / n
		for _, k := range e.keys {
			k.store = newKeyStore(opts.TempDir, share)
		}
		for _, l := range e.refs {
			ref := e.referenced[l.referenceKey()]
			if ref == nil {
				ref = readReference(ctx, opts.References, l.dataset, l.refCols, e.seed, newKeyStore(opts.TempDir, share))
				e.referenced[l.referenceKey()] = ref
			}
			l.refs, l.err = ref.keys, ref.err
			l.rows = newKeyStore(opts.TempDir, share)
		}
	}
	return e, nil
}

func (e *Evaluator) compileNode(r *dqdl.Rule) *node {
	n := &node{rule: r}
	if !r.IsLeaf() {
		for _, p := range r.Parts {
			n.parts = append(n.parts, e.compileNode(p))
		}
		return n
	}
	l, err := e.compileLeaf(r)
	if err != nil {
		l = &fixedLeaf{res: Result{Rule: r.String(), Outcome: Error, Expected: expected(r), Message: err.Error()}}
	}
	n.leaf = l
	e.leaves = append(e.leaves, l)
	return n
}

// expected is the constraint text of a leaf rule.
func expected(r *dqdl.Rule) string {
	var s string
	switch r.Type {
	case dqdl.TypeIsComplete:
		s = "completeness = 1"
	case dqdl.TypeIsUnique:
		s = "uniqueness = 1"
	case dqdl.TypeIsPrimaryKey:
		s = "completeness = 1, uniqueness = 1"
	case dqdl.TypeColumnExists:
		s = "present"
	case dqdl.TypeColumnNamesMatchPattern:
		s = "every column name matches " + dqdl.Value{Kind: dqdl.String, Text: r.Params[0]}.String()
	case dqdl.TypeColumnOrder:
		s = listText(r.Cond.Values)
	default:
		s = r.Cond.String()
	}
	if r.Threshold != nil {
		if s == "" {
			s = "with threshold " + r.Threshold.String()
		} else {
			s += " with threshold " + r.Threshold.String()
		}
	}
	return s
}

func listText(vs []dqdl.Value) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func namesText(names []string) string {
	vs := make([]dqdl.Value, len(names))
	for i, n := range names {
		vs[i] = dqdl.Value{Kind: dqdl.String, Text: n}
	}
	return listText(vs)
}

func (e *Evaluator) column(name string) (int, arrow.Field, error) {
	idx := e.schema.FieldIndices(name)
	if len(idx) == 0 {
		return -1, arrow.Field{}, fmt.Errorf("column %q is not in the data", name)
	}
	e.read[idx[0]] = true
	return idx[0], e.schema.Field(idx[0]), nil
}

// ColumnsRead names the columns whose values some rule reads, in schema
// order. The values of the other columns never reach a result: a source
// may leave them out of the batches (as nulls).
func (e *Evaluator) ColumnsRead() []string {
	var names []string
	for i, r := range e.read {
		if r {
			names = append(names, e.schema.Field(i).Name)
		}
	}
	return names
}

func (e *Evaluator) masked(col string) bool { return e.opts.Masked != nil && e.opts.Masked(col) }

// plainCond compiles a condition on a plain number (a count, a ratio, a
// mean).
func plainCond(c *dqdl.Condition) (*ratCond, error) {
	return newRatCond(c, arrow.PrimitiveTypes.Float64, time.Time{})
}

func (e *Evaluator) where(r *dqdl.Rule) (*whereEval, error) {
	if r.Where == "" {
		return nil, nil
	}
	if w, ok := e.wheres[r.Where]; ok {
		return w, nil
	}
	w, err := compileWhere(r.Where, e, e.now)
	if err != nil {
		return nil, fmt.Errorf("where %q: %w", r.Where, err)
	}
	e.wheres[r.Where] = w
	return w, nil
}

func (e *Evaluator) compileLeaf(r *dqdl.Rule) (leaf, error) {
	text := r.String()
	res := Result{Rule: text, Expected: expected(r)}
	switch r.Type {
	case dqdl.TypeColumnCount:
		rc, err := plainCond(r.Cond)
		if err != nil {
			return nil, err
		}
		res.Observed = strconv.Itoa(len(e.header))
		res.Outcome = verdict(rc.testRat(ratInt(int64(len(e.header)))))
		return &fixedLeaf{res: res}, nil
	case dqdl.TypeColumnExists:
		res.Observed = "absent"
		res.Outcome = Fail
		if slices.Contains(e.header, r.Params[0]) {
			res.Observed, res.Outcome = "present", Pass
		}
		return &fixedLeaf{res: res}, nil
	case dqdl.TypeColumnNamesMatchPattern:
		re, err := regexp.Compile(`^(?:` + r.Params[0] + `)$`)
		if err != nil {
			return nil, err
		}
		var bad []string
		for _, h := range e.header {
			if !re.MatchString(h) {
				bad = append(bad, h)
				if len(res.Samples) < e.opts.MaxSamples {
					res.Samples = append(res.Samples, Sample{Value: h})
				}
			}
		}
		res.Observed = formatRat(ratio(int64(len(e.header)-len(bad)), int64(len(e.header))))
		res.Outcome = verdict(len(bad) == 0)
		if len(bad) > 0 {
			res.Message = "columns not matching: " + namesText(bad)
		}
		return &fixedLeaf{res: res}, nil
	case dqdl.TypeColumnOrder:
		want := make([]string, len(r.Cond.Values))
		for i, v := range r.Cond.Values {
			want[i] = v.Text
		}
		res.Observed = namesText(e.header)
		res.Outcome = verdict(slices.Equal(want, e.header))
		if res.Outcome == Fail {
			res.Message = orderDiff(want, e.header)
		}
		return &fixedLeaf{res: res}, nil
	case dqdl.TypeColumnDataType:
		_, f, err := e.column(r.Params[0])
		if err != nil {
			return nil, err
		}
		var types []string
		for _, v := range r.Cond.Values {
			types = append(types, v.Text)
		}
		if _, isString := f.Type.(*arrow.StringType); isString && !slices.ContainsFunc(types, func(t string) bool { return typeMatches(t, "STRING") }) {
			return e.compliance(r, castPred{types: types})
		}
		res.Observed = typeName(f.Type)
		res.Outcome = verdict(slices.ContainsFunc(types, func(t string) bool { return typeMatches(t, res.Observed) }))
		return &fixedLeaf{res: res}, nil
	case dqdl.TypeIsComplete, dqdl.TypeCompleteness:
		return e.compliance(r, nullPred{})
	case dqdl.TypeColumnValues:
		_, f, err := e.column(r.Params[0])
		if err != nil {
			return nil, err
		}
		p, err := compilePred(r.Cond, f.Type, e.now)
		if err != nil {
			return nil, err
		}
		return e.compliance(r, p)
	case dqdl.TypeColumnLength:
		_, f, err := e.column(r.Params[0])
		if err != nil {
			return nil, err
		}
		if _, ok := f.Type.(*arrow.StringType); !ok {
			return nil, fmt.Errorf("ColumnLength needs a STRING column; %q is %s", f.Name, typeName(f.Type))
		}
		rc, err := plainCond(r.Cond)
		if err != nil {
			return nil, err
		}
		return e.compliance(r, lengthPred{newIntPred(rc)})
	case dqdl.TypeDataFreshness:
		_, f, err := e.column(r.Params[0])
		if err != nil {
			return nil, err
		}
		switch f.Type.(type) {
		case *arrow.Date32Type, *arrow.TimestampType:
		default:
			return nil, fmt.Errorf("DataFreshness needs a DATE or TIMESTAMP column; %q is %s", f.Name, typeName(f.Type))
		}
		p, err := compilePred(freshnessCond(r.Cond), f.Type, e.now)
		if err != nil {
			return nil, err
		}
		return e.compliance(r, p)
	case dqdl.TypeMean, dqdl.TypeSum, dqdl.TypeStandardDeviation:
		return e.stat(r)
	case dqdl.TypeRowCount:
		rc, err := plainCond(r.Cond)
		if err != nil {
			return nil, err
		}
		w, err := e.where(r)
		if err != nil {
			return nil, err
		}
		return &rowCountLeaf{res: res, cond: rc, reader: reader{where: w}, table: e.opts.Table}, nil
	case dqdl.TypeIsUnique, dqdl.TypeUniqueness, dqdl.TypeIsPrimaryKey, dqdl.TypeUniqueValueRatio, dqdl.TypeDistinctValuesCount:
		return e.unique(r)
	case dqdl.TypeReferentialIntegrity:
		return e.reference(r)
	case dqdl.TypeCustomSQL:
		return nil, errors.New("lakeplane has no SQL engine to run CustomSql")
	}
	return nil, fmt.Errorf("rule type %s is not evaluated", r.Type)
}

func verdict(ok bool) Outcome {
	if ok {
		return Pass
	}
	return Fail
}

// orderDiff describes the first difference between two column orders.
func orderDiff(want, got []string) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("the header ends after %d columns; position %d should be %q", len(got), i+1, want[i])
		case i >= len(want):
			return fmt.Sprintf("the header has %d columns, %d expected; position %d is %q", len(got), len(want), i+1, got[i])
		case want[i] != got[i]:
			return fmt.Sprintf("position %d is %q, expected %q", i+1, got[i], want[i])
		}
	}
	return ""
}

// Add evaluates one batch. It fails only when ctx is done or after
// Finish; a rule that cannot read the batch becomes ERROR.
func (e *Evaluator) Add(ctx context.Context, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.finished {
		return errors.New("quality/eval: Add after Finish")
	}
	if !rec.Schema().Equal(e.schema) {
		return fmt.Errorf("quality/eval: the batch's schema %s is not the evaluator's %s", rec.Schema(), e.schema)
	}
	b := &batch{rec: rec, offset: e.rows, masks: map[*whereEval][]bool{}, errs: map[*whereEval]error{}}
	for _, k := range e.keys {
		k.add(b)
	}
	for _, l := range e.leaves {
		l.add(b)
	}
	e.rows += rec.NumRows()
	return nil
}

// Rows returns the number of rows evaluated so far.
func (e *Evaluator) Rows() int64 { return e.rows }

// Finish completes the evaluation and returns one result per rule of the
// suite, in order. It removes the spill files. Stopped by ctx, the
// unfinished rules are ERROR.
func (e *Evaluator) Finish(ctx context.Context) []Result {
	e.finished = true
	out := make([]Result, len(e.nodes))
	for i, n := range e.nodes {
		out[i] = n.result(ctx)
	}
	e.Close()
	return out
}

// Close removes the spill files of an evaluation abandoned before Finish.
// It is safe to call more than once.
func (e *Evaluator) Close() error {
	var errs []error
	for _, k := range e.keys {
		if err := k.store.close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range e.refs {
		if err := l.rows.close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ref := range e.referenced {
		if ref.keys != nil {
			if err := ref.keys.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Passed reports whether every result passed.
func Passed(results []Result) bool {
	for _, r := range results {
		if r.Outcome != Pass {
			return false
		}
	}
	return true
}

// Overall is the outcome of a whole validation: ERROR if any rule is
// ERROR, else FAIL if any failed, else PASS.
func Overall(results []Result) Outcome {
	o := Pass
	for _, r := range results {
		switch r.Outcome {
		case Error:
			return Error
		case Fail:
			o = Fail
		}
	}
	return o
}

func (n *node) result(ctx context.Context) Result {
	if n.leaf != nil {
		return n.leaf.result(ctx)
	}
	res := Result{Rule: n.rule.String()}
	var pass, fail, errs int
	var obs, exp []string
	for _, p := range n.parts {
		pr := p.result(ctx)
		res.Parts = append(res.Parts, pr)
		obs = append(obs, "("+pr.Observed+")")
		exp = append(exp, "("+pr.Expected+")")
		switch pr.Outcome {
		case Pass:
			pass++
		case Fail:
			fail++
			res.FailingRows += pr.FailingRows
			for _, s := range pr.Samples {
				if len(res.Samples) < 20 {
					res.Samples = append(res.Samples, s)
				}
			}
		default:
			errs++
		}
	}
	// and: one FAIL fails it; or: one PASS passes it. Otherwise an ERROR
	// part makes it ERROR.
	join, decisive, other, count := " and ", Fail, Pass, fail
	if n.rule.Composite == dqdl.Or {
		join, decisive, other, count = " or ", Pass, Fail, pass
	}
	switch {
	case count > 0:
		res.Outcome = decisive
	case errs > 0:
		res.Outcome = Error
	default:
		res.Outcome = other
	}
	if res.Outcome == Pass {
		res.FailingRows, res.Samples = 0, nil
	}
	if res.Outcome == Error {
		res.Message = "a part could not be evaluated"
	}
	res.Observed = strings.Join(obs, join)
	res.Expected = strings.Join(exp, join)
	return res
}

// fixedLeaf is a rule decided before any batch (header rules, errors).
type fixedLeaf struct{ res Result }

func (l *fixedLeaf) add(*batch)                    {}
func (l *fixedLeaf) result(context.Context) Result { return l.res }
