// Package dataset defines a lake dataset (an Iceberg table and its governance
// attributes) as plain Go values, and the rules that make one valid.
package dataset

import "time"

// ColumnType is the logical type of a column, as named in the public API.
type ColumnType string

// The column types a dataset may use.
const (
	TypeString    ColumnType = "STRING"
	TypeBoolean   ColumnType = "BOOLEAN"
	TypeInt32     ColumnType = "INT32"
	TypeInt64     ColumnType = "INT64"
	TypeDouble    ColumnType = "DOUBLE"
	TypeDecimal   ColumnType = "DECIMAL"
	TypeDate      ColumnType = "DATE"
	TypeTimestamp ColumnType = "TIMESTAMP"
)

// Transform is an Iceberg partition transform.
type Transform string

// The partition transforms a dataset may use.
const (
	TransformIdentity Transform = "IDENTITY"
	TransformYear     Transform = "YEAR"
	TransformMonth    Transform = "MONTH"
	TransformDay      Transform = "DAY"
	TransformBucket   Transform = "BUCKET"
	TransformTruncate Transform = "TRUNCATE"
)

// QualityFailurePolicy decides the fate of a load whose post-load quality
// rules (those that need the whole table) fail on the snapshot it made.
type QualityFailurePolicy string

// The quality failure policies. The empty policy is PolicyRollback.
const (
	// PolicyRollback puts the table back to the snapshot before the load,
	// and the load fails.
	PolicyRollback QualityFailurePolicy = "ROLLBACK"
	// PolicyKeep keeps the new snapshot, and the load succeeds with a
	// warning.
	PolicyKeep QualityFailurePolicy = "KEEP"
)

// Effective returns the policy that applies: p, or PolicyRollback when p is
// empty or not a policy (the safe choice: the table keeps no rows that
// broke a rule).
func (p QualityFailurePolicy) Effective() QualityFailurePolicy {
	if p == PolicyKeep {
		return PolicyKeep
	}
	return PolicyRollback
}

// Dataset is one governed table of the lake, identified by "namespace.table".
type Dataset struct {
	ID           string
	Description  string
	Columns      []Column
	PrimaryKey   []string
	PartitionBy  []PartitionField
	Grade        int // 0: not tagged; 1 is the most sensitive grade
	Domain       string
	SubjectKey   string
	QualitySuite string
	// QualityFailurePolicy decides what a failure of the suite's post-load
	// rules does to the load; "" is PolicyRollback.
	QualityFailurePolicy QualityFailurePolicy
	Retention            Retention

	// Etag changes on every stored change; an update or delete that names a
	// stale etag is refused.
	Etag       string
	CreateTime time.Time
	UpdateTime time.Time
}

// Column is one column of a dataset.
type Column struct {
	Name        string
	Type        ColumnType
	Precision   int // DECIMAL only
	Scale       int // DECIMAL only
	Nullable    bool
	Grade       int // 0: inherits the dataset's grade
	PII         bool
	Description string
}

// PartitionField partitions a dataset's table by a transform of one column.
type PartitionField struct {
	Column    string
	Transform Transform
	Width     int // BUCKET count or TRUNCATE width
}

// Retention says when ended relationships are separated and when data is destroyed.
type Retention struct {
	SeparateAfterColumn string
	SeparateAfterDays   int
	DestroyAfterDays    int
}

// Namespace returns the part of the id before the dot.
func (d *Dataset) Namespace() string {
	ns, _, _ := SplitID(d.ID)
	return ns
}

// Column returns the column with the given name, or nil.
func (d *Dataset) Column(name string) *Column {
	for i := range d.Columns {
		if d.Columns[i].Name == name {
			return &d.Columns[i]
		}
	}
	return nil
}

// Clone returns a deep copy, so that a caller can change it without touching
// a value another goroutine holds.
func (d *Dataset) Clone() *Dataset {
	c := *d
	c.Columns = append([]Column(nil), d.Columns...)
	c.PrimaryKey = append([]string(nil), d.PrimaryKey...)
	c.PartitionBy = append([]PartitionField(nil), d.PartitionBy...)
	return &c
}
