package dataset

import (
	"fmt"

	"github.com/lakeplane/lakeplane/internal/fault"
)

// CheckEvolution checks that a new column list can replace the old one
// without orphaning data already written: every old column stays, in its
// place, with its name and a type that reads the old values (Iceberg's
// promotions: INT32 to INT64, a DECIMAL's precision grown at the same
// scale); a required column may become nullable, never the reverse; new
// columns come last and are nullable. Grades, PII flags and descriptions may
// change freely.
func CheckEvolution(old, next []Column) error {
	if len(next) < len(old) {
		return fault.Precondition("columns: %d existing columns would be dropped; dropping a column would orphan its stored data", len(old)-len(next))
	}
	for i, o := range old {
		n := next[i]
		path := fmt.Sprintf("columns[%d]", i)
		if n.Name != o.Name {
			return fault.Precondition("%s: column %q cannot be renamed or moved (found %q in its place)", path, o.Name, n.Name)
		}
		if !canPromote(o, n) {
			return fault.Precondition("%s: column %q cannot change from %s to %s", path, o.Name, describeType(o), describeType(n))
		}
		if o.Nullable && !n.Nullable {
			return fault.Precondition("%s: column %q is nullable and may hold nulls; it cannot become required", path, o.Name)
		}
	}
	for i := len(old); i < len(next); i++ {
		if !next[i].Nullable {
			return fault.Precondition("columns[%d]: new column %q must be nullable, since existing rows have no value for it", i, next[i].Name)
		}
	}
	return nil
}

func canPromote(o, n Column) bool {
	switch {
	case o.Type == n.Type && o.Type != TypeDecimal:
		return true
	case o.Type == TypeInt32 && n.Type == TypeInt64:
		return true
	case o.Type == TypeDecimal && n.Type == TypeDecimal:
		return n.Scale == o.Scale && n.Precision >= o.Precision
	}
	return false
}

func describeType(c Column) string {
	if c.Type == TypeDecimal {
		return fmt.Sprintf("DECIMAL(%d,%d)", c.Precision, c.Scale)
	}
	return string(c.Type)
}
