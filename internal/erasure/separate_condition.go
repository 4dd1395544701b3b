package erasure

import (
	"context"
	"errors"
	"fmt"
	"strings"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/csvstream"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// rowCondition reads a request's condition against dataset d: the column
// must be one of d's, the comparison set, and the value one that the
// column's type holds as a CSV with the default format reads it (as a load
// would). It returns the condition with its value in canonical form (see
// tables.Condition). Each fault is a FieldError naming its field
// (condition.column, condition.comparison, condition.value), all of them
// joined.
func rowCondition(d *dataset.Dataset, rc *lakeplanev1.RowCondition) (tables.Condition, error) {
	cond := tables.Condition{Column: rc.GetColumn()}
	var errs []error
	col := d.Column(rc.GetColumn())
	switch {
	case rc.GetColumn() == "":
		errs = append(errs, fault.Invalid("condition.column", "is required"))
	case col == nil:
		errs = append(errs, fault.Invalid("condition.column", "dataset %s has no column %q", d.ID, rc.GetColumn()))
	}
	switch op := rc.GetComparison(); {
	case op == lakeplanev1.Comparison_COMPARISON_UNSPECIFIED:
		errs = append(errs, fault.Invalid("condition.comparison", "is required (EQUAL, NOT_EQUAL, LESS, LESS_OR_EQUAL, GREATER or GREATER_OR_EQUAL)"))
	case lakeplanev1.Comparison_name[int32(op)] == "":
		errs = append(errs, fault.Invalid("condition.comparison", "%d is not a comparison", op))
	default:
		cond.Op = tables.Comparison(op.String())
	}
	if col != nil {
		v, err := csvValue(*col, rc.GetValue())
		if err != nil {
			errs = append(errs, err)
		}
		cond.Value = v
	}
	if err := errors.Join(errs...); err != nil {
		return tables.Condition{}, err
	}
	// The comparison's fit to the type (BOOLEAN: EQUAL or NOT_EQUAL) and
	// the canonical value, as the job will read them.
	if err := tables.ValidateCondition(d, cond); err != nil {
		return tables.Condition{}, err
	}
	return cond, nil
}

// csvValue parses text as one field of column c in a CSV with the default
// format and returns it as canonical text. A value that reads as null (an
// empty one, unless c is a STRING) is refused: a null matches no row. A
// PII column's value is not repeated in the error.
func csvValue(c dataset.Column, text string) (string, error) {
	c.Nullable = true
	typ := tables.ArrowSchema(&dataset.Dataset{Columns: []dataset.Column{c}}).Field(0).Type
	field := `"` + strings.ReplaceAll(text, `"`, `""`) + "\"\n"
	dec, err := csvstream.NewDecoder(strings.NewReader(field), []csvstream.Column{{Name: c.Name, Type: typ, Nullable: true, PII: c.PII}}, csvstream.Format{}, csvstream.Options{})
	if err != nil {
		return "", fmt.Errorf("condition value decoder: %w", err)
	}
	rec, err := dec.Next(context.Background())
	var rowErr *csvstream.RowError
	switch {
	case errors.As(err, &rowErr):
		return "", fault.Invalid("condition.value", "%q %s (column %q is %s)", rowErr.Value, rowErr.Reason, c.Name, c.Type)
	case err != nil:
		return "", fmt.Errorf("condition value: %w", err)
	}
	defer rec.Release()
	if rec.NumRows() != 1 || rec.Column(0).IsNull(0) {
		return "", fault.Invalid("condition.value", "is empty, which reads as a null in column %q, and a null matches no row", c.Name)
	}
	return tables.FormatValue(rec.Column(0), 0)
}

// separatedColumns are the columns of src that a separation by cond keeps,
// in src's order. A nullable column is optional and stays behind; every
// column that is not nullable moves, and so, whatever their nullability,
// do the primary key, the subject key (erasures find subjects by it), the
// retention rule's separateAfterColumn (the separated dataset's destroy
// rule runs on it) and the condition's column (the rows' reason to move).
func separatedColumns(src *dataset.Dataset, cond tables.Condition) []dataset.Column {
	var out []dataset.Column
	for _, c := range src.Columns {
		if keepsColumn(src, cond, c) {
			out = append(out, c)
		}
	}
	return out
}

// keepsColumn reports whether a separation of src by cond keeps column c.
func keepsColumn(src *dataset.Dataset, cond tables.Condition, c dataset.Column) bool {
	switch {
	case !c.Nullable, c.Name == src.SubjectKey, c.Name == src.Retention.SeparateAfterColumn, c.Name == cond.Column:
		return true
	}
	for _, k := range src.PrimaryKey {
		if c.Name == k {
			return true
		}
	}
	return false
}

// checkSeparatedColumns refuses a separated dataset dst that lacks a
// column the separation of src by cond must keep. dst may have fewer
// optional columns than separatedColumns would give it (the copy fills
// those it has), not fewer required ones.
func checkSeparatedColumns(src, dst *dataset.Dataset, cond tables.Condition) error {
	var missing []string
	for _, c := range separatedColumns(src, cond) {
		if dst.Column(c.Name) == nil {
			missing = append(missing, fmt.Sprintf("%q", c.Name))
		}
	}
	if len(missing) > 0 {
		return fault.Precondition("separated dataset %s lacks column(s) %s, which a separation of %s must keep (not nullable, a key, or the condition's column): add them to %s or separate into another targetDataset",
			dst.ID, strings.Join(missing, ", "), src.ID, dst.ID)
	}
	return nil
}

// columnNames lists the names of d's columns.
func columnNames(d *dataset.Dataset) []string {
	out := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Name
	}
	return out
}
