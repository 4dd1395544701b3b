package tables

import (
	"github.com/lakeplane/lakeplane/internal/dataset"
)

// DefaultSubjectBuckets is the number of buckets of the subject key that
// WithSubjectKeyBuckets is meant to be given: a file per bucket and load
// stays large enough for loads of a million rows or more.
const DefaultSubjectBuckets = 16

// WithSubjectKeyBuckets makes Create partition the table of a dataset that
// has a subject key and names no partitioning of its own by bucket(n) of
// the subject key (n <= 0: no such default, the table is unpartitioned).
// Each load then writes a file per bucket, and an erasure of a few
// subjects rewrites only the files of their buckets. A sort order on the
// key would spare no file: a copy-on-write delete rewrites every file that
// holds a subject, whatever the order of its rows, and one file per load
// spans every key of the load either way (a PII subject key has no bounds
// at all).
func WithSubjectKeyBuckets(n int) Option {
	return func(o *options) { o.subjectBuckets = max(n, 0) }
}

// layoutOf returns d, or, when the catalog buckets subject keys by default
// and d has a subject key and no partitioning of its own, a copy of d
// partitioned by bucket of the subject key.
func (c *Catalog) layoutOf(d *dataset.Dataset) *dataset.Dataset {
	if c.opts.subjectBuckets == 0 || d.SubjectKey == "" || len(d.PartitionBy) > 0 {
		return d
	}
	key := d.Column(d.SubjectKey)
	if key == nil || !bucketable(key.Type) {
		return d
	}
	out := d.Clone()
	out.PartitionBy = []dataset.PartitionField{{Column: d.SubjectKey, Transform: dataset.TransformBucket, Width: c.opts.subjectBuckets}}
	return out
}

// bucketable reports whether Iceberg's bucket transform takes values of
// type t (not booleans or floating point).
func bucketable(t dataset.ColumnType) bool {
	switch t {
	case dataset.TypeBoolean, dataset.TypeDouble:
		return false
	}
	return true
}
