package tables

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"

	"github.com/lakeplane/lakeplane/internal/dataset"
	"github.com/lakeplane/lakeplane/internal/fault"
)

// conditionRows are 40 full rows (visits = id%5) and 3 whose nullable
// columns are all null.
func conditionRows() []customer {
	var rows []customer
	for id := range int64(40) {
		rows = append(rows, gen(id, int32(id%5)))
	}
	for id := int64(100); id < 103; id++ {
		rows = append(rows, customer{ID: id, Updated: epoch})
	}
	return rows
}

// decimalOf is a row's balance as an unscaled number of cents.
func decimalOf(t *testing.T, c customer) decimal128.Num {
	n, err := decimal128.FromString(*c.Balance, 18, 2)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every comparison on a column of every type selects exactly the rows the
// same comparison in Go selects; a null matches none, NOT_EQUAL included.
func TestConditionSelectsRowsOfEveryType(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src := customers("lake.cond")
	mustCreate(t, c, src)
	rows := conditionRows()
	mustWrite(t, c, src.ID, Append, reader(t, src, rows[:20]), nil)
	mustWrite(t, c, src.ID, Append, reader(t, src, rows[20:]), nil)
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	cents := func(s string) decimal128.Num { n, _ := decimal128.FromString(s, 18, 2); return n }
	tests := []struct {
		cond Condition
		want func(c customer) bool // called for rows whose column is not null
	}{
		{Condition{"customer_no", Equal, "C000007"}, func(c customer) bool { return *c.CustomerNo == "C000007" }},
		{Condition{"customer_no", NotEqual, "C000007"}, func(c customer) bool { return *c.CustomerNo != "C000007" }},
		{Condition{"customer_no", Greater, "C000030"}, func(c customer) bool { return *c.CustomerNo > "C000030" }},
		{Condition{"name", LessOrEqual, "김철수-2"}, func(c customer) bool { return *c.Name <= "김철수-2" }},
		{Condition{"active", Equal, "true"}, func(c customer) bool { return *c.Active }},
		{Condition{"active", NotEqual, "true"}, func(c customer) bool { return !*c.Active }},
		{Condition{"visits", Less, "2"}, func(c customer) bool { return *c.Visits < 2 }},
		{Condition{"visits", GreaterOrEqual, "4"}, func(c customer) bool { return *c.Visits >= 4 }},
		{Condition{"id", GreaterOrEqual, "35"}, func(c customer) bool { return c.ID >= 35 }},
		{Condition{"id", LessOrEqual, "3"}, func(c customer) bool { return c.ID <= 3 }},
		{Condition{"score", Less, "2.5"}, func(c customer) bool { return *c.Score < 2.5 }},
		{Condition{"score", Equal, "1.25"}, func(c customer) bool { return *c.Score == 1.25 }},
		{Condition{"balance", Equal, "7000.07"}, func(c customer) bool { return decimalOf(t, c) == cents("7000.07") }},
		{Condition{"balance", Greater, "30000.3"}, func(c customer) bool { return decimalOf(t, c).Greater(cents("30000.3")) }},
		{Condition{"balance", LessOrEqual, "-1"}, func(c customer) bool { return false }},
		{Condition{"birth", Less, "1980-01-11"}, func(c customer) bool { return c.Birth.Before(day("1980-01-11")) }},
		{Condition{"birth", Equal, "1980-01-21"}, func(c customer) bool { return c.Birth.Equal(day("1980-01-21")) }},
		{Condition{"updated", GreaterOrEqual, "2024-03-02T09:30:00Z"}, func(c customer) bool { return !c.Updated.Before(epoch.Add(24 * time.Hour)) }},
		{Condition{"updated", Less, "2024-03-01T18:30:00.000005+09:00"}, func(c customer) bool { return c.Updated.Before(epoch.Add(5 * time.Microsecond)) }},
	}
	tbl, err := c.load(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.cond.String(), func(t *testing.T) {
			pred, err := newCondPred(tbl.Schema(), tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			_, err = c.Read(ctx, src.ID, 0, func(rec arrow.RecordBatch) error {
				out, err := pred.filter(ctx, rec, true)
				if err != nil {
					return err
				}
				defer out.Release()
				ids := out.Column(out.Schema().FieldIndices("id")[0]).(*array.Int64)
				got = append(got, ids.Int64Values()...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			var want []int64
			for _, r := range rows {
				// Rows 100.. are null in every nullable column.
				if (r.ID < 100 || !src.Column(tt.cond.Column).Nullable) && tt.want(r) {
					want = append(want, r.ID)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

// A bad condition is a FieldError naming the field at fault.
func TestConditionRefusesBadInput(t *testing.T) {
	d := customers("lake.bad")
	tests := []struct {
		cond  Condition
		field string
	}{
		{Condition{"nope", Equal, "1"}, "condition.column"},
		{Condition{"id", "", "1"}, "condition.comparison"},
		{Condition{"id", "LIKE", "1"}, "condition.comparison"},
		{Condition{"active", Less, "true"}, "condition.comparison"},
		{Condition{"active", Equal, "yes"}, "condition.value"},
		{Condition{"id", Equal, "1.5"}, "condition.value"},
		{Condition{"visits", Equal, "3000000000"}, "condition.value"},
		{Condition{"score", Greater, "NaN"}, "condition.value"},
		{Condition{"score", Greater, "a lot"}, "condition.value"},
		{Condition{"balance", Equal, "1.234"}, "condition.value"},
		{Condition{"balance", Equal, "1e3"}, "condition.value"},
		{Condition{"balance", Equal, "12,50"}, "condition.value"},
		{Condition{"birth", Less, "2024-13-01"}, "condition.value"},
		{Condition{"birth", Less, "2024-01-01T00:00:00Z"}, "condition.value"},
		{Condition{"updated", Less, "2024-01-01"}, "condition.value"},
		{Condition{"updated", Less, "2024-01-01T00:00:00.0000001Z"}, "condition.value"},
	}
	// name is PII: a bad value of it is not repeated.
	d.Columns[1].Type = dataset.TypeInt64
	err := ValidateCondition(d, Condition{"name", Equal, "900101-1234567"})
	if fe := fault.FieldErrors(err); len(fe) != 1 || fe[0].Field != "condition.value" || strings.Contains(err.Error(), "1234567") {
		t.Fatalf("PII value: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.cond.String(), func(t *testing.T) {
			err := ValidateCondition(d, tt.cond)
			var fe *fault.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want a FieldError on %s", err, tt.field)
			}
		})
	}
}

// FormatValue writes each type's value as the text parseValue reads back.
func TestFormatValueRoundTrips(t *testing.T) {
	d := customers("lake.fmt")
	row := gen(12, 3)
	rec := batch(t, ArrowSchema(d), []customer{row})
	defer rec.Release()
	sc, err := icebergSchema(d)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // gen(12, 3)
		"id": "12", "name": "김철수-12", "active": "true", "visits": "3", "score": "3",
		"balance": "12000.12", "birth": "1980-01-13", "updated": "2024-03-01T09:30:00.000012Z", "customer_no": "C000012",
	}
	for i, f := range rec.Schema().Fields() {
		text, err := FormatValue(rec.Column(i), 0)
		if err != nil || text != want[f.Name] {
			t.Fatalf("%s: %q %v, want %q", f.Name, text, err, want[f.Name])
		}
		field, _ := sc.FindFieldByName(f.Name)
		v, err := parseValue(field.Type, text)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		x, _ := scalarAt(rec.Column(i), 0)
		if c, ok := v.compare(x); !ok || c != 0 {
			t.Fatalf("%s: %q reads back as %+v, not %+v", f.Name, text, v, x)
		}
	}
}

// A retention cutoff is the condition "column LESS cutoff": a DATE's day,
// a TIMESTAMP rounded up to the microsecond.
func TestCutoffCondition(t *testing.T) {
	cut := time.Date(2024, 1, 15, 23, 0, 0, 1500, time.FixedZone("KST", 9*3600))
	got, err := CutoffCondition(dataset.Column{Name: "joined", Type: dataset.TypeDate}, cut)
	if err != nil || got != (Condition{"joined", Less, "2024-01-15"}) {
		t.Fatalf("date: %+v %v", got, err)
	}
	got, err = CutoffCondition(dataset.Column{Name: "at", Type: dataset.TypeTimestamp}, cut)
	if err != nil || got != (Condition{"at", Less, "2024-01-15T14:00:00.000002Z"}) {
		t.Fatalf("timestamp: %+v %v", got, err)
	}
	var fe *fault.FieldError
	if _, err := CutoffCondition(dataset.Column{Name: "n", Type: dataset.TypeInt64}, cut); !errors.As(err, &fe) {
		t.Fatalf("int64: %v", err)
	}
}

// movedCustomers is the separated dataset of customers by a condition on
// balance: the required columns only.
func movedCustomers(id string) *dataset.Dataset {
	d := customers(id)
	d.Columns = slices.DeleteFunc(d.Columns, func(c dataset.Column) bool {
		return !slices.Contains([]string{"id", "balance", "updated", "customer_no"}, c.Name)
	})
	d.PartitionBy = nil
	return d
}

// CopyMatching copies the matching rows projected on the target's
// columns; DeleteMatching deletes them, reading only the files whose
// bounds allow a match; VerifySeparated finds the moved rows until they
// are gone, and not rows that match but were never moved, nor the other
// rows of a moved subject.
func TestCopyDeleteVerifySeparated(t *testing.T) {
	ctx := context.Background()
	c, _ := openSQLite(t)
	src, dst := customers("lake.m"), movedCustomers("lake_separated.m")
	mustCreate(t, c, src)
	mustCreate(t, c, dst)
	for _, r := range [][2]int64{{0, 100}, {100, 200}, {200, 300}} {
		mustWrite(t, c, src.ID, Append, reader(t, src, genRange(r[0], r[1], 1)), nil)
	}
	// balance is id*1000 + id%100/100: ids 250.. have more than 250000.49.
	cond := Condition{Column: "balance", Op: Greater, Value: "250000.49"}
	cp, err := c.CopyMatching(ctx, src.ID, dst.ID, cond, CopyOptions{Props: map[string]string{PropJobID: "job-m"}})
	if err != nil || cp.Rows != 50 {
		t.Fatalf("copy: %+v %v", cp, err)
	}
	moved := readAll(t, c, dst.ID)
	for id, row := range moved {
		if id < 250 || row.Name != nil || row.Birth != nil || *row.CustomerNo != *gen(id, 1).CustomerNo {
			t.Fatalf("moved row %d: %+v", id, row)
		}
	}
	sep := Separated{Target: dst.ID, CopySnapshotID: cp.SnapshotID, KeyColumn: "customer_no"}
	rep, err := c.VerifySeparated(ctx, src.ID, sep)
	// The source still holds every moved subject: none is searched for
	// byte for byte, and the rows are found.
	if err != nil || rep.Verified || rep.RowsMoved != 50 || rep.KeyValues != 50 || rep.KeyValuesKept != 50 || !hasFinding(rep.Findings, "row") {
		t.Fatalf("verify before the delete must find the moved rows: %+v %v", rep, err)
	}

	// Loaded after the copy: a matching row that was not moved, and
	// another row of a moved subject that does not match.
	late, sibling := gen(5000, 1), gen(5001, 1)
	sibling.CustomerNo, sibling.Balance = ptr("C000260"), ptr("1.00")
	mustWrite(t, c, src.ID, Append, reader(t, src, []customer{late, sibling}), nil)

	del, err := c.DeleteMatching(ctx, src.ID, cond, cp.SourceSnapshotID)
	if err != nil || del.RowsDeleted != 50 || del.FilesRewritten == 0 || del.FilesExamined >= del.FilesTotal {
		t.Fatalf("delete: %+v %v", del, err)
	}
	// Deleted, not yet expired: the old files still hold the rows, and
	// the moved subjects' ids (but the one the source keeps a row of).
	rep, err = c.VerifySeparated(ctx, src.ID, sep)
	if err != nil || rep.Verified || rep.KeyValuesKept != 1 || !hasFinding(rep.Findings, "row") || !hasFinding(rep.Findings, "bytes") {
		t.Fatalf("verify before the expiry must find the old files: %+v %v", rep, err)
	}
	if _, err := c.Expire(ctx, src.ID, time.Now().Add(time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	rep, err = c.VerifySeparated(ctx, src.ID, sep)
	if err != nil || !rep.Verified || rep.KeyValuesKept != 1 || rep.FilesScanned == 0 || rep.DataFilesRead == 0 {
		t.Fatalf("verify after the delete: %+v %v", rep, err)
	}
	left := readAll(t, c, src.ID)
	if len(left) != 252 || !slices.ContainsFunc(slices.Collect(maps.Keys(left)), func(id int64) bool { return id == 5000 }) {
		t.Fatalf("source rows after the move: %d", len(left))
	}
	// The condition alone still finds the late row, which is why the
	// verification looks for the moved rows instead.
	if rep, err := c.VerifyNoneMatching(ctx, src.ID, cond); err != nil || rep.Verified {
		t.Fatalf("VerifyNoneMatching: %+v %v", rep, err)
	}
	if may, err := c.MayHoldMatching(ctx, src.ID, Condition{Column: "id", Op: Greater, Value: "6000"}); err != nil || may {
		t.Fatalf("MayHoldMatching above every id: %v %v", may, err)
	}
}

func hasFinding(fs []Finding, how string) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.How == how && strings.Contains(f.Path, "/") })
}
