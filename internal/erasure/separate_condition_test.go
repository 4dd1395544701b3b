package erasure

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	lakeplanev1 "github.com/lakeplane/lakeplane/gen/lakeplane/v1"
	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
	"github.com/lakeplane/lakeplane/internal/tables"
)

// policies has a column of every type; rrn is PII.
func policies() *dataset.Dataset {
	return &dataset.Dataset{
		ID: "insure.policies",
		Columns: []dataset.Column{
			{Name: "policy_id", Type: dataset.TypeInt64},
			{Name: "holder", Type: dataset.TypeString},
			{Name: "rrn", Type: dataset.TypeString, Nullable: true, PII: true},
			{Name: "active", Type: dataset.TypeBoolean, Nullable: true},
			{Name: "claims", Type: dataset.TypeInt32, Nullable: true},
			{Name: "risk", Type: dataset.TypeDouble, Nullable: true},
			{Name: "premium", Type: dataset.TypeDecimal, Precision: 18, Scale: 2, Nullable: true},
			{Name: "ended", Type: dataset.TypeDate, Nullable: true},
			{Name: "updated", Type: dataset.TypeTimestamp, Nullable: true},
			{Name: "note", Type: dataset.TypeString, Nullable: true},
		},
		PrimaryKey: []string{"policy_id"},
		SubjectKey: "holder",
		Retention:  dataset.Retention{SeparateAfterColumn: "ended", SeparateAfterDays: 30},
	}
}

// A condition's value is read as a CSV field of its column is, and kept
// in canonical form.
func TestRowConditionReadsValuesAsCSV(t *testing.T) {
	tests := []struct {
		column, value, want string
	}{
		{"holder", `김, "Jr"`, `김, "Jr"`},
		{"note", "", ""},
		{"active", "Y", "true"},
		{"active", "false", "false"},
		{"claims", "7", "7"},
		{"policy_id", "-12", "-12"},
		{"risk", "1.50", "1.5"},
		{"premium", "12.5", "12.50"},
		{"premium", "-0.01", "-0.01"},
		{"ended", "2024-01-31", "2024-01-31"},
		{"updated", "2024-01-31 09:00:00", "2024-01-31T09:00:00Z"},
		{"updated", "2024-01-31T18:00:00.25+09:00", "2024-01-31T09:00:00.25Z"},
	}
	d := policies()
	for _, tt := range tests {
		t.Run(tt.column+"="+tt.value, func(t *testing.T) {
			got, err := rowCondition(d, &lakeplanev1.RowCondition{Column: tt.column, Comparison: lakeplanev1.Comparison_EQUAL, Value: tt.value})
			want := tables.Condition{Column: tt.column, Op: tables.Equal, Value: tt.want}
			if err != nil || got != want {
				t.Fatalf("got %+v %v, want %+v", got, err, want)
			}
		})
	}
}

