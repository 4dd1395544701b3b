package eval

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// floatPrec is enough bits for sums of float64 values and of their squares
// to be exact: squares span exponents from -2148 to 2046.
const floatPrec = 4400

// numAcc sums a numeric column exactly: integers and unscaled decimals in
// int64 and 128-bit accumulators that spill into big.Int, doubles in
// big.Float wide enough never to round.
type numAcc struct {
	n     int64
	scale int32 // decimal scale; the sums are of unscaled values
	float bool

	sumSmall int64
	sum      big.Int
	sqHi     uint64 // 128-bit sum of squares, spilled into sq
	sqLo     uint64
	sq       big.Int

	fsum, fsq *big.Float
	tmp       big.Int
}

func newNumAcc(t arrow.DataType) (*numAcc, error) {
	a := &numAcc{}
	switch t := t.(type) {
	case *arrow.Int32Type, *arrow.Int64Type:
	case *arrow.Decimal128Type:
		a.scale = t.Scale
	case *arrow.Float64Type:
		a.float = true
		a.fsum = new(big.Float).SetPrec(floatPrec)
		a.fsq = new(big.Float).SetPrec(floatPrec)
	default:
		return nil, fmt.Errorf("needs a numeric column (INT32, INT64, DECIMAL or DOUBLE), not %s", typeName(t))
	}
	return a, nil
}

func (a *numAcc) addInt(v int64) {
	a.n++
	if s := a.sumSmall + v; (v > 0 && s < a.sumSmall) || (v < 0 && s > a.sumSmall) {
		a.sum.Add(&a.sum, a.tmp.SetInt64(a.sumSmall))
		a.sumSmall = v
	} else {
		a.sumSmall = s
	}
	m := v
	if m < 0 {
		m = -m // MinInt64 stays negative; as uint64 it is 2^63, which is right
	}
	hi, lo := bits.Mul64(uint64(m), uint64(m))
	var c uint64
	a.sqLo, c = bits.Add64(a.sqLo, lo, 0)
	a.sqHi += hi + c
	if a.sqHi > 1<<62 {
		a.flushSq()
	}
}

func (a *numAcc) flushSq() {
	var t big.Int
	t.SetUint64(a.sqHi)
	t.Lsh(&t, 64)
	t.Add(&t, a.tmp.SetUint64(a.sqLo))
	a.sq.Add(&a.sq, &t)
	a.sqHi, a.sqLo = 0, 0
}

func (a *numAcc) addBig(v *big.Int) {
	a.n++
	a.sum.Add(&a.sum, v)
	var sq big.Int
	a.sq.Add(&a.sq, sq.Mul(v, v))
}

func (a *numAcc) addFloat(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("the column holds %v", v)
	}
	a.n++
	x := new(big.Float).SetPrec(floatPrec).SetFloat64(v)
	a.fsum.Add(a.fsum, x)
	a.fsq.Add(a.fsq, x.Mul(x, x))
	return nil
}

// add adds the values of arr that sel selects; nulls are skipped.
func (a *numAcc) add(arr arrow.Array, sel []bool) error {
	nulls := arr.NullN() > 0
	skip := func(i int) bool { return sel != nil && !sel[i] || nulls && arr.IsNull(i) }
	switch arr := arr.(type) {
	case *array.Int64:
		for i, v := range arr.Int64Values() {
			if !skip(i) {
				a.addInt(v)
			}
		}
	case *array.Int32:
		for i, v := range arr.Int32Values() {
			if !skip(i) {
				a.addInt(int64(v))
			}
		}
	case *array.Decimal128:
		small := arr.DataType().(*arrow.Decimal128Type).Precision <= 18
		for i, v := range arr.Values() {
			if skip(i) {
				continue
			}
			if small {
				a.addInt(int64(v.LowBits()))
			} else {
				a.addBig(v.BigInt())
			}
		}
	case *array.Float64:
		for i, v := range arr.Float64Values() {
			if !skip(i) {
				if err := a.addFloat(v); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("unexpected %s column", arr.DataType())
	}
	return nil
}

// sums returns the exact sum and sum of squares, in the column's units.
func (a *numAcc) sums() (sum, sq *big.Rat) {
	if a.float {
		sum, _ = a.fsum.Rat(nil)
		sq, _ = a.fsq.Rat(nil)
		return sum, sq
	}
	a.flushSq()
	var s big.Int
	s.Add(&a.sum, big.NewInt(a.sumSmall))
	sum = new(big.Rat).SetInt(&s)
	sq = new(big.Rat).SetInt(&a.sq)
	if a.scale > 0 {
		d := new(big.Rat).SetInt(pow10(int(a.scale)))
		sum.Quo(sum, d)
		sq.Quo(sq, d.Mul(d, d))
	}
	return sum, sq
}

// mean and variance (population) of the values; ok is false when there
// were none.
func (a *numAcc) stats() (sum, mean, variance *big.Rat, ok bool) {
	sum, sq := a.sums()
	if a.n == 0 {
		return sum, nil, nil, false
	}
	n := new(big.Rat).SetInt64(a.n)
	mean = new(big.Rat).Quo(sum, n)
	variance = new(big.Rat).Quo(sq, n)
	variance.Sub(variance, new(big.Rat).Mul(mean, mean))
	return sum, mean, variance, true
}

// sqrtText prints the square root of v: exactly when v is the square of a
// rational, otherwise to 17 significant digits.
func sqrtText(v *big.Rat) string {
	if v.Sign() <= 0 {
		return "0"
	}
	n, d := new(big.Int).Sqrt(v.Num()), new(big.Int).Sqrt(v.Denom())
	if new(big.Int).Mul(n, n).Cmp(v.Num()) == 0 && new(big.Int).Mul(d, d).Cmp(v.Denom()) == 0 {
		return formatRat(new(big.Rat).SetFrac(n, d))
	}
	f := new(big.Float).SetPrec(256).SetRat(v)
	return f.Sqrt(f).Text('g', 17)
}

// cmpSqrt returns the sign of sqrt(v) - c, exactly.
func cmpSqrt(v, c *big.Rat) int {
	if c.Sign() < 0 {
		return 1
	}
	return v.Cmp(new(big.Rat).Mul(c, c))
}
