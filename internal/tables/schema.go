package tables

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

// Table properties this package sets.
const (
	propFormatVersion      = "format-version"
	propMetricsColumn      = "write.metadata.metrics.column."
	propTargetFileSize     = "write.target-file-size-bytes"
	propRowGroupSize       = "write.parquet.row-group-size-bytes"
	propRowGroupRows       = "write.parquet.row-group-limit"
	metricsNone            = "none"
	metricsTruncate16      = "truncate(16)"
	previousVersionsToKeep = "10"
	// rowGroupBytes and rowGroupRows bound what one open Parquet file
	// buffers in memory before it flushes a row group (iceberg-go's
	// defaults are 128 MiB and 1,048,576 rows). Measured: an unpartitioned
	// append of 1.5M or 6M rows peaks at 70-90 MB of live heap, one over
	// three daily partitions at ~150 MB.
	rowGroupBytes = 32 << 20
	rowGroupRows  = 256 << 10
)

// ArrowSchema is the Arrow schema of d's rows, the one mapping from dataset
// column types to Arrow types that the CSV decoder and Write share:
// STRING→String, BOOLEAN→Boolean, INT32→Int32, INT64→Int64, DOUBLE→Float64,
// DECIMAL(p,s)→Decimal128(p,s), DATE→Date32 and TIMESTAMP→Timestamp(µs,
// "UTC") (an Iceberg timestamptz). A field is nullable when its column is.
func ArrowSchema(d *dataset.Dataset) *arrow.Schema {
	fields := make([]arrow.Field, len(d.Columns))
	for i, c := range d.Columns {
		fields[i] = arrow.Field{Name: c.Name, Type: arrowType(c), Nullable: c.Nullable}
	}
	return arrow.NewSchema(fields, nil)
}