// A bad condition names each field at fault, and never repeats a PII
// column's value.
func TestRowConditionRefusesBadInput(t *testing.T) {
	tests := []struct {
		name   string
		cond   *lakeplanev1.RowCondition
		fields []string
	}{
		{"no column", &lakeplanev1.RowCondition{Comparison: lakeplanev1.Comparison_LESS, Value: "1"}, []string{"condition.column"}},
		{"unknown column and no comparison", &lakeplanev1.RowCondition{Column: "nope", Value: "1"}, []string{"condition.column", "condition.comparison"}},
		{"comparison out of range", &lakeplanev1.RowCondition{Column: "claims", Comparison: 42, Value: "1"}, []string{"condition.comparison"}},
		{"ordered boolean", &lakeplanev1.RowCondition{Column: "active", Comparison: lakeplanev1.Comparison_GREATER, Value: "true"}, []string{"condition.comparison"}},
		{"bad boolean", &lakeplanev1.RowCondition{Column: "active", Comparison: lakeplanev1.Comparison_EQUAL, Value: "maybe"}, []string{"condition.value"}},
		{"bad int32", &lakeplanev1.RowCondition{Column: "claims", Comparison: lakeplanev1.Comparison_EQUAL, Value: "3000000000"}, []string{"condition.value"}},
		{"bad int64", &lakeplanev1.RowCondition{Column: "policy_id", Comparison: lakeplanev1.Comparison_EQUAL, Value: "12a"}, []string{"condition.value"}},
		{"NaN", &lakeplanev1.RowCondition{Column: "risk", Comparison: lakeplanev1.Comparison_LESS, Value: "NaN"}, []string{"condition.value"}},
		{"decimal past its scale", &lakeplanev1.RowCondition{Column: "premium", Comparison: lakeplanev1.Comparison_LESS, Value: "1.005"}, []string{"condition.value"}},
		{"bad date", &lakeplanev1.RowCondition{Column: "ended", Comparison: lakeplanev1.Comparison_LESS, Value: "31/01/2024"}, []string{"condition.value"}},
		{"bad timestamp", &lakeplanev1.RowCondition{Column: "updated", Comparison: lakeplanev1.Comparison_LESS, Value: "yesterday"}, []string{"condition.value"}},
		{"empty date", &lakeplanev1.RowCondition{Column: "ended", Comparison: lakeplanev1.Comparison_LESS}, []string{"condition.value"}},
	}
	d := policies()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rowCondition(d, tt.cond)
			var got []string
			for _, fe := range fault.FieldErrors(err) {
				got = append(got, fe.Field)
			}
			if !slices.Equal(got, tt.fields) {
				t.Fatalf("fields %v (%v), want %v", got, err, tt.fields)
			}
		})
	}
	// rrn is PII: its value is a (masked) mystery in the message.
	d.Columns[2].Type = dataset.TypeInt64
	_, err := rowCondition(d, &lakeplanev1.RowCondition{Column: "rrn", Comparison: lakeplanev1.Comparison_EQUAL, Value: "900101-1234567"})
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "condition.value" || strings.Contains(err.Error(), "1234567") {
		t.Fatalf("PII value: %v", err)
	}
}

// The separated dataset keeps the columns that are not nullable, and the
// keys, the retention column and the condition's column whatever their
// nullability; an existing one must have all of those.
func TestSeparatedColumns(t *testing.T) {
	src := policies()
	names := func(cols []dataset.Column) []string {
		var out []string
		for _, c := range cols {
			out = append(out, c.Name)
		}
		return out
	}
	byRetention, err := tables.CutoffCondition(*src.Column("ended"), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(separatedColumns(src, byRetention)); !slices.Equal(got, []string{"policy_id", "holder", "ended"}) {
		t.Fatalf("by retention: %v", got)
	}
	byRisk := tables.Condition{Column: "risk", Op: tables.Greater, Value: "0.9"}
	if got := names(separatedColumns(src, byRisk)); !slices.Equal(got, []string{"policy_id", "holder", "risk", "ended"}) {
		t.Fatalf("by risk: %v", got)
	}

	src.PartitionBy = []dataset.PartitionField{{Column: "ended", Transform: dataset.TransformYear}, {Column: "note", Transform: dataset.TransformIdentity}}
	sep := separatedDataset(src, "insure_separated.policies", byRisk)
	if sep.Grade != 1 || sep.SubjectKey != "holder" || len(sep.PartitionBy) != 1 || sep.PartitionBy[0].Column != "ended" {
		t.Fatalf("separated dataset: %+v", sep)
	}
	if err := dataset.Validate(sep, 3); err != nil {
		t.Fatalf("separated dataset is not valid: %v", err)
	}
	if err := checkSeparatedColumns(src, sep, byRisk); err != nil {
		t.Fatalf("a separated dataset as made: %v", err)
	}
	// Made by a retention separation: it lacks risk, which a separation by
	// risk must keep.
	err = checkSeparatedColumns(src, separatedDataset(src, "insure_separated.policies", byRetention), byRisk)
	if !errors.Is(err, fault.ErrFailedPrecondition) || !strings.Contains(err.Error(), `"risk"`) {
		t.Fatalf("a separated dataset without the condition's column: %v", err)
	}
}
