package tables

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// VerifyReport is what VerifyAbsent found.
type VerifyReport struct {
	// Location is the table's location, under which every file was read.
	Location string
	// FilesScanned and BytesScanned count every file read byte for byte;
	// DataFilesRead counts the Parquet files whose column was also decoded.
	FilesScanned  int64
	BytesScanned  int64
	DataFilesRead int64
	// VersionsScanned counts the old versions of objects (in a versioned
	// bucket: objects removed or written over, kept as noncurrent
	// versions) searched as files are.
	VersionsScanned int64
	// Findings are the files that still hold a value. Empty when verified.
	Findings []Finding
	// UnsearchedForms counts the stored forms of values too short or too
	// plain to search for byte for byte without matching everything (the
	// little-endian bytes of a small integer, a string under 6 bytes);
	// the Parquet column scan still covers those values in data files.
	UnsearchedForms int
	// Verified is true when no file holds any of the values.
	Verified bool
	// Time is when the verification ended.
	Time time.Time
}

// Finding is one file that still holds one of the values. It names the
// value by its position in the values given to VerifyAbsent, never by the
// value itself.
type Finding struct {
	Path string
	// ValueIndex is the 0-based position of the value found.
	ValueIndex int
	// How is "column" (a decoded row of a Parquet data file) or "bytes"
	// (the value's stored form among the file's raw bytes).
	How string
}

// Search limits of VerifyAbsent.
const (
	// minSearchForm is the shortest stored form searched for byte for byte.
	minSearchForm = 6
	// minNonZeroBytes is the fewest non-zero bytes a binary form needs.
	minNonZeroBytes = 3
	// verifyChunk is how much of a file is searched at a time.
	verifyChunk = 4 << 20
	// maxFindings bounds the findings reported.
	maxFindings = 1000
)

// VerifyAbsent confirms that no file under the location of the table of
// dataset id holds any of values in column: not the live snapshot's data
// files only, but every file there — data and delete files, manifests,
// manifest lists, metadata files and any orphan — and, in a versioned
// bucket, every old version of an object there. Each file's raw bytes are
// searched for each value's stored forms (a string's UTF-8 text; an
// integer's little-endian bytes, as in manifest bounds and Parquet
// statistics — not its digits, which other text holds by chance), the
// blocks of Avro files (manifests, manifest lists) after decompression, and
// each Parquet file's column is decoded and compared (values are
// compressed in data pages, so the bytes alone prove nothing
// there). Findings name the value by index, so that the report never
// repeats one.
func (c *Catalog) VerifyAbsent(ctx context.Context, id, column string, values []string) (VerifyReport, error) {
	tbl, err := c.load(ctx, id)
	if err != nil {
		return VerifyReport{}, err
	}
	keys, err := valueKeySet(tbl, column, values)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("dataset %s: verify: %w", id, err)
	}
	f, _ := tbl.Schema().FindFieldByName(column)
	forms, unsearched := storedForms(f.Type, values)
	rep, err := c.scanLocation(ctx, tbl, VerifyReport{UnsearchedForms: unsearched}, forms, func(fsys icebergio.IO, p string) ([]Finding, error) {
		found, err := scanParquetColumn(ctx, fsys, p, f, keys, values)
		findings := make([]Finding, len(found))
		for k, i := range found {
			findings[k] = Finding{Path: p, ValueIndex: i, How: "column"}
		}
		return findings, err
	})
	if err != nil {
		return rep, fmt.Errorf("dataset %s: verify: %w", id, err)
	}
	return rep, nil
}

