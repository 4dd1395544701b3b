package dataset

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// Limits of the names and texts a dataset may carry.
const (
	MaxNameLength        = 128
	MaxDescriptionLength = 4096
	MaxColumns           = 4096
	MaxDecimalPrecision  = 38
	MaxDomainLength      = 50 // a Lake Formation tag value
)

// SplitID splits "namespace.table"; ok is false when there is not exactly one dot.
func SplitID(id string) (namespace, table string, ok bool) {
	namespace, table, found := strings.Cut(id, ".")
	if !found || strings.Contains(table, ".") {
		return "", "", false
	}
	return namespace, table, true
}

// ValidateID checks a dataset id: "namespace.table", each part 1-128 of
// lower-case letters, digits and "_". Nothing else can reach a SQL identifier
// or an object path through an id.
func ValidateID(id string) error {
	ns, table, ok := SplitID(id)
	if !ok {
		return fmt.Errorf("%q is not of the form namespace.table", truncate(id))
	}
	if err := checkIDPart(ns); err != nil {
		return fmt.Errorf("namespace %q: %w", truncate(ns), err)
	}
	if err := checkIDPart(table); err != nil {
		return fmt.Errorf("table %q: %w", truncate(table), err)
	}
	return nil
}

func checkIDPart(s string) error {
	if s == "" || len(s) > MaxNameLength {
		return fmt.Errorf("must be 1-%d characters", MaxNameLength)
	}
	for i := 0; i < len(s); i++ {
		if !isLowerAlnum(s[i]) && s[i] != '_' {
			return fmt.Errorf("character %d (%q) is not a lower-case letter, digit or _", i+1, rune(s[i]))
		}
	}
	return nil
}

// ValidateColumnName checks a column name: 1-128 of lower-case letters,
// digits and "_", not starting with a digit.
func ValidateColumnName(name string) error {
	if err := checkIDPart(name); err != nil {
		return err
	}
	if name[0] >= '0' && name[0] <= '9' {
		return errors.New("must not start with a digit")
	}
	return nil
}

func isLowerAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
}

// truncate keeps error messages short whatever a caller sends.
func truncate(s string) string {
	const max = 140
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Validate checks every field of a dataset against the API's rules; grades
// must lie in 1..gradeLevels (0 = untagged). It returns all problems found,
// each a *fault.FieldError naming the field by its JSON path.
func Validate(d *Dataset, gradeLevels int) error {
	v := &validator{gradeLevels: gradeLevels}
	v.check(d)
	return errors.Join(v.errs...)
}

type validator struct {
	gradeLevels int
	errs        []error
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, fault.Invalid(field, format, args...))
}

func (v *validator) check(d *Dataset) {
	if err := ValidateID(d.ID); err != nil {
		v.add("id", "%v", err)
	}
	v.text("description", d.Description, MaxDescriptionLength)
	v.grade("grade", d.Grade)
	v.domain(d.Domain)
	switch d.QualityFailurePolicy {
	case "", PolicyRollback, PolicyKeep:
	default:
		v.add("qualityFailurePolicy", "unknown policy %q (ROLLBACK or KEEP)", truncate(string(d.QualityFailurePolicy)))
	}
	if d.QualitySuite != "" {
		if err := ValidateSuiteName(d.QualitySuite); err != nil {
			v.add("qualitySuite", "%v", err)
		}
	}
	byName := v.columns(d.Columns)
	v.primaryKey(d.PrimaryKey, byName)
	v.partitions(d.PartitionBy, byName)
	if d.SubjectKey != "" && byName[d.SubjectKey] == nil {
		v.add("subjectKey", "no column named %q", truncate(d.SubjectKey))
	}
	v.retention(d.Retention, byName)
}

func (v *validator) text(field, s string, max int) {
	if !utf8.ValidString(s) {
		v.add(field, "is not valid UTF-8")
	} else if utf8.RuneCountInString(s) > max {
		v.add(field, "is longer than %d characters", max)
	}
}

func (v *validator) grade(field string, g int) {
	if g < 0 || g > v.gradeLevels {
		v.add(field, "%d is outside the grade scale 1..%d (0 leaves it untagged)", g, v.gradeLevels)
	}
}

func (v *validator) domain(s string) {
	if s == "" {
		return
	}
	if len(s) > MaxDomainLength {
		v.add("domain", "is longer than %d characters", MaxDomainLength)
		return
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '_' && c != '-' {
			v.add("domain", "character %d (%q) is not a lower-case letter, digit, _ or -", i+1, rune(c))
			return
		}
	}
}

func (v *validator) columns(cols []Column) map[string]*Column {
	if len(cols) == 0 {
		v.add("columns", "a dataset needs at least one column")
	}
	if len(cols) > MaxColumns {
		v.add("columns", "has %d columns; at most %d", len(cols), MaxColumns)
	}
	byName := make(map[string]*Column, len(cols))
	for i := range cols {
		c := &cols[i]
		path := fmt.Sprintf("columns[%d]", i)
		if err := ValidateColumnName(c.Name); err != nil {
			v.add(path+".name", "%q: %v", truncate(c.Name), err)
		} else if byName[c.Name] != nil {
			v.add(path+".name", "duplicate column %q", c.Name)
		} else {
			byName[c.Name] = c
		}
		v.columnType(path, c)
		v.grade(path+".grade", c.Grade)
		v.text(path+".description", c.Description, MaxDescriptionLength)
	}
	return byName
}

