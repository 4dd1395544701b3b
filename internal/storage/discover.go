package storage

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/objects"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// Limits of DiscoverSchema.
const (
	// DefaultSampleRows is the number of rows sampled per object when the
	// request sets none.
	DefaultSampleRows = 10000
	maxSampleRows     = 1_000_000
	// maxSampleFiles is the number of objects sampled; the rest are not
	// read (a warning says so).
	maxSampleFiles = 50
	// maxSampleBytes bounds what is read of one object.
	maxSampleBytes = 64 << 20
	// detectBytes is the head of an object the format is detected from.
	detectBytes = 64 << 10
)

// Discovery is a proposed dataset and how its objects are written.
type Discovery struct {
	Dataset  *dataset.Dataset
	Format   Format
	Warnings []string
	// Headers maps a proposed column's name to its header as written in
	// the objects, where the two differ ("Amount" proposed as "amount").
	Headers map[string]string
}

// fileColumns is what one sampled object says about its columns.
type fileColumns struct {
	uri     string
	names   []string // column names, in header order
	headers []string // the headers as written
	types   map[string]colType
	seen    map[string]bool // the column had a value
	nulls   map[string]bool // the column had a null
}

// DiscoverSchema samples the CSV objects uri names (up to 50 objects,
// sampleRows rows each, DefaultSampleRows when 0) and proposes a dataset:
// column names from the header, types inferred from the values and widened
// where objects disagree (with a warning), nullability, and Hive-style
// partition folders ("dt=2024-01-01/") as partition columns. The delimiter
// (among , ; | and tab) and the encoding (UTF-8 or CP949) are detected
// unless f sets them. The dataset's id comes from the last two folders of
// uri.
func (s *Service) DiscoverSchema(ctx context.Context, uri string, f Format, sampleRows int64) (Discovery, error) {
	t, err := parseTarget("uri", uri)
	if err != nil {
		return Discovery{}, err
	}
	if err := f.check(); err != nil {
		return Discovery{}, err
	}
	if sampleRows < 0 || sampleRows > maxSampleRows {
		return Discovery{}, fault.Invalid("sampleRows", "%d is outside 0..%d", sampleRows, maxSampleRows)
	}
	if sampleRows == 0 {
		sampleRows = DefaultSampleRows
	}
	guard, err := s.guardRead(ctx, t)
	if err != nil {
		return Discovery{}, err
	}
	var (
		out      Discovery
		files    []fileColumns
		partKeys []string
		parts    = map[string]*colStats{}
		detected bool
		skipped  int
	)
	for info, err := range s.store.List(ctx, t.listPrefix()) {
		if err != nil {
			return Discovery{}, err
		}
		if !t.contains(info.URI) || info.Size == 0 || strings.HasPrefix(path.Base(info.URI), "_") || strings.HasPrefix(path.Base(info.URI), ".") {
			continue
		}
		if len(files) == maxSampleFiles {
			skipped++
			continue
		}
		if err := guard.object(ctx, info.URI); err != nil {
			return Discovery{}, err
		}
		rel := strings.TrimPrefix(info.URI, t.base+"/")
		for _, seg := range strings.Split(path.Dir(rel), "/") {
			if k, v, ok := partitionFolder(seg); ok {
				if parts[k] == nil {
					parts[k] = newColStats()
					partKeys = append(partKeys, k)
				}
				if v == "__HIVE_DEFAULT_PARTITION__" {
					parts[k].nulls++
				} else {
					parts[k].observe(v)
				}
			}
		}
		ff, fileFormat, warnings, err := s.sampleObject(ctx, info, f, sampleRows)
		if err != nil {
			return Discovery{}, err
		}
		out.Warnings = append(out.Warnings, warnings...)
		if !detected {
			out.Format, detected = fileFormat, true
			f.Delimiter, f.Encoding, f.EncodingSet = fileFormat.Delimiter, fileFormat.Encoding, true
		}
		files = append(files, ff)
	}
	if len(files) == 0 {
		return Discovery{}, fault.Invalid("uri", "%s holds no CSV objects to sample", uri)
	}
	if skipped > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("sampled the first %d objects; %d more were not read", maxSampleFiles, skipped))
	}
	d := &dataset.Dataset{ID: datasetID(t)}
	out.Dataset = d
	s.mergeColumns(d, files, &out)
	for _, k := range partKeys {
		name := columnName(k, len(d.Columns)+1)
		if d.Column(name) != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("partition folder key %q is also a column of the files; the file column is kept", k))
		} else {
			typ, _ := parts[k].result()
			d.Columns = append(d.Columns, column(name, k, typ, parts[k].nulls > 0, &out))
		}
		d.PartitionBy = append(d.PartitionBy, dataset.PartitionField{Column: name, Transform: dataset.TransformIdentity})
	}
	if err := dataset.Validate(d, s.gradeLevels); err != nil {
		return Discovery{}, fmt.Errorf("storage: the dataset discovered under %s is not valid: %w", uri, err)
	}
	return out, nil
}

