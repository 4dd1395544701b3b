package csvstream

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// strColumn gathers a STRING column's values for one batch in Go slices
// that are reused from batch to batch (an append is a copy and an offset,
// much cheaper than array.StringBuilder's), and copies them into buffers
// of the decoder's allocator when the batch is made.
type strColumn struct {
	data    []byte
	offsets []int32 // offsets[0] is 0; one more per value
	nulls   []int   // positions of the null values
}

func newStrColumn() *strColumn {
	c := &strColumn{}
	c.reset()
	return c
}

func (c *strColumn) reset() {
	c.data = c.data[:0]
	c.offsets = append(c.offsets[:0], 0)
	c.nulls = c.nulls[:0]
}

func (c *strColumn) append(v []byte) {
	c.data = append(c.data, v...)
	c.offsets = append(c.offsets, int32(len(c.data)))
}

func (c *strColumn) appendNull() {
	c.nulls = append(c.nulls, len(c.offsets)-1)
	c.offsets = append(c.offsets, int32(len(c.data)))
}

// newArray returns the values as a String array in buffers of mem and
// starts the next batch.
func (c *strColumn) newArray(mem memory.Allocator) arrow.Array {
	n := len(c.offsets) - 1
	offsets := bufferOf(mem, arrow.Int32Traits.CastToBytes(c.offsets))
	data := bufferOf(mem, c.data)
	var valid *memory.Buffer
	if len(c.nulls) > 0 {
		valid = memory.NewResizableBuffer(mem)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		bits := valid.Bytes()
		clear(bits)
		bitutil.SetBitsTo(bits, 0, int64(n), true)
		for _, i := range c.nulls {
			bitutil.ClearBit(bits, i)
		}
	}
	d := array.NewData(arrow.BinaryTypes.String, n, []*memory.Buffer{valid, offsets, data}, nil, len(c.nulls), 0)
	a := array.NewStringData(d)
	d.Release()
	offsets.Release()
	data.Release()
	if valid != nil {
		valid.Release()
	}
	c.reset()
	return a
}

// bufferOf copies b into a new buffer of mem.
func bufferOf(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}
