package tables

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// Evolve brings the table of d up to d's columns, in one commit: new
// trailing columns are added as optional (rows already written read them as
// null), INT32 columns may become INT64 and decimals may grow in precision
// at the same scale, required columns may become optional, and column
// descriptions are copied. The per-column metrics properties follow the PII
// flags and the subject key (a column that becomes PII stops getting bounds
// in new manifests; manifests already written keep theirs until the
// snapshots that use them are expired). Anything else — a dropped, renamed
// or moved column, another type change, an optional column made required,
// a changed primary key — is refused with fault.ErrFailedPrecondition.
// Grades and other governance attributes are not the table's business.
func (c *Catalog) Evolve(ctx context.Context, d *dataset.Dataset) error {
	for attempt := 1; ; attempt++ {
		tbl, err := c.load(ctx, d.ID)
		if err != nil {
			return err
		}
		tx := tbl.NewTransaction()
		changed, err := stageEvolution(tx, tbl, d)
		if err != nil {
			return fmt.Errorf("dataset %s: evolve: %w", d.ID, err)
		}
		if !changed {
			return nil
		}
		_, err = tx.Commit(ctx)
		if err == nil {
			return nil
		}
		if !isConflict(err) && !isTransient(err) || attempt >= c.opts.commitAttempts {
			return fmt.Errorf("dataset %s: evolve: commit: %w", d.ID, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// stageEvolution stages on tx what turns tbl's schema and properties into
// d's, and reports whether there is anything to commit.
func stageEvolution(tx *table.Transaction, tbl *table.Table, d *dataset.Dataset) (bool, error) {
	sc := tbl.Schema()
	fields := sc.Fields()
	if len(d.Columns) < len(fields) {
		return false, fault.Precondition("columns: %d existing columns would be dropped", len(fields)-len(d.Columns))
	}
	if err := checkSameKey(sc, d); err != nil {
		return false, err
	}
	upd := tx.UpdateSchema(true, false)
	changed := false
	for i, f := range fields {
		col := d.Columns[i]
		if col.Name != f.Name {
			return false, fault.Precondition("columns[%d]: column %q cannot be renamed or moved (found %q in its place)", i, f.Name, col.Name)
		}
		typ, err := icebergType(col)
		if err != nil {
			return false, fault.Precondition("columns[%d]: %v", i, err)
		}
		var cu table.ColumnUpdate
		if !typ.Equals(f.Type) {
			if !promotable(f.Type, typ) {
				return false, fault.Precondition("columns[%d]: column %q cannot change from %s to %s", i, f.Name, f.Type, typ)
			}
			cu.FieldType = iceberg.Optional[iceberg.Type]{Val: typ, Valid: true}
		}
		switch {
		case f.Required && col.Nullable:
			cu.Required = iceberg.Optional[bool]{Val: false, Valid: true}
		case !f.Required && !col.Nullable:
			return false, fault.Precondition("columns[%d]: column %q is nullable and may hold nulls; it cannot become required", i, f.Name)
		}
		if f.Doc != col.Description {
			cu.Doc = iceberg.Optional[string]{Val: col.Description, Valid: true}
		}
		if cu.FieldType.Valid || cu.Required.Valid || cu.Doc.Valid {
			upd.UpdateColumn([]string{f.Name}, cu)
			changed = true
		}
	}
	for i := len(fields); i < len(d.Columns); i++ {
		col := d.Columns[i]
		if !col.Nullable {
			return false, fault.Precondition("columns[%d]: new column %q must be nullable, since existing rows have no value for it", i, col.Name)
		}
		typ, err := icebergType(col)
		if err != nil {
			return false, fault.Precondition("columns[%d]: %v", i, err)
		}
		upd.AddColumn([]string{col.Name}, typ, col.Description, false, nil)
		changed = true
	}
	if changed {
		if err := upd.Commit(); err != nil {
			return false, fmt.Errorf("schema update: %w", err)
		}
	}

	want := metricsProperties(d)
	set := iceberg.Properties{}
	var unset []string
	for k, v := range tbl.Properties() {
		if strings.HasPrefix(k, propMetricsColumn) {
			if _, ok := want[k]; !ok {
				unset = append(unset, k)
			} else if want[k] == v {
				delete(want, k)
			}
		}
	}
	for k, v := range want {
		set[k] = v
	}
	if len(set) > 0 {
		if err := tx.SetProperties(set); err != nil {
			return false, fmt.Errorf("set properties: %w", err)
		}
		changed = true
	}
	if len(unset) > 0 {
		slices.Sort(unset)
		if err := tx.RemoveProperties(unset); err != nil {
			return false, fmt.Errorf("remove properties: %w", err)
		}
		changed = true
	}
	return changed, nil
}

// promotable reports whether Iceberg reads values of type from as type to:
// int to long, and a decimal's precision grown at the same scale.
func promotable(from, to iceberg.Type) bool {
	if from.Equals(iceberg.PrimitiveTypes.Int32) && to.Equals(iceberg.PrimitiveTypes.Int64) {
		return true
	}
	f, ok1 := from.(iceberg.DecimalType)
	t, ok2 := to.(iceberg.DecimalType)
	return ok1 && ok2 && f.Scale() == t.Scale() && t.Precision() >= f.Precision()
}

// checkSameKey refuses a dataset whose primary key is not the table's.
func checkSameKey(sc *iceberg.Schema, d *dataset.Dataset) error {
	have := make([]string, 0, len(sc.IdentifierFieldIDs))
	for _, id := range sc.IdentifierFieldIDs {
		if f, ok := sc.FindFieldByID(id); ok {
			have = append(have, f.Name)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(have)), slices.Sorted(slices.Values(d.PrimaryKey))) {
		return fault.Precondition("primaryKey: the table's primary key is (%s); it cannot change to (%s)",
			strings.Join(have, ", "), strings.Join(d.PrimaryKey, ", "))
	}
	return nil
}