// column makes the dataset column of an inferred type, and sets the
// format's date or timestamp layout by the first column that needs one.
func column(name, header string, typ colType, nullable bool, out *Discovery) dataset.Column {
	c := dataset.Column{Name: name, Type: typ.typ, Nullable: nullable}
	if header != name {
		c.Description = "source header: " + header
		if out.Headers == nil {
			out.Headers = map[string]string{}
		}
		out.Headers[name] = header
	}
	switch typ.typ {
	case dataset.TypeDecimal:
		c.Precision, c.Scale = typ.digits+typ.scale, typ.scale
	case dataset.TypeDate:
		useLayout(&c, typ.layout, &out.Format.DateFormat, "date", out)
	case dataset.TypeTimestamp:
		useLayout(&c, typ.layout, &out.Format.TimestampFormat, "timestamp", out)
	}
	return c
}

// useLayout makes layout the format's layout for its kind when there is
// none yet; a column written in another layout than the format's becomes a
// STRING, with a warning, since a format holds one layout per kind.
func useLayout(c *dataset.Column, layout string, format *string, kind string, out *Discovery) {
	switch *format {
	case "":
		*format = layout
	case layout:
	default:
		c.Type = dataset.TypeString
		out.Warnings = append(out.Warnings, fmt.Sprintf("column %q: %ss written %s, but the format's %s layout is %s; proposed as STRING", c.Name, kind, layout, kind, *format))
	}
}

// mergeColumns adds the union of the files' columns to d, in first-seen
// order, each with the widest of its types, and warns where files
// disagree.
func (s *Service) mergeColumns(d *dataset.Dataset, files []fileColumns, out *Discovery) {
	type merged struct {
		header   string
		typ      colType
		from     string // the object the type came from
		has      bool
		nullable bool
		files    int
	}
	var order []string
	cols := map[string]*merged{}
	for _, ff := range files {
		for i, name := range ff.names {
			m := cols[name]
			if m == nil {
				m = &merged{header: ff.headers[i]}
				cols[name] = m
				order = append(order, name)
			}
			m.files++
			m.nullable = m.nullable || ff.nulls[name] || !ff.seen[name]
			if !ff.seen[name] {
				continue
			}
			typ := ff.types[name]
			if !m.has {
				m.typ, m.from, m.has = typ, ff.uri, true
				continue
			}
			w := widen(m.typ, typ)
			if typ.String() != m.typ.String() {
				out.Warnings = append(out.Warnings, fmt.Sprintf("column %q is %s in %s but %s in %s; widened to %s", name, m.typ, m.from, typ, ff.uri, w))
			}
			m.typ, m.from = w, ff.uri
		}
	}
	for _, name := range order {
		m := cols[name]
		if m.files < len(files) {
			m.nullable = true
			out.Warnings = append(out.Warnings, fmt.Sprintf("column %q is missing from %d of %d objects; proposed as nullable", name, len(files)-m.files, len(files)))
		}
		if !m.has {
			out.Warnings = append(out.Warnings, fmt.Sprintf("column %q holds no values in the sample; proposed as a nullable STRING", name))
		}
		d.Columns = append(d.Columns, column(name, m.header, m.typ, m.nullable, out))
	}
}