// scanLocation reads every file under tbl's location, and in a versioned
// bucket every old version of one: it searches each for forms (findings
// "bytes") and hands each Parquet file to inspectParquet, whose findings
// join the report. It fills in and returns rep.
func (c *Catalog) scanLocation(ctx context.Context, tbl *table.Table, rep VerifyReport, forms []searchForm, inspectParquet func(icebergio.IO, string) ([]Finding, error)) (VerifyReport, error) {
	rep.Location = tbl.Location()
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return rep, err
	}
	lister, ok := fsys.(icebergio.ListableIO)
	if !ok {
		return rep, fmt.Errorf("the file IO %T cannot list files", fsys)
	}
	var paths []string
	err = lister.WalkDir(tbl.Location(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, path)
		}
		return context.Cause(ctx)
	})
	if err != nil {
		return rep, fmt.Errorf("list %s: %w", tbl.Location(), err)
	}
	search := func(fsys icebergio.IO, p string) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		n, found, err := searchFile(fsys, p, forms)
		if err != nil {
			return err
		}
		rep.FilesScanned++
		rep.BytesScanned += n
		for _, i := range found {
			rep.add(Finding{Path: p, ValueIndex: i, How: "bytes"})
		}
		if !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		rep.DataFilesRead++
		findings, err := inspectParquet(fsys, p)
		if err != nil {
			return err
		}
		for _, f := range findings {
			rep.add(f)
		}
		return nil
	}
	for _, p := range paths {
		if err := search(fsys, p); err != nil {
			return rep, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := c.verifyVersions(ctx, tbl.Location(), search, &rep); err != nil {
		return rep, fmt.Errorf("old versions: %w", err)
	}
	rep.Verified = len(rep.Findings) == 0
	rep.Time = time.Now().UTC()
	return rep, nil
}

func (r *VerifyReport) add(f Finding) {
	if len(r.Findings) < maxFindings {
		r.Findings = append(r.Findings, f)
	}
}

// searchForm is one stored form of the value at index.
type searchForm struct {
	index int
	b     []byte
}

// storedForms lists the byte forms values take in files of a column of
// type typ, and counts the forms left out as too short or plain to search.
func storedForms(typ iceberg.Type, values []string) (forms []searchForm, unsearched int) {
	add := func(i int, b []byte, binaryForm bool) {
		nonZero := len(b) - bytes.Count(b, []byte{0})
		if len(b) < minSearchForm || binaryForm && nonZero < minNonZeroBytes {
			unsearched++
			return
		}
		forms = append(forms, searchForm{i, b})
	}
	for i, v := range values {
		switch typ.(type) {
		case iceberg.Int32Type, iceberg.Int64Type:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				add(i, []byte(v), false)
				continue
			}
			// Tables store integers in binary only (Parquet pages and
			// statistics, manifest bounds); their digits would match
			// other text (an e-mail address, a policy number).
			add(i, binary.LittleEndian.AppendUint64(nil, uint64(n)), true)
			if _, ok := typ.(iceberg.Int32Type); ok {
				add(i, binary.LittleEndian.AppendUint32(nil, uint32(n)), true)
			}
		default:
			add(i, []byte(v), false)
		}
	}
	return forms, unsearched
}

