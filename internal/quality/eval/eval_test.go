package eval

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/lakeplane/lakeplane/internal/csvstream"
)

func samplesText(ss []Sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%d:%s", s.Row, s.Value)
	}
	return strings.Join(parts, " ")
}

// TestRules runs each rule type on purpose-built data, passing and failing,
// and checks the exact observed values, failing rows and samples. Batches
// of 2 rows make every rule cross batch boundaries.
func TestRules(t *testing.T) {
	refs := mapRefs{"ref.codes.code": {"A": true, "B": true}, "ref.all.code": {"A": true, "B": true, "C": true}}
	for _, tc := range []struct {
		rule     string
		outcome  Outcome
		observed string
		failing  int64
		samples  string
		expected string
	}{
		{`RowCount = 5`, Pass, "5", 0, "", "= 5"},
		{`RowCount > 5`, Fail, "5", 0, "", "> 5"},
		{`RowCount = 3 where "amount > 15"`, Pass, "3", 0, "", "= 3"},
		{`ColumnCount = 7`, Pass, "7", 0, "", "= 7"},
		{`ColumnCount between 8 and 10`, Fail, "7", 0, "", "between 8 and 10"},
		{`ColumnExists "name"`, Pass, "present", 0, "", "present"},
		{`ColumnExists "nope"`, Fail, "absent", 0, "", "present"},
		{`ColumnNamesMatchPattern "[a-z]+"`, Pass, "1", 0, "", `every column name matches "[a-z]+"`},
		{`ColumnNamesMatchPattern "[a-z]{3,}"`, Fail, "4/7", 0, "0:id 0:d 0:ts", `every column name matches "[a-z]{3,}"`},
		{`ColumnOrder = ["id", "name", "amount", "score", "d", "ts", "code"]`, Pass, `["id", "name", "amount", "score", "d", "ts", "code"]`, 0, "", `["id", "name", "amount", "score", "d", "ts", "code"]`},
		{`ColumnOrder = ["id", "amount", "name"]`, Fail, `["id", "name", "amount", "score", "d", "ts", "code"]`, 0, "", `["id", "amount", "name"]`},
		{`ColumnDataType "amount" = "DECIMAL"`, Pass, "DECIMAL(10,2)", 0, "", `= "DECIMAL"`},
		{`ColumnDataType "id" in ["INTEGER", "DATE"]`, Fail, "LONG", 0, "", `in ["INTEGER", "DATE"]`},
		{`ColumnDataType "code" = "INTEGER"`, Fail, "0.2", 4, "1:A 2:B 3:C 5:A", `= "INTEGER"`},
		{`IsComplete "id"`, Pass, "1", 0, "", "completeness = 1"},
		{`IsComplete "amount"`, Fail, "0.8", 1, "3:NULL", "completeness = 1"},
		{`Completeness "code" > 0.7`, Pass, "0.8", 1, "", "> 0.7"},
		{`Completeness "code" >= 0.9`, Fail, "0.8", 1, "4:NULL", ">= 0.9"},
		{`IsUnique "id"`, Pass, "1", 0, "", "uniqueness = 1"},
		{`IsUnique "code"`, Fail, "0.5", 2, "1:A 5:A", "uniqueness = 1"},
		{`Uniqueness "code" >= 0.5`, Pass, "0.5", 2, "", ">= 0.5"},
		{`Uniqueness "code" > 0.5`, Fail, "0.5", 2, "1:A 5:A", "> 0.5"},
		{`IsPrimaryKey "id"`, Pass, "completeness 1, uniqueness 1", 0, "", "completeness = 1, uniqueness = 1"},
		{`IsPrimaryKey "code"`, Fail, "completeness 0.8, uniqueness 0.5", 3, "1:A 4:NULL 5:A", "completeness = 1, uniqueness = 1"},
		{`IsPrimaryKey "id" "code"`, Fail, "completeness 0.8, uniqueness 1", 1, "4:NULL", "completeness = 1, uniqueness = 1"},
		{`IsUnique "code" "score"`, Pass, "1", 0, "", "uniqueness = 1"},
		{`UniqueValueRatio "code" between 0.6 and 0.7`, Pass, "2/3", 0, "", "between 0.6 and 0.7"},
		{`UniqueValueRatio "code" > 0.7`, Fail, "2/3", 0, "", "> 0.7"},
		{`DistinctValuesCount "code" = 3`, Pass, "3", 0, "", "= 3"},
		{`DistinctValuesCount "amount" < 4`, Fail, "4", 0, "", "< 4"},
		{`ColumnValues "code" in ["A", "B"]`, Fail, "0.6", 2, "3:C 4:NULL", `in ["A", "B"]`},
		{`ColumnValues "code" in ["A", "B"] with threshold >= 0.6`, Pass, "0.6", 2, "3:C 4:NULL", `in ["A", "B"] with threshold >= 0.6`},
		{`ColumnValues "code" in ["A", "B"] with threshold > 0.6`, Fail, "0.6", 2, "3:C 4:NULL", `in ["A", "B"] with threshold > 0.6`},
		{`ColumnValues "code" in ["A", "B", "C", NULL]`, Pass, "1", 0, "", `in ["A", "B", "C", NULL]`},
		{`ColumnValues "code" not in ["C", NULL]`, Fail, "0.6", 2, "3:C 4:NULL", `not in ["C", NULL]`},
		{`ColumnValues "code" != NULL`, Fail, "0.8", 1, "4:NULL", `!= NULL`},
		{`ColumnValues "code" != "A"`, Fail, "0.4", 3, "1:A 4:NULL 5:A", `!= "A"`},
		{`ColumnValues "amount" between 10 and 30`, Fail, "0.6", 2, "3:NULL 5:40.00", "between 10 and 30"},
		{`ColumnValues "amount" > 10.5`, Fail, "0.6", 2, "1:10.50 3:NULL", "> 10.5"},
		{`ColumnValues "amount" >= 10.5 where "amount IS NOT NULL"`, Pass, "1", 0, "", ">= 10.5"},
		{`ColumnValues "amount" <= 40 where "amount IS NOT NULL"`, Pass, "1", 0, "", "<= 40"},
		{`ColumnValues "amount" < 40 where "amount IS NOT NULL"`, Fail, "0.75", 1, "5:40.00", "< 40"},
		{`ColumnValues "amount" in [10.5, 30] where "amount IS NOT NULL"`, Fail, "0.5", 2, "2:20.25 5:40.00", "in [10.5, 30]"},
		{`ColumnValues "id" not between 2 and 4`, Fail, "0.4", 3, "2:2 3:3 4:4", "not between 2 and 4"},
		{`ColumnValues "score" > 2.4999999999999999`, Fail, "0.6", 2, "1:1.5 4:NULL", "> 2.4999999999999999"},
		{`ColumnValues "d" > "2024-01-15"`, Fail, "0.6", 2, "1:2024-01-01 5:NULL", `> "2024-01-15"`},
		{`ColumnValues "ts" <= now()`, Fail, "0.8", 1, "3:NULL", `<= now()`},
		{`ColumnValues "ts" > (now() - 2 days) where "ts IS NOT NULL"`, Fail, "0.5", 2, "1:2024-01-01T00:00:00Z 2:2024-06-01T00:00:00Z", `> (now() - 2 days)`},
		{`ColumnValues "name" matches "[A-Z][a-z]+"`, Pass, "1", 0, "", `matches "[A-Z][a-z]+"`},
		{`ColumnValues "name" matches "[A-Z][a-z]{2}"`, Fail, "0.4", 3, "3:Parkson 4:Choi 5:Jung", `matches "[A-Z][a-z]{2}"`},
		{`ColumnValues "name" not matches "K.*"`, Fail, "0.8", 1, "1:Kim", `not matches "K.*"`},
		{`ColumnValues "id" matches "[1-3]"`, Fail, "0.6", 2, "4:4 5:5", `matches "[1-3]"`},
		{`ColumnValues "code" = EMPTY`, Fail, "0", 5, "1:A 2:B 3:C 4:NULL 5:A", `= EMPTY`},
		{`ColumnLength "name" <= 4`, Fail, "0.8", 1, "3:Parkson", "<= 4"},
		{`ColumnLength "name" between 3 and 7`, Pass, "1", 0, "", "between 3 and 7"},
		{`Mean "amount" > 25`, Pass, "25.1875", 0, "", "> 25"},
		{`Mean "amount" > 25.1875`, Fail, "25.1875", 0, "", "> 25.1875"},
		{`Mean "id" = 3`, Pass, "3", 0, "", "= 3"},
		{`Sum "amount" = 100.75`, Pass, "100.75", 0, "", "= 100.75"},
		{`Sum "amount" < 100.75`, Fail, "100.75", 0, "", "< 100.75"},
		{`Sum "score" = 12`, Pass, "12", 0, "", "= 12"},
		{`Sum "amount" = 50.5 where "code = 'A'"`, Pass, "50.5", 0, "", "= 50.5"},
		{`StandardDeviation "score" between 1.118 and 1.1181`, Pass, "1.1180339887498948", 0, "", "between 1.118 and 1.1181"},
		{`StandardDeviation "id" < 1.4142`, Fail, "1.414213562373095", 0, "", "< 1.4142"},
		{`StandardDeviation "amount" > 0 where "code = 'B'"`, Fail, "0", 0, "", "> 0"},
		{`DataFreshness "ts" <= 2 days`, Fail, "0.4", 3, "1:2024-01-01T00:00:00Z 2:2024-06-01T00:00:00Z 3:NULL", "<= 2 days"},
		{`DataFreshness "ts" <= 100 days with threshold >= 0.6`, Pass, "0.6", 2, "1:2024-01-01T00:00:00Z 3:NULL", "<= 100 days with threshold >= 0.6"},
		{`DataFreshness "d" between 100 days and 200 days`, Fail, "0.4", 3, "3:2024-03-01 4:2024-04-01 5:NULL", "between 100 days and 200 days"},
		{`ReferentialIntegrity "code" "ref.codes.code" = 1.0`, Fail, "0.75", 1, "3:C", "= 1.0"},
		{`ReferentialIntegrity "code" "ref.all.code" = 1.0`, Pass, "1", 0, "", "= 1.0"},
		{`IsComplete "amount" where "code = 'C'"`, Fail, "0", 1, "3:NULL", "completeness = 1"},
		{`IsComplete "amount" where "code IN ('A', 'B') OR code IS NULL"`, Pass, "1", 0, "", "completeness = 1"},
		{`ColumnValues "amount" > 15 where "code IN ('A','B') AND code <> 'B'"`, Fail, "0.5", 1, "1:10.50", "> 15"},
		{`ColumnValues "id" > 1 where "NOT (code = 'A' OR code = 'C')"`, Pass, "1", 0, "", "> 1"},
		{`ColumnValues "id" <= 4 where "id BETWEEN 2 AND 5"`, Fail, "0.75", 1, "5:5", "<= 4"},
		{`(IsComplete "id") and (IsUnique "code")`, Fail, "(1) and (0.5)", 2, "1:A 5:A", "(completeness = 1) and (uniqueness = 1)"},
		{`(IsComplete "amount") or (IsUnique "id")`, Pass, "(0.8) or (1)", 0, "", "(completeness = 1) or (uniqueness = 1)"},
		{`((RowCount = 4) or (RowCount = 5)) and (Mean "id" = 3)`, Pass, "((5) or (5)) and (3)", 0, "", "((= 4) or (= 5)) and (= 3)"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			res := validate(t, "Rules = [ "+tc.rule+" ]", testCSV, testCols, 2, Options{References: refs})
			r := res[0]
			if r.Outcome != tc.outcome || r.Observed != tc.observed || r.FailingRows != tc.failing || samplesText(r.Samples) != tc.samples || r.Expected != tc.expected {
				t.Errorf("got %v observed %q failing %d samples %q expected %q (%s)\nwant %v observed %q failing %d samples %q expected %q",
					r.Outcome, r.Observed, r.FailingRows, samplesText(r.Samples), r.Expected, r.Message,
					tc.outcome, tc.observed, tc.failing, tc.samples, tc.expected)
			}
			if r.Rule == "" {
				t.Error("no rule text")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ rule, message string }{
		{`IsComplete "nope"`, `column "nope" is not in the data`},
		{`Mean "name" > 1`, "needs a numeric column"},
		{`ColumnLength "id" < 3`, "needs a STRING column"},
		{`DataFreshness "code" <= 1 days`, "needs a DATE or TIMESTAMP column"},
		{`CustomSql "select count(*) from primary" > 0`, "no SQL engine"},
		{`ReferentialIntegrity "code" "ref.x.code" = 1.0`, "no reference lookup"},
		{`ColumnValues "d" > 5`, "cannot be compared"},
		{`IsComplete "id" where "nope > 1"`, `column "nope" is not in the data`},
		{`Mean "amount" > 0 where "code > 5"`, ""},
	} {
		res := validate(t, "Rules = [ "+tc.rule+" ]", testCSV, testCols, 2, Options{})
		if tc.message == "" {
			continue
		}
		if res[0].Outcome != Error || !strings.Contains(res[0].Message, tc.message) {
			t.Errorf("%s: %v %q, want ERROR containing %q", tc.rule, res[0].Outcome, res[0].Message, tc.message)
		}
	}
}

func TestColumnOrderWrongHeader(t *testing.T) {
	csv := strings.Replace(testCSV, "id,name,amount", "id,amount,name", 1)
	// Swap the data columns too, so that the file decodes.
	lines := strings.Split(csv, "\n")
	for i := 1; i < len(lines); i++ {
		f := strings.Split(lines[i], ",")
		if len(f) > 2 {
			f[1], f[2] = f[2], f[1]
			lines[i] = strings.Join(f, ",")
		}
	}
	csv = strings.Join(lines, "\n")
	res := validate(t, `Rules = [ ColumnOrder = ["id", "name", "amount", "score", "d", "ts", "code"], IsComplete "name" ]`, csv, testCols, 0, Options{})
	r := res[0]
	if r.Outcome != Fail || r.Observed != `["id", "amount", "name", "score", "d", "ts", "code"]` || r.Message != `position 2 is "amount", expected "name"` {
		t.Errorf("ColumnOrder = %+v", r)
	}
	if res[1].Outcome != Pass {
		t.Errorf("IsComplete on the reordered file = %+v", res[1])
	}
}

func TestMasking(t *testing.T) {
	rule := `Rules = [ ColumnValues "name" in ["Kim"], IsUnique "name" "code" ]`
	masked := validate(t, rule, testCSV, testCols, 2, Options{Masked: func(c string) bool { return c == "name" }})
	if got := samplesText(masked[0].Samples); got != "2:*** 3:P*****n 4:**** 5:****" {
		t.Errorf("masked samples = %q", got)
	}
	plain := validate(t, rule, testCSV, testCols, 2, Options{})
	if got := samplesText(plain[0].Samples); got != "2:Lee 3:Parkson 4:Choi 5:Jung" {
		t.Errorf("unmasked samples = %q", got)
	}
}

func TestCompositeAndOverall(t *testing.T) {
	res := validate(t, `Rules = [ RowCount = 5, (IsComplete "id") or (CustomSql "select 1" > 0), (IsComplete "amount") and (CustomSql "select 1" > 0) ]`, testCSV, testCols, 0, Options{})
	if res[0].Outcome != Pass || res[1].Outcome != Pass || res[2].Outcome != Fail {
		t.Errorf("outcomes %v %v %v", res[0].Outcome, res[1].Outcome, res[2].Outcome)
	}
	if Overall(res) != Fail || Passed(res) {
		t.Errorf("overall %v", Overall(res))
	}
	res = validate(t, `Rules = [ (IsComplete "id") and (CustomSql "select 1" > 0) ]`, testCSV, testCols, 0, Options{})
	if res[0].Outcome != Error || Overall(res) != Error || len(res[0].Parts) != 2 {
		t.Errorf("and with an error part = %+v", res[0])
	}
}

type fixedTable int64

func (n fixedTable) RowCount(context.Context) (int64, error) { return int64(n), nil }

func TestTableRowCount(t *testing.T) {
	res := validate(t, `Rules = [ RowCount = 1000, RowCount = 1 where "code = 'B'" ]`, testCSV, testCols, 0, Options{Table: fixedTable(1000)})
	if res[0].Outcome != Pass || res[0].Observed != "1000" || res[1].Outcome != Pass {
		t.Errorf("%+v", res)
	}
}

func TestNoSpillFilesLeft(t *testing.T) {
	dir := t.TempDir()
	validate(t, `Rules = [ IsUnique "id" ]`, testCSV, testCols, 1, Options{TempDir: dir, MemoryBudget: 1})
	assertEmptyDir(t, dir)
}

// TestWideDecimals checks DECIMAL(38,2) values beyond 64 bits: exact sums,
// means, comparisons and duplicate detection.
func TestWideDecimals(t *testing.T) {
	cols := []csvstream.Column{{Name: "big", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}}}
	csv := "big\n12345678901234567890123456789012.34\n12345678901234567890123456789012.34\n-1.00\n"
	res := validate(t, `Rules = [
		Sum "big" = 24691357802469135780246913578023.68,
		IsUnique "big",
		ColumnValues "big" > 12345678901234567890123456789012.335,
		Mean "big" > 8230452600823045260082304526007.8933
	]`, csv, cols, 2, Options{})
	for i, w := range []struct {
		outcome           Outcome
		observed, samples string
	}{
		{Pass, "24691357802469135780246913578023.68", ""},
		{Fail, "1/3", "1:12345678901234567890123456789012.34 2:12345678901234567890123456789012.34"},
		{Fail, "2/3", "3:-1.00"},
		{Pass, "617283945061728394506172839450592/75", ""},
	} {
		r := res[i]
		if r.Outcome != w.outcome || r.Observed != w.observed || samplesText(r.Samples) != w.samples {
			t.Errorf("%s: %v %q samples %q (%s), want %v %q samples %q", r.Rule, r.Outcome, r.Observed, samplesText(r.Samples), r.Message, w.outcome, w.observed, w.samples)
		}
	}
}