func arrowType(c dataset.Column) arrow.DataType {
	switch c.Type {
	case dataset.TypeString:
		return arrow.BinaryTypes.String
	case dataset.TypeBoolean:
		return arrow.FixedWidthTypes.Boolean
	case dataset.TypeInt32:
		return arrow.PrimitiveTypes.Int32
	case dataset.TypeInt64:
		return arrow.PrimitiveTypes.Int64
	case dataset.TypeDouble:
		return arrow.PrimitiveTypes.Float64
	case dataset.TypeDecimal:
		return &arrow.Decimal128Type{Precision: int32(c.Precision), Scale: int32(c.Scale)}
	case dataset.TypeDate:
		return arrow.FixedWidthTypes.Date32
	case dataset.TypeTimestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
	// Validated datasets have no other type; Null makes a misuse visible
	// in the first write instead of panicking here.
	return arrow.Null
}

// icebergType is the Iceberg type of a column.
func icebergType(c dataset.Column) (iceberg.Type, error) {
	switch c.Type {
	case dataset.TypeString:
		return iceberg.PrimitiveTypes.String, nil
	case dataset.TypeBoolean:
		return iceberg.PrimitiveTypes.Bool, nil
	case dataset.TypeInt32:
		return iceberg.PrimitiveTypes.Int32, nil
	case dataset.TypeInt64:
		return iceberg.PrimitiveTypes.Int64, nil
	case dataset.TypeDouble:
		return iceberg.PrimitiveTypes.Float64, nil
	case dataset.TypeDecimal:
		return iceberg.DecimalTypeOf(c.Precision, c.Scale), nil
	case dataset.TypeDate:
		return iceberg.PrimitiveTypes.Date, nil
	case dataset.TypeTimestamp:
		return iceberg.PrimitiveTypes.TimestampTz, nil
	}
	return nil, fmt.Errorf("column %q: unsupported type %q", c.Name, c.Type)
}

// icebergSchema is d's table schema: field ids 1..n in column order,
// required where the column is not nullable, the primary key as identifier
// fields.
func icebergSchema(d *dataset.Dataset) (*iceberg.Schema, error) {
	fields := make([]iceberg.NestedField, len(d.Columns))
	ids := make(map[string]int, len(d.Columns))
	for i, c := range d.Columns {
		typ, err := icebergType(c)
		if err != nil {
			return nil, err
		}
		fields[i] = iceberg.NestedField{ID: i + 1, Name: c.Name, Type: typ, Required: !c.Nullable, Doc: c.Description}
		ids[c.Name] = i + 1
	}
	keys := make([]int, len(d.PrimaryKey))
	for i, k := range d.PrimaryKey {
		id, ok := ids[k]
		if !ok {
			return nil, fmt.Errorf("primary key column %q is not a column", k)
		}
		if d.Column(k).Nullable {
			return nil, fmt.Errorf("primary key column %q is nullable", k)
		}
		keys[i] = id
	}
	return iceberg.NewSchemaWithIdentifiers(0, keys, fields...), nil
}

// partitionSpec is d's partition spec, its fields named as Iceberg's Java
// builder names them (col, col_year, col_bucket, col_trunc, ...).
func partitionSpec(d *dataset.Dataset, sc *iceberg.Schema) (iceberg.PartitionSpec, error) {
	opts := make([]iceberg.PartitionOption, 0, len(d.PartitionBy))
	for _, p := range d.PartitionBy {
		f, ok := sc.FindFieldByName(p.Column)
		if !ok {
			return iceberg.PartitionSpec{}, fmt.Errorf("partition column %q is not a column", p.Column)
		}
		var (
			tr   iceberg.Transform
			name string
		)
		switch p.Transform {
		case dataset.TransformIdentity:
			tr, name = iceberg.IdentityTransform{}, p.Column
		case dataset.TransformYear:
			tr, name = iceberg.YearTransform{}, p.Column+"_year"
		case dataset.TransformMonth:
			tr, name = iceberg.MonthTransform{}, p.Column+"_month"
		case dataset.TransformDay:
			tr, name = iceberg.DayTransform{}, p.Column+"_day"
		case dataset.TransformBucket:
			tr, name = iceberg.BucketTransform{NumBuckets: p.Width}, p.Column+"_bucket"
		case dataset.TransformTruncate:
			tr, name = iceberg.TruncateTransform{Width: p.Width}, p.Column+"_trunc"
		default:
			return iceberg.PartitionSpec{}, fmt.Errorf("partition of %q: unsupported transform %q", p.Column, p.Transform)
		}
		opts = append(opts, iceberg.AddPartitionFieldBySourceID(f.ID, name, tr, sc, nil))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return iceberg.PartitionSpec{}, fmt.Errorf("partition spec: %w", err)
	}
	return spec, nil
}

// partitionFields is the inverse of partitionSpec: spec's fields as a
// dataset's partition fields, on the columns of sc. A field whose
// transform a dataset cannot name (void, hour) is left out.
func partitionFields(sc *iceberg.Schema, spec iceberg.PartitionSpec) []dataset.PartitionField {
	var out []dataset.PartitionField
	for _, f := range spec.Fields() {
		col, ok := sc.FindColumnName(f.SourceID())
		if !ok {
			continue
		}
		p := dataset.PartitionField{Column: col}
		switch tr := f.Transform.(type) {
		case iceberg.IdentityTransform:
			p.Transform = dataset.TransformIdentity
		case iceberg.YearTransform:
			p.Transform = dataset.TransformYear
		case iceberg.MonthTransform:
			p.Transform = dataset.TransformMonth
		case iceberg.DayTransform:
			p.Transform = dataset.TransformDay
		case iceberg.BucketTransform:
			p.Transform, p.Width = dataset.TransformBucket, tr.NumBuckets
		case iceberg.TruncateTransform:
			p.Transform, p.Width = dataset.TransformTruncate, tr.Width
		default:
			continue
		}
		out = append(out, p)
	}
	return out
}

// tableProperties are the properties of a new table of d:
//
//   - format-version 2, and copy-on-write for deletes, updates and merges,
//     so that engines that honour the modes (Athena, Spark) write no delete
//     files either;
//   - old metadata files deleted after each commit, keeping the last 10;
//   - zstd Parquet, data files rolled at the catalog's target size, row
//     groups of at most 32 MiB and 256Ki rows (what one open file buffers);
//   - manifests merged on append, so that many small loads do not make
//     planning slow;
//   - column metrics: none for PII columns, so that no personal value is
//     copied into manifests as a lower or upper bound (those would outlive
//     the rows they came from); truncate(16) stated explicitly for a
//     subject key that is not PII, since erasing one subject and upserting
//     on it prune files by its bounds.
func tableProperties(d *dataset.Dataset, o options) iceberg.Properties {
	props := iceberg.Properties{
		propFormatVersion:                            "2",
		"write.delete.mode":                          "copy-on-write",
		"write.update.mode":                          "copy-on-write",
		"write.merge.mode":                           "copy-on-write",
		"write.metadata.delete-after-commit.enabled": "true",
		"write.metadata.previous-versions-max":       previousVersionsToKeep,
		"write.parquet.compression-codec":            "zstd",
		propTargetFileSize:                           strconv.FormatInt(o.targetFileSize, 10),
		propRowGroupSize:                             strconv.Itoa(rowGroupBytes),
		propRowGroupRows:                             strconv.Itoa(rowGroupRows),
		"commit.manifest-merge.enabled":              "true",
	}
	for k, v := range metricsProperties(d) {
		props[k] = v
	}
	return props
}

// metricsProperties are the per-column metrics modes of d's table.
func metricsProperties(d *dataset.Dataset) map[string]string {
	props := map[string]string{}
	for _, c := range d.Columns {
		switch {
		case c.PII:
			props[propMetricsColumn+c.Name] = metricsNone
		case c.Name == d.SubjectKey:
			props[propMetricsColumn+c.Name] = metricsTruncate16
		}
	}
	return props
}
