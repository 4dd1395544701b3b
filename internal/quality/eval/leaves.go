package eval

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"

	"github.com/lakeplane/lakeplane/internal/pii"
	"github.com/lakeplane/lakeplane/internal/quality/dqdl"
)

func ratInt(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

// sampler keeps the first failing rows of a rule.
type sampler struct {
	max     int
	mask    bool
	samples []Sample
}

func (s *sampler) take(row int64, v string) {
	if len(s.samples) >= s.max {
		return
	}
	if s.mask && v != "NULL" {
		v = pii.Mask(v)
	}
	s.samples = append(s.samples, Sample{Row: row, Value: v})
}

// reader is what every batch-reading leaf shares: its where clause and
// the first error, after which it reads no more batches.
type reader struct {
	where *whereEval
	err   error
}

// selection returns the rows of b the leaf reads (nil: all), and false
// when the leaf has failed and reads no more.
func (r *reader) selection(b *batch) ([]bool, bool) {
	if r.err != nil {
		return nil, false
	}
	sel, err := b.mask(r.where)
	if err != nil {
		r.err = err
		return nil, false
	}
	return sel, true
}

// errored makes res an ERROR when the leaf failed, and reports whether it
// did.
func (r *reader) errored(res *Result) bool {
	if r.err == nil {
		return false
	}
	res.Outcome, res.Message = Error, r.err.Error()
	return true
}

// complianceLeaf counts the rows whose value satisfies a per-row
// predicate: IsComplete, Completeness, ColumnValues, ColumnLength,
// DataFreshness and ColumnDataType of a STRING column.
type complianceLeaf struct {
	res  Result
	rule *dqdl.Rule
	reader
	col       int
	pred      pred
	cond      *ratCond // Completeness: the condition on the ratio
	threshold *ratCond
	rows      int64
	failed    int64
	smp       sampler
}

func (e *Evaluator) compliance(r *dqdl.Rule, p pred) (leaf, error) {
	col, f, err := e.column(r.Params[0])
	if err != nil {
		return nil, err
	}
	w, err := e.where(r)
	if err != nil {
		return nil, err
	}
	l := &complianceLeaf{
		res:  Result{Rule: r.String(), Expected: expected(r)},
		rule: r, col: col, pred: p, reader: reader{where: w},
		smp: sampler{max: e.opts.MaxSamples, mask: e.masked(f.Name)},
	}
	if r.Type == dqdl.TypeCompleteness {
		if l.cond, err = plainCond(r.Cond); err != nil {
			return nil, err
		}
	}
	if r.Threshold != nil {
		if l.threshold, err = plainCond(r.Threshold); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func countSelected(sel []bool, n int) int64 {
	if sel == nil {
		return int64(n)
	}
	var c int64
	for _, s := range sel {
		if s {
			c++
		}
	}
	return c
}

func (l *complianceLeaf) add(b *batch) {
	sel, ok := l.selection(b)
	if !ok {
		return
	}
	a := b.rec.Column(l.col)
	l.rows += countSelected(sel, a.Len())
	l.err = l.pred.scan(a, sel, func(i int) {
		l.failed++
		if len(l.smp.samples) < l.smp.max {
			l.smp.take(b.offset+int64(i)+1, text(a, i))
		}
	})
}

func (l *complianceLeaf) result(context.Context) Result {
	res := l.res
	if l.errored(&res) {
		return res
	}
	c := ratio(l.rows-l.failed, l.rows)
	res.Observed = formatRat(c)
	switch {
	case l.cond != nil:
		res.Outcome = verdict(l.cond.testRat(c))
	case l.threshold != nil:
		res.Outcome = verdict(l.threshold.testRat(c))
	default:
		res.Outcome = verdict(l.failed == 0)
	}
	res.FailingRows = l.failed
	if res.Outcome == Fail || l.threshold != nil {
		res.Samples = l.smp.samples
	}
	if res.Outcome == Fail {
		res.Message = fmt.Sprintf("%d of %d rows fail", l.failed, l.rows)
	}
	return res
}

// statLeaf is Mean, Sum or StandardDeviation.
type statLeaf struct {
	res Result
	reader
	typ  string
	col  int
	acc  *numAcc
	cond *ratCond
}

func (e *Evaluator) stat(r *dqdl.Rule) (leaf, error) {
	col, f, err := e.column(r.Params[0])
	if err != nil {
		return nil, err
	}
	acc, err := newNumAcc(f.Type)
	if err != nil {
		return nil, fmt.Errorf("%s of %q: %w", r.Type, f.Name, err)
	}
	w, err := e.where(r)
	if err != nil {
		return nil, err
	}
	rc, err := plainCond(r.Cond)
	if err != nil {
		return nil, err
	}
	return &statLeaf{res: Result{Rule: r.String(), Expected: expected(r)}, typ: r.Type, col: col, reader: reader{where: w}, acc: acc, cond: rc}, nil
}

func (l *statLeaf) add(b *batch) {
	sel, ok := l.selection(b)
	if !ok {
		return
	}
	l.err = l.acc.add(b.rec.Column(l.col), sel)
}

func (l *statLeaf) result(context.Context) Result {
	res := l.res
	if l.errored(&res) {
		return res
	}
	sum, mean, variance, ok := l.acc.stats()
	switch l.typ {
	case dqdl.TypeSum:
		res.Observed = formatRat(sum)
		res.Outcome = verdict(l.cond.testRat(sum))
		return res
	case dqdl.TypeMean:
		if ok {
			res.Observed = formatRat(mean)
			res.Outcome = verdict(l.cond.testRat(mean))
			return res
		}
	default:
		if ok {
			res.Observed = sqrtText(variance)
			res.Outcome = verdict(l.cond.test(func(c *big.Rat) int { return cmpSqrt(variance, c) }))
			return res
		}
	}
	res.Outcome, res.Message = Error, "the column has no non-null values"
	return res
}

// rowCountLeaf is RowCount.
type rowCountLeaf struct {
	reader
	res   Result
	cond  *ratCond
	table TableStats
	rows  int64
}

func (l *rowCountLeaf) add(b *batch) {
	sel, ok := l.selection(b)
	if !ok {
		return
	}
	l.rows += countSelected(sel, int(b.rec.NumRows()))
}

func (l *rowCountLeaf) result(ctx context.Context) Result {
	res := l.res
	n := l.rows
	if l.table != nil && l.where == nil && l.err == nil {
		n, l.err = l.table.RowCount(ctx)
	}
	if l.errored(&res) {
		return res
	}
	res.Observed = fmt.Sprint(n)
	res.Outcome = verdict(l.cond.testRat(ratInt(n)))
	return res
}

// keyCollector feeds the keys of a column set (under a where clause) to a
// keyStore, shared by every uniqueness rule on the same columns.
type keyCollector struct {
	reader
	cols    []int
	types   []arrow.DataType
	seed    uint64
	exact   bool // single column whose value is its key
	mask    bool
	store   *keyStore
	nulls   int64
	nullSmp sampler
	done    bool
	stats   keyStats
	scratch keyText
}

func (e *Evaluator) collector(r *dqdl.Rule) (*keyCollector, error) {
	w, err := e.where(r)
	if err != nil {
		return nil, err
	}
	id := strings.Join(r.Params, "\x00") + "\x01" + r.Where
	if k, ok := e.keys[id]; ok {
		return k, nil
	}
	k := &keyCollector{reader: reader{where: w}, seed: e.seed, nullSmp: sampler{max: e.opts.MaxSamples}}
	for _, name := range r.Params {
		col, f, err := e.column(name)
		if err != nil {
			return nil, err
		}
		k.cols = append(k.cols, col)
		k.types = append(k.types, f.Type)
		k.mask = k.mask || e.masked(name)
	}
	k.nullSmp.mask = k.mask
	if len(k.cols) == 1 {
		switch k.types[0].(type) {
		case *arrow.StringType:
		default:
			k.exact = true
		}
	}
	e.keys[id] = k
	return k, nil
}

// exactKey is the 128-bit key of value i of a single-column collector.
func exactKey(a arrow.Array, i int) (k0, k1 uint64, ok bool) {
	switch a := a.(type) {
	case *array.Int64:
		return uint64(a.Value(i)), 0, true
	case *array.Int32:
		return uint64(int64(a.Value(i))), 0, true
	case *array.Date32:
		return uint64(int64(a.Value(i))), 0, true
	case *array.Timestamp:
		return uint64(int64(a.Value(i))), 0, true
	case *array.Boolean:
		if a.Value(i) {
			return 1, 0, true
		}
		return 0, 0, true
	case *array.Float64:
		v := a.Value(i)
		if v == 0 {
			v = 0 // -0 is 0
		}
		if math.IsNaN(v) {
			return math.Float64bits(math.NaN()), 0, true
		}
		return math.Float64bits(v), 0, true
	case *array.Decimal128:
		v := a.Value(i)
		return v.LowBits(), uint64(v.HighBits()), true
	}
	return 0, 0, false
}

func (k *keyCollector) add(b *batch) {
	sel, ok := k.selection(b)
	if !ok {
		return
	}
	n := int(b.rec.NumRows())
	if len(k.cols) == 1 {
		a := b.rec.Column(k.cols[0])
		nulls := a.NullN() > 0
		if i64, ok := a.(*array.Int64); ok && sel == nil && !nulls {
			for i, v := range i64.Int64Values() {
				if err := k.store.add(uint64(v), 0, b.offset+int64(i)+1, ""); err != nil {
					k.err = err
					return
				}
			}
			return
		}
		s, isString := a.(*array.String)
		for i := range n {
			if sel != nil && !sel[i] {
				continue
			}
			row := b.offset + int64(i) + 1
			if nulls && a.IsNull(i) {
				k.nulls++
				k.nullSmp.take(row, "NULL")
				continue
			}
			var err error
			if isString {
				v := s.Value(i)
				h := xxh3.HashString128Seed(v, k.seed)
				err = k.store.add(h.Lo, h.Hi, row, v)
			} else {
				k0, k1, ok := exactKey(a, i)
				if !ok {
					v := text(a, i)
					h := xxh3.HashString128Seed(v, k.seed)
					k0, k1 = h.Lo, h.Hi
				}
				err = k.store.add(k0, k1, row, "")
			}
			if err != nil {
				k.err = err
				return
			}
		}
		return
	}
	arrs := make([]arrow.Array, len(k.cols))
	for j, c := range k.cols {
		arrs[j] = b.rec.Column(c)
	}
	for i := range n {
		if sel != nil && !sel[i] {
			continue
		}
		row := b.offset + int64(i) + 1
		if !k.scratch.fromRow(arrs, i) {
			k.nulls++
			k.nullSmp.take(row, "NULL")
			continue
		}
		h := k.scratch.hash(k.seed)
		if err := k.store.add(h.Lo, h.Hi, row, k.scratch.prefix()); err != nil {
			k.err = err
			return
		}
	}
}

// keyText is the scratch of a key of one or more text values: its
// encoding for the hash, each value after its length as a uvarint so that
// no two keys encode alike ("ab" "c" and "a" "bc" differ), and the start
// of the values joined by ", " for samples.
type keyText struct {
	enc    []byte
	shown  []byte
	values int
}

// shownBytes is how much of a key's text keyText keeps: the 16 bytes of an
// entry's prefix and one more to tell that the text was longer.
const shownBytes = 17

func (k *keyText) reset() { k.enc, k.shown, k.values = k.enc[:0], k.shown[:0], 0 }

// fromRow sets the key to the values of arrs in row i, and reports false
// when one of them is null.
func (k *keyText) fromRow(arrs []arrow.Array, i int) bool {
	k.reset()
	for _, a := range arrs {
		if a.IsNull(i) {
			return false
		}
		k.add(text(a, i))
	}
	return true
}

// set sets the key to values.
func (k *keyText) set(values []string) {
	k.reset()
	for _, v := range values {
		k.add(v)
	}
}

// add appends the next value of the key.
func (k *keyText) add(v string) {
	k.enc = binary.AppendUvarint(k.enc, uint64(len(v)))
	k.enc = append(k.enc, v...)
	if len(k.shown) < shownBytes {
		if k.values > 0 {
			k.shown = append(k.shown, ", "...)
		}
		k.shown = append(k.shown, v[:min(len(v), shownBytes)]...)
	}
	k.values++
}

// hash is the key's 128-bit hash with seed.
func (k *keyText) hash(seed uint64) xxh3.Uint128 { return xxh3.Hash128Seed(k.enc, seed) }

// prefix is the start of the key's text, as much as keyStore.add keeps.
func (k *keyText) prefix() string { return string(k.shown[:min(len(k.shown), shownBytes)]) }

func (k *keyCollector) finish(ctx context.Context, maxSamples int) {
	if k.done {
		return
	}
	k.done = true
	if k.err != nil {
		k.store.close()
		return
	}
	k.stats, k.err = k.store.finish(ctx, maxSamples)
}

// sampleValue renders a duplicated entry's value.
func (k *keyCollector) sampleValue(e entry) string {
	var v string
	if k.exact {
		t := k.types[0]
		switch t := t.(type) {
		case *arrow.Int64Type, *arrow.Int32Type:
			v = fmt.Sprint(int64(e.k0))
		case *arrow.Date32Type:
			v = arrow.Date32(int32(int64(e.k0))).ToTime().Format(time.DateOnly)
		case *arrow.TimestampType:
			v = time.UnixMicro(int64(e.k0)).UTC().Format(time.RFC3339Nano)
		case *arrow.BooleanType:
			v = fmt.Sprint(e.k0 == 1)
		case *arrow.Float64Type:
			v = fmt.Sprint(math.Float64frombits(e.k0))
		case *arrow.Decimal128Type:
			v = decimalText(e.k1, e.k0, t.Scale)
		}
	} else {
		v = prefixText(e)
	}
	if k.mask {
		v = pii.Mask(v)
	}
	return v
}

// prefixText renders the text an entry keeps of its value: the prefix cut
// back to whole UTF-8 characters, then "…" when the value was longer.
func prefixText(e entry) string {
	v := e.prefix()
	for len(v) > 0 && !utf8.ValidString(v) {
		v = v[:len(v)-1]
	}
	if e.truncated() {
		v += "…"
	}
	return v
}

// uniqueLeaf is IsUnique, Uniqueness, IsPrimaryKey, UniqueValueRatio or
// DistinctValuesCount.
type uniqueLeaf struct {
	res  Result
	typ  string
	k    *keyCollector
	cond *ratCond
	max  int
}

func (e *Evaluator) unique(r *dqdl.Rule) (leaf, error) {
	k, err := e.collector(r)
	if err != nil {
		return nil, err
	}
	l := &uniqueLeaf{res: Result{Rule: r.String(), Expected: expected(r)}, typ: r.Type, k: k, max: e.opts.MaxSamples}
	if r.Cond != nil {
		if l.cond, err = plainCond(r.Cond); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *uniqueLeaf) add(*batch) {} // the collector is fed once per batch by the Evaluator

func (l *uniqueLeaf) result(ctx context.Context) Result {
	res := l.res
	l.k.finish(ctx, l.max)
	if l.k.errored(&res) {
		return res
	}
	st := l.k.stats
	uniqueness := ratio(st.singles, st.keys)
	dupSamples := func() []Sample {
		out := make([]Sample, 0, len(st.samples))
		for _, e := range st.samples {
			out = append(out, Sample{Row: e.rowNum(), Value: l.k.sampleValue(e)})
		}
		return out
	}
	switch l.typ {
	case dqdl.TypeIsUnique:
		res.Observed = formatRat(uniqueness)
		res.Outcome = verdict(st.dupRows == 0)
		res.FailingRows = st.dupRows
	case dqdl.TypeUniqueness:
		res.Observed = formatRat(uniqueness)
		res.Outcome = verdict(l.cond.testRat(uniqueness))
		res.FailingRows = st.dupRows
	case dqdl.TypeIsPrimaryKey:
		completeness := ratio(st.keys, st.keys+l.k.nulls)
		res.Observed = "completeness " + formatRat(completeness) + ", uniqueness " + formatRat(uniqueness)
		res.Outcome = verdict(st.dupRows == 0 && l.k.nulls == 0)
		res.FailingRows = st.dupRows + l.k.nulls
		if res.Outcome == Fail {
			res.Samples = mergeSamples(dupSamples(), l.k.nullSmp.samples, l.max)
			res.Message = fmt.Sprintf("%d duplicated rows, %d rows with a null key", st.dupRows, l.k.nulls)
		}
		return res
	case dqdl.TypeUniqueValueRatio:
		r := ratio(st.singles, st.distinct)
		res.Observed = formatRat(r)
		res.Outcome = verdict(l.cond.testRat(r))
		return res
	case dqdl.TypeDistinctValuesCount:
		res.Observed = fmt.Sprint(st.distinct)
		res.Outcome = verdict(l.cond.testRat(ratInt(st.distinct)))
		return res
	}
	if res.Outcome == Fail {
		res.Samples = dupSamples()
		res.Message = fmt.Sprintf("%d of %d rows hold a value that repeats (%d distinct values)", st.dupRows, st.keys, st.distinct)
	}
	return res
}

// mergeSamples merges two row-ordered sample lists, keeping the first n.
func mergeSamples(a, b []Sample, n int) []Sample {
	out := make([]Sample, 0, min(n, len(a)+len(b)))
	for len(out) < n && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || len(a) > 0 && a[0].Row <= b[0].Row {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// decimalText prints a 128-bit unscaled decimal.
func decimalText(hi, lo uint64, scale int32) string {
	v := new(big.Int).SetInt64(int64(hi))
	v.Lsh(v, 64)
	v.Add(v, new(big.Int).SetUint64(lo))
	r := new(big.Rat).SetFrac(v, pow10(int(scale)))
	return r.FloatString(int(scale))
}

// referenceLeaf is ReferentialIntegrity: a sort-merge anti-join in
// bounded memory. The referenced keys are in a key store (refs) read when
// the Evaluator is made and shared by the rules that refer to the same
// dataset and columns (see readReference); the checked rows' keys go with
// their row numbers into a store of the rule's own (rows). result merges
// the two in key order and counts the rows whose key is not among the
// referenced ones. Keys of both sides are the values' text, length-prefixed
// (keyText) and hashed with the Evaluator's seed.
type referenceLeaf struct {
	reader
	res     Result
	cols    []int
	dataset string
	refCols []string
	seed    uint64
	refs    *keyStore
	rows    *keyStore
	cond    *ratCond
	max     int
	mask    bool
	scratch keyText
}

// referenceKey names what the rule refers to: its dataset and columns.
func (l *referenceLeaf) referenceKey() string {
	return l.dataset + "\x00" + strings.Join(l.refCols, "\x00")
}

// referenced is the key store of the keys of one referenced dataset's
// columns, or the error that reading them gave.
type referenced struct {
	keys *keyStore
	err  error
}

// readReference reads the keys of dataset's columns refCols into keys,
// each length-prefixed and hashed with seed as referenceLeaf.add hashes
// the checked rows' keys. A failed read removes what keys spilled.
func readReference(ctx context.Context, lookup ReferenceLookup, dataset string, refCols []string, seed uint64, keys *keyStore) *referenced {
	var scratch keyText
	err := lookup.ReferenceKeys(ctx, dataset, refCols, func(key []string) error {
		scratch.set(key)
		h := scratch.hash(seed)
		return keys.add(h.Lo, h.Hi, 0, "")
	})
	if err != nil {
		return &referenced{err: errors.Join(fmt.Errorf("looking up %s%s: %w", dataset, namesText(refCols), err), keys.close())}
	}
	return &referenced{keys: keys}
}

func (e *Evaluator) reference(r *dqdl.Rule) (leaf, error) {
	cols, dataset, refCols, err := dqdl.SplitReference(r.Params[0], r.Params[1])
	if err != nil {
		return nil, err
	}
	if e.opts.References == nil {
		return nil, fmt.Errorf("no reference lookup is configured to read %s", dataset)
	}
	l := &referenceLeaf{res: Result{Rule: r.String(), Expected: expected(r)}, dataset: dataset, refCols: refCols, seed: e.seed, max: e.opts.MaxSamples}
	for _, c := range cols {
		idx, _, err := e.column(c)
		if err != nil {
			return nil, err
		}
		l.cols = append(l.cols, idx)
		l.mask = l.mask || e.masked(c)
	}
	if l.where, err = e.where(r); err != nil {
		return nil, err
	}
	if l.cond, err = plainCond(r.Cond); err != nil {
		return nil, err
	}
	e.refs = append(e.refs, l)
	return l, nil
}

func (l *referenceLeaf) add(b *batch) {
	sel, ok := l.selection(b)
	if !ok {
		return
	}
	arrs := make([]arrow.Array, len(l.cols))
	for j, c := range l.cols {
		arrs[j] = b.rec.Column(c)
	}
	for i := range int(b.rec.NumRows()) {
		if sel != nil && !sel[i] {
			continue
		}
		if !l.scratch.fromRow(arrs, i) {
			continue // a null refers to nothing, as in SQL
		}
		h := l.scratch.hash(l.seed)
		if err := l.rows.add(h.Lo, h.Hi, b.offset+int64(i)+1, l.scratch.prefix()); err != nil {
			l.err = err
			return
		}
	}
}

// result merges the leaf's rows with the referenced keys; Evaluator.Close
// (which Finish calls) removes whatever spill files are left.
func (l *referenceLeaf) result(ctx context.Context) Result {
	res := l.res
	if l.errored(&res) {
		return res
	}
	checked, miss, missing, err := antiJoin(ctx, l.refs, l.rows, l.max)
	if err != nil {
		l.err = err
		l.errored(&res)
		return res
	}
	c := ratio(checked-miss, checked)
	res.Observed = formatRat(c)
	res.Outcome = verdict(l.cond.testRat(c))
	res.FailingRows = miss
	if miss > 0 {
		smp := sampler{max: l.max, mask: l.mask}
		for _, e := range missing {
			smp.take(e.rowNum(), prefixText(e))
		}
		res.Samples = smp.samples
		res.Message = fmt.Sprintf("%d of %d rows refer to no row of the reference", miss, checked)
	}
	return res
}

// whereEval is a compiled where clause.
type whereEval struct {
	col  int
	root *wnode
}

type wnode struct {
	op    dqdl.WhereOp
	parts []*wnode
	p     pred
}

func compileWhere(text string, e *Evaluator, now time.Time) (*whereEval, error) {
	w, err := dqdl.ParseWhere(text)
	if err != nil {
		return nil, err
	}
	col, f, err := e.column(w.Column)
	if err != nil {
		return nil, err
	}
	var build func(x *dqdl.WhereExpr) (*wnode, error)
	build = func(x *dqdl.WhereExpr) (*wnode, error) {
		n := &wnode{op: x.Op}
		if x.Op == dqdl.WhereTest {
			c := x.Cond
			p, err := compilePred(c, f.Type, now)
			if err != nil {
				return nil, err
			}
			n.p = p
			return n, nil
		}
		for _, part := range x.Parts {
			pn, err := build(part)
			if err != nil {
				return nil, err
			}
			n.parts = append(n.parts, pn)
		}
		return n, nil
	}
	root, err := build(w.Expr)
	if err != nil {
		return nil, err
	}
	return &whereEval{col: col, root: root}, nil
}

func (w *whereEval) mask(rec arrow.RecordBatch) ([]bool, error) {
	return w.root.eval(rec.Column(w.col))
}

func (n *wnode) eval(a arrow.Array) ([]bool, error) {
	m := make([]bool, a.Len())
	switch n.op {
	case dqdl.WhereTest:
		for i := range m {
			m[i] = true
		}
		err := n.p.scan(a, nil, func(i int) { m[i] = false })
		return m, err
	case dqdl.WhereNot:
		sub, err := n.parts[0].eval(a)
		if err != nil {
			return nil, err
		}
		for i := range m {
			m[i] = !sub[i]
		}
		return m, nil
	}
	and := n.op == dqdl.WhereAnd
	for i := range m {
		m[i] = and
	}
	for _, p := range n.parts {
		sub, err := p.eval(a)
		if err != nil {
			return nil, err
		}
		for i := range m {
			if and {
				m[i] = m[i] && sub[i]
			} else {
				m[i] = m[i] || sub[i]
			}
		}
	}
	return m, nil
}