func (v *validator) columnType(path string, c *Column) {
	switch c.Type {
	case TypeDecimal:
		if c.Precision < 1 || c.Precision > MaxDecimalPrecision {
			v.add(path+".precision", "DECIMAL precision %d is outside 1..%d", c.Precision, MaxDecimalPrecision)
		}
		if c.Scale < 0 || c.Scale > c.Precision {
			v.add(path+".scale", "DECIMAL scale %d is outside 0..precision (%d)", c.Scale, c.Precision)
		}
	case TypeString, TypeBoolean, TypeInt32, TypeInt64, TypeDouble, TypeDate, TypeTimestamp:
		if c.Precision != 0 || c.Scale != 0 {
			v.add(path+".precision", "precision and scale apply to DECIMAL only, not %s", c.Type)
		}
	case "":
		v.add(path+".type", "is required (one of %s)", typeNames)
	default:
		v.add(path+".type", "unknown type %q (one of %s)", truncate(string(c.Type)), typeNames)
	}
}

const typeNames = "STRING, BOOLEAN, INT32, INT64, DOUBLE, DECIMAL, DATE, TIMESTAMP"

func (v *validator) primaryKey(keys []string, byName map[string]*Column) {
	seen := map[string]bool{}
	for i, k := range keys {
		path := fmt.Sprintf("primaryKey[%d]", i)
		c := byName[k]
		switch {
		case c == nil:
			v.add(path, "no column named %q", truncate(k))
		case seen[k]:
			v.add(path, "column %q is listed twice", k)
		case c.Nullable:
			v.add(path, "column %q is nullable; a primary-key column must not be", k)
		case c.Type == TypeDouble:
			v.add(path, "column %q is DOUBLE; a primary key cannot use a floating-point column", k)
		}
		seen[k] = true
	}
}

func (v *validator) partitions(fields []PartitionField, byName map[string]*Column) {
	seen := map[PartitionField]bool{}
	for i, p := range fields {
		path := fmt.Sprintf("partitionBy[%d]", i)
		c := byName[p.Column]
		if c == nil {
			v.add(path+".column", "no column named %q", truncate(p.Column))
			continue
		}
		if seen[p] {
			v.add(path, "partitions by %s(%s) twice", p.Transform, p.Column)
		}
		seen[p] = true
		v.transform(path, p, c.Type)
	}
}

func (v *validator) transform(path string, p PartitionField, t ColumnType) {
	needsWidth := p.Transform == TransformBucket || p.Transform == TransformTruncate
	switch {
	case needsWidth && p.Width < 1:
		v.add(path+".width", "%s needs a width of at least 1", p.Transform)
	case !needsWidth && p.Width != 0:
		v.add(path+".width", "width applies to BUCKET and TRUNCATE only, not %s", p.Transform)
	}
	var ok bool
	switch p.Transform {
	case TransformIdentity:
		ok = true
	case TransformYear, TransformMonth, TransformDay:
		ok = t == TypeDate || t == TypeTimestamp
	case TransformBucket:
		ok = t != TypeDouble && t != TypeBoolean
	case TransformTruncate:
		ok = t == TypeString || t == TypeInt32 || t == TypeInt64 || t == TypeDecimal
	case "":
		v.add(path+".transform", "is required (IDENTITY, YEAR, MONTH, DAY, BUCKET or TRUNCATE)")
		return
	default:
		v.add(path+".transform", "unknown transform %q", truncate(string(p.Transform)))
		return
	}
	if !ok {
		v.add(path+".transform", "%s cannot partition a %s column (%q)", p.Transform, t, p.Column)
	}
}

func (v *validator) retention(r Retention, byName map[string]*Column) {
	if r.SeparateAfterDays < 0 {
		v.add("retention.separateAfterDays", "must not be negative")
	}
	if r.DestroyAfterDays < 0 {
		v.add("retention.destroyAfterDays", "must not be negative")
	}
	if r.SeparateAfterColumn == "" {
		if r.SeparateAfterDays > 0 || r.DestroyAfterDays > 0 {
			v.add("retention.separateAfterColumn", "is required when a retention period is set")
		}
		return
	}
	c := byName[r.SeparateAfterColumn]
	switch {
	case c == nil:
		v.add("retention.separateAfterColumn", "no column named %q", truncate(r.SeparateAfterColumn))
	case c.Type != TypeDate && c.Type != TypeTimestamp:
		v.add("retention.separateAfterColumn", "column %q is %s; it must be DATE or TIMESTAMP", c.Name, c.Type)
	}
	if r.DestroyAfterDays > 0 && r.DestroyAfterDays < r.SeparateAfterDays {
		v.add("retention.destroyAfterDays", "%d is before separateAfterDays (%d)", r.DestroyAfterDays, r.SeparateAfterDays)
	}
}

// ValidateSuiteName checks a quality suite name: 1-128 of lower-case
// letters, digits, "_" and "-".
func ValidateSuiteName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("must be 1-%d characters", MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '_' && c != '-' {
			return fmt.Errorf("character %d (%q) is not a lower-case letter, digit, _ or -", i+1, rune(c))
		}
	}
	return nil
}
