package dataset

import (
	"errors"
	"strings"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
)

func validDataset() *Dataset {
	return &Dataset{
		ID:          "credit.loans",
		Description: "대출 원장",
		Columns: []Column{
			{Name: "loan_id", Type: TypeInt64},
			{Name: "customer_id", Type: TypeString, Grade: 1, PII: true},
			{Name: "amount", Type: TypeDecimal, Precision: 18, Scale: 2, Nullable: true},
			{Name: "opened", Type: TypeDate, Nullable: true},
			{Name: "closed_at", Type: TypeTimestamp, Nullable: true},
		},
		PrimaryKey:   []string{"loan_id"},
		PartitionBy:  []PartitionField{{Column: "opened", Transform: TransformMonth}, {Column: "customer_id", Transform: TransformBucket, Width: 16}},
		Grade:        2,
		Domain:       "credit",
		SubjectKey:   "customer_id",
		QualitySuite: "loans-basic",
		Retention:    Retention{SeparateAfterColumn: "closed_at", SeparateAfterDays: 90, DestroyAfterDays: 1825},
	}
}

func TestValidateAcceptsAFullDataset(t *testing.T) {
	if err := Validate(validDataset(), 3); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *Dataset)
		field  string
		reason string
	}{
		{"id without dot", func(d *Dataset) { d.ID = "loans" }, "id", "namespace.table"},
		{"id with two dots", func(d *Dataset) { d.ID = "a.b.c" }, "id", "namespace.table"},
		{"id upper case", func(d *Dataset) { d.ID = "Credit.loans" }, "id", "lower-case"},
		{"id path trick", func(d *Dataset) { d.ID = "credit.../etc" }, "id", "namespace.table"},
		{"id quote", func(d *Dataset) { d.ID = `credit.lo"ans` }, "id", `'"'`},
		{"id too long", func(d *Dataset) { d.ID = "credit." + strings.Repeat("a", 129) }, "id", "1-128"},
		{"empty namespace", func(d *Dataset) { d.ID = ".loans" }, "id", "1-128"},
		{"no columns", func(d *Dataset) {
			d.Columns = nil
			d.PrimaryKey = nil
			d.PartitionBy = nil
			d.SubjectKey = ""
			d.Retention = Retention{}
		}, "columns", "at least one"},
		{"bad column name", func(d *Dataset) { d.Columns[1].Name = "customer id" }, "columns[1].name", "' '"},
		{"column starts with digit", func(d *Dataset) { d.Columns[1].Name = "1st" }, "columns[1].name", "digit"},
		{"duplicate column", func(d *Dataset) { d.Columns[2].Name = "loan_id" }, "columns[2].name", "duplicate"},
		{"unknown type", func(d *Dataset) { d.Columns[0].Type = "BIGINT" }, "columns[0].type", "unknown type"},
		{"missing type", func(d *Dataset) { d.Columns[0].Type = "" }, "columns[0].type", "required"},
		{"decimal precision", func(d *Dataset) { d.Columns[2].Precision = 39 }, "columns[2].precision", "1..38"},
		{"decimal scale", func(d *Dataset) { d.Columns[2].Scale = 19 }, "columns[2].scale", "0..precision"},
		{"precision on string", func(d *Dataset) { d.Columns[1].Precision = 3 }, "columns[1].precision", "DECIMAL only"},
		{"grade above scale", func(d *Dataset) { d.Grade = 4 }, "grade", "1..3"},
		{"column grade negative", func(d *Dataset) { d.Columns[0].Grade = -1 }, "columns[0].grade", "1..3"},
		{"primary key unknown", func(d *Dataset) { d.PrimaryKey = []string{"nope"} }, "primaryKey[0]", "no column"},
		{"primary key nullable", func(d *Dataset) { d.PrimaryKey = []string{"amount"} }, "primaryKey[0]", "nullable"},
		{"primary key twice", func(d *Dataset) { d.PrimaryKey = []string{"loan_id", "loan_id"} }, "primaryKey[1]", "twice"},
		{"partition unknown column", func(d *Dataset) { d.PartitionBy[0].Column = "nope" }, "partitionBy[0].column", "no column"},
		{"partition month of string", func(d *Dataset) { d.PartitionBy[0].Column = "customer_id" }, "partitionBy[0].transform", "cannot partition a STRING"},
		{"bucket without width", func(d *Dataset) { d.PartitionBy[1].Width = 0 }, "partitionBy[1].width", "at least 1"},
		{"width on identity", func(d *Dataset) {
			d.PartitionBy[0] = PartitionField{Column: "opened", Transform: TransformIdentity, Width: 2}
		}, "partitionBy[0].width", "BUCKET and TRUNCATE only"},
		{"unknown transform", func(d *Dataset) { d.PartitionBy[0].Transform = "HOUR" }, "partitionBy[0].transform", "unknown"},
		{"subject key unknown", func(d *Dataset) { d.SubjectKey = "ssn" }, "subjectKey", "no column"},
		{"retention column type", func(d *Dataset) { d.Retention.SeparateAfterColumn = "amount" }, "retention.separateAfterColumn", "DATE or TIMESTAMP"},
		{"retention without column", func(d *Dataset) { d.Retention.SeparateAfterColumn = "" }, "retention.separateAfterColumn", "required"},
		{"destroy before separate", func(d *Dataset) { d.Retention.DestroyAfterDays = 30 }, "retention.destroyAfterDays", "before"},
		{"domain upper case", func(d *Dataset) { d.Domain = "Credit" }, "domain", "lower-case"},
		{"suite name", func(d *Dataset) { d.QualitySuite = "a/b" }, "qualitySuite", "'/'"},
		{"failure policy", func(d *Dataset) { d.QualityFailurePolicy = "IGNORE" }, "qualityFailurePolicy", "ROLLBACK or KEEP"},
		{"description too long", func(d *Dataset) { d.Description = strings.Repeat("가", MaxDescriptionLength+1) }, "description", "longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := validDataset()
			tt.change(d)
			err := Validate(d, 3)
			if err == nil {
				t.Fatal("Validate accepted the dataset")
			}
			for _, fe := range fault.FieldErrors(err) {
				if fe.Field == tt.field && strings.Contains(fe.Reason, tt.reason) {
					return
				}
			}
			t.Fatalf("no error on %s containing %q; got: %v", tt.field, tt.reason, err)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	d := validDataset()
	d.Grade = 9
	d.Columns[0].Type = "X"
	if got := len(fault.FieldErrors(Validate(d, 3))); got != 2 {
		t.Fatalf("got %d field errors, want 2", got)
	}
}

func TestCheckEvolution(t *testing.T) {
	old := validDataset().Columns
	grow := func(change func(c []Column) []Column) []Column {
		return change(append([]Column(nil), old...))
	}
	tests := []struct {
		name string
		next []Column
		ok   bool
	}{
		{"same", grow(func(c []Column) []Column { return c }), true},
		{"add nullable column", grow(func(c []Column) []Column { return append(c, Column{Name: "note", Type: TypeString, Nullable: true}) }), true},
		{"add required column", grow(func(c []Column) []Column { return append(c, Column{Name: "note", Type: TypeString}) }), false},
		{"drop a column", old[:3], false},
		{"rename", grow(func(c []Column) []Column { c[1].Name = "cust"; return c }), false},
		{"int64 to string", grow(func(c []Column) []Column { c[0].Type = TypeString; return c }), false},
		{"decimal precision up", grow(func(c []Column) []Column { c[2].Precision = 20; return c }), true},
		{"decimal scale change", grow(func(c []Column) []Column { c[2].Scale = 3; return c }), false},
		{"required becomes nullable", grow(func(c []Column) []Column { c[0].Nullable = true; return c }), true},
		{"nullable becomes required", grow(func(c []Column) []Column { c[2].Nullable = false; return c }), false},
		{"grade change", grow(func(c []Column) []Column { c[2].Grade = 1; c[2].PII = true; return c }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckEvolution(old, tt.next)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, fault.ErrFailedPrecondition) {
				t.Fatalf("got %v, want a failed precondition", err)
			}
		})
	}
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"credit.loans", "a.b", "a.b.c", "../x.y", "ns.", ".t", "ns.t\x00", "가.나", strings.Repeat("a", 128) + ".b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		ns, table, ok := SplitID(id)
		if !ok {
			t.Fatalf("%q accepted but does not split", id)
		}
		for _, part := range []string{ns, table} {
			if part == "" || len(part) > MaxNameLength || strings.ContainsAny(part, "./\\\"'`; \x00") {
				t.Fatalf("%q accepted with unsafe part %q", id, part)
			}
		}
	})
}

func FuzzValidateColumnName(f *testing.F) {
	for _, s := range []string{"amount", "_x", "1a", "a b", "A", "", "a\"b", strings.Repeat("z", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if ValidateColumnName(name) != nil {
			return
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
				t.Fatalf("%q accepted with byte %q", name, c)
			}
		}
		if name[0] >= '0' && name[0] <= '9' {
			t.Fatalf("%q accepted starting with a digit", name)
		}
	})
}