// searchFile reads the file at path in chunks (overlapping by the longest
// form less one byte) and returns its size and the indexes of the values
// one of whose forms it holds.
func searchFile(fsys icebergio.IO, path string, forms []searchForm) (int64, []int, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() <= maxAvroFile {
		head := make([]byte, len(avroMagic))
		if _, err := f.ReadAt(head, 0); err == nil && bytes.Equal(head, avroMagic) {
			return searchAvro(f, info.Size(), forms)
		}
	}
	longest := 0
	for _, fm := range forms {
		longest = max(longest, len(fm.b))
	}
	buf := make([]byte, 0, verifyChunk+longest)
	foundSet := map[int]bool{}
	var total int64
	for {
		n, err := io.ReadFull(f, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		total += int64(n)
		for _, fm := range forms {
			if !foundSet[fm.index] && bytes.Contains(buf, fm.b) {
				foundSet[fm.index] = true
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return total, nil, err
		}
		keep := min(len(buf), max(longest-1, 0))
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
	var found []int
	for i := range foundSet {
		found = append(found, i)
	}
	return total, found, nil
}

// scanParquetColumn decodes the column of field f in a Parquet file and
// returns the indexes of the values it holds.
func scanParquetColumn(ctx context.Context, fsys icebergio.IO, path string, f iceberg.NestedField, keys *keySet, values []string) ([]int, error) {
	hit, err := parquetHolds(ctx, fsys, path, f, keys)
	if err != nil || !hit {
		return nil, err
	}
	// The key set keeps hashes only: scan again, value by value, to name
	// the ones held (only files that hold some are read again).
	var found []int
	for i, v := range values {
		one, err := valueKeys(f, false, []string{v})
		if err != nil {
			return nil, err
		}
		if hit, err := parquetHolds(ctx, fsys, path, f, one); err != nil {
			return nil, err
		} else if hit {
			found = append(found, i)
		}
	}
	return found, nil
}

// parquetHolds reports whether the column of field f (found by field id,
// else by name) in a Parquet file holds one of keys. A file without the
// column holds none.
func parquetHolds(ctx context.Context, fsys icebergio.IO, path string, f iceberg.NestedField, keys *keySet) (bool, error) {
	return anyInParquetColumn(ctx, fsys, path, f, func(arr arrow.Array) (bool, error) {
		for row := 0; row < arr.Len(); row++ {
			if arr.IsNull(row) {
				continue
			}
			h, err := keys.hasher.hash([]arrow.Array{arr}, row)
			if err != nil {
				return false, fmt.Errorf("column %s: %w", f.Name, err)
			}
			if keys.contains(h) {
				return true, nil
			}
		}
		return false, nil
	})
}

// anyInParquetColumn streams the column of field f (found by field id,
// else by name) of a Parquet file, chunk by chunk, until found reports a
// hit. A file without the column has none.
func anyInParquetColumn(ctx context.Context, fsys icebergio.IO, path string, f iceberg.NestedField, found func(arrow.Array) (bool, error)) (bool, error) {
	fh, err := fsys.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	pf, err := file.NewParquetReader(fh)
	if err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	col := -1
	for i := 0; i < sc.NumColumns(); i++ {
		if sc.Column(i).SchemaNode().FieldID() == int32(f.ID) {
			col = i
			break
		}
	}
	if col < 0 {
		col = sc.ColumnIndexByName(f.Name)
	}
	if col < 0 {
		return false, nil
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return false, fmt.Errorf("read parquet: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, []int{col}, nil)
	if err != nil {
		return false, fmt.Errorf("read parquet column %s: %w", f.Name, err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := ctx.Err(); err != nil {
			return false, context.Cause(ctx)
		}
		if hit, err := found(rr.RecordBatch().Column(0)); err != nil || hit {
			return hit, err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("read parquet column %s: %w", f.Name, err)
	}
	return false, nil
}

// avroMagic starts an Avro object container file (manifests and manifest
// lists), whose blocks are compressed (deflate, as iceberg-go writes them).
var avroMagic = []byte("Obj\x01")

// maxAvroFile is the largest Avro file read whole to search its blocks.
const maxAvroFile = 1 << 30

// avroBlocks decodes an Avro object container file and returns its header
// and the uncompressed data of its blocks, in which the values are searched.
func avroBlocks(b []byte) ([][]byte, error) {
	r := bytes.NewReader(b[len(avroMagic):])
	long := func() (int64, error) { return binary.ReadVarint(r) }
	bytesOf := func() ([]byte, error) {
		n, err := long()
		if err != nil || n < 0 || n > int64(r.Len()) {
			return nil, fmt.Errorf("avro: bad length %d: %v", n, err)
		}
		out := make([]byte, n)
		_, err = io.ReadFull(r, out)
		return out, err
	}
	meta := map[string][]byte{}
	for {
		n, err := long()
		if err != nil {
			return nil, fmt.Errorf("avro header: %w", err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := long(); err != nil {
				return nil, fmt.Errorf("avro header: %w", err)
			}
		}
		for range n {
			k, err := bytesOf()
			if err != nil {
				return nil, fmt.Errorf("avro header: %w", err)
			}
			v, err := bytesOf()
			if err != nil {
				return nil, fmt.Errorf("avro header: %w", err)
			}
			meta[string(k)] = v
		}
	}
	if _, err := r.Seek(16, io.SeekCurrent); err != nil {
		return nil, fmt.Errorf("avro header: %w", err)
	}
	codec := string(meta["avro.codec"])
	out := [][]byte{meta["avro.schema"]}
	for r.Len() > 0 {
		if _, err := long(); err != nil { // object count
			return nil, fmt.Errorf("avro block: %w", err)
		}
		data, err := bytesOf()
		if err != nil {
			return nil, fmt.Errorf("avro block: %w", err)
		}
		if _, err := r.Seek(16, io.SeekCurrent); err != nil {
			return nil, fmt.Errorf("avro block: %w", err)
		}
		switch codec {
		case "", "null":
		case "deflate":
			if data, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), maxAvroFile)); err != nil {
				return nil, fmt.Errorf("avro block: inflate: %w", err)
			}
		default:
			return nil, fmt.Errorf("avro codec %q cannot be searched", codec)
		}
		out = append(out, data)
	}
	return out, nil
}

// searchAvro searches an Avro container file's raw bytes and its blocks'
// uncompressed data.
func searchAvro(f io.ReaderAt, size int64, forms []searchForm) (int64, []int, error) {
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	blocks, err := avroBlocks(b)
	if err != nil {
		return size, nil, err
	}
	blocks = append(blocks, b)
	var found []int
	for _, fm := range forms {
		if slices.Contains(found, fm.index) {
			continue
		}
		for _, blk := range blocks {
			if bytes.Contains(blk, fm.b) {
				found = append(found, fm.index)
				break
			}
		}
	}
	return size, found, nil
}