// sampleObject reads the head of one object: it detects the format where
// f leaves it open, and infers the type of each column.
func (s *Service) sampleObject(ctx context.Context, info objects.Info, f Format, sampleRows int64) (fileColumns, Format, []string, error) {
	r, closeFn, err := s.openText(ctx, info)
	if err != nil {
		return fileColumns{}, Format{}, nil, err
	}
	defer closeFn()
	br := bufio.NewReaderSize(io.LimitReader(r, maxSampleBytes), detectBytes)
	head, err := br.Peek(detectBytes)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return fileColumns{}, Format{}, nil, fmt.Errorf("discover %s: %w", info.URI, err)
	}
	var warnings []string
	ff := f
	if !f.EncodingSet {
		enc, ok := detectEncoding(head)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("%s is neither UTF-8 nor CP949; read as UTF-8", info.URI))
		}
		ff.Encoding, ff.EncodingSet = enc, true
	} else if enc, ok := detectEncoding(head); ok && enc != f.Encoding && enc == csvstream.CP949 {
		warnings = append(warnings, fmt.Sprintf("%s looks like CP949, not %s", info.URI, f.Encoding))
	}
	var text io.Reader = br
	if ff.Encoding != csvstream.UTF8 {
		text = transform.NewReader(br, korean.EUCKR.NewDecoder())
	}
	tbr := bufio.NewReaderSize(text, detectBytes)
	if ff.Delimiter == 0 {
		th, _ := tbr.Peek(detectBytes)
		ff.Delimiter = detectDelimiter(th, ff.quote())
	} else if f.Delimiter != 0 {
		th, _ := tbr.Peek(detectBytes)
		if d := detectDelimiter(th, ff.quote()); d != f.Delimiter {
			warnings = append(warnings, fmt.Sprintf("%s looks delimited by %q, not %q; read with %q", info.URI, d, f.Delimiter, f.Delimiter))
		}
	}
	cr := csv.NewReader(tbr)
	cr.Comma = rune(ff.Delimiter)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	fc := fileColumns{uri: info.URI, types: map[string]colType{}, seen: map[string]bool{}, nulls: map[string]bool{}}
	var stats []*colStats
	nulls := map[string]bool{"": true}
	for _, v := range f.NullValues {
		nulls[v] = true
	}
	for row := int64(0); row <= sampleRows; row++ {
		if row%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fileColumns{}, Format{}, nil, err
			}
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if len(stats) > 0 && row > 1 {
				warnings = append(warnings, fmt.Sprintf("%s: sampling stopped at a bad record: %v", info.URI, err))
				break
			}
			return fileColumns{}, Format{}, nil, fault.Invalid("uri", "%s is not CSV: %v", info.URI, err)
		}
		if stats == nil {
			fc.headers, fc.names = headerNames(rec, f.NoHeader)
			for range fc.names {
				stats = append(stats, newColStats())
			}
			if !f.NoHeader {
				continue
			}
		}
		for i, st := range stats {
			if i >= len(rec) || nulls[rec[i]] {
				st.nulls++
				continue
			}
			st.observe(rec[i])
		}
	}
	for i, name := range fc.names {
		typ, ok := stats[i].result()
		fc.types[name], fc.seen[name], fc.nulls[name] = typ, ok, stats[i].nulls > 0
	}
	return fc, ff, warnings, nil
}

// headerNames returns the headers and the column names of the first
// record: the headers made valid and unique, or col_1... without header.
func headerNames(rec []string, noHeader bool) (headers, names []string) {
	seen := map[string]bool{}
	for i, h := range rec {
		if noHeader {
			h = fmt.Sprintf("col_%d", i+1)
		}
		name := columnName(h, i+1)
		base := name
		for n := 2; seen[name]; n++ {
			name = fmt.Sprintf("%s_%d", base, n)
		}
		seen[name] = true
		headers = append(headers, h)
		names = append(names, name)
	}
	return slices.Clip(headers), names
}

// datasetID proposes "namespace.table" from the last two folders of t
// (partition folders and a file's extension left out).
func datasetID(t target) string {
	_, rest, _ := strings.Cut(t.base, "://")
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	if strings.HasPrefix(t.base, objects.SchemeS3+"://") && len(segs) > 0 {
		segs = segs[1:] // the bucket
	}
	var names []string
	for i, seg := range segs {
		if _, _, ok := partitionFolder(seg); ok {
			continue
		}
		if i == len(segs)-1 && !t.folder {
			seg = strings.SplitN(seg, ".", 2)[0]
		}
		names = append(names, idPart(seg))
	}
	switch len(names) {
	case 0:
		return "discovered.table"
	case 1:
		return "discovered." + names[0]
	}
	return names[len(names)-2] + "." + names[len(names)-1]
}
