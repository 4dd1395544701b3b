package dqdl

import (
	"errors"
	"strings"
	"testing"
)

// suite30 is a 30-rule suite covering every rule type, composites, where
// clauses and thresholds.
const suite30 = `Rules = [
    RowCount > 100,
    RowCount between 10 and 2000000 where "amount > 0",
    ColumnCount = 17,
    ColumnExists "customer_id",
    ColumnNamesMatchPattern "^[a-z_]+$",
    ColumnDataType "birth_date" = "DATE",
    ColumnDataType "amount" in ["DECIMAL", "DOUBLE"] with threshold >= 0.99,
    ColumnOrder = ["customer_id", "name", "rrn"],
    IsComplete "customer_id",
    IsComplete "email" where "gender = 'F'",
    Completeness "phone" > 0.95,
    IsUnique "customer_id",
    Uniqueness "policy_no" >= 0.999,
    IsPrimaryKey "customer_id" "policy_no",
    UniqueValueRatio "product" between 0 and 0.5,
    DistinctValuesCount "product" in [3, 4, 5],
    ColumnValues "gender" in ["M", "F", NULL],
    ColumnValues "product" not in ["X", EMPTY, WHITESPACES_ONLY],
    ColumnValues "rrn" matches "^\d{6}-\d{7}$",
    ColumnValues "premium" between 10000 and 999999.99 with threshold > 0.9,
    ColumnValues "start_date" <= now(),
    ColumnValues "signed_at" > (now() - 400 days),
    ColumnValues "channel_code" != 7 where "channel_code IS NOT NULL and channel_code < 50",
    ColumnLength "name" <= 10,
    Mean "premium" between 1000 and 1000000,
    Sum "coverage" > -1.5,
    StandardDeviation "premium" < 1000000,
    DataFreshness "signed_at" <= 400 days,
    ReferentialIntegrity "product" "sales.products.code" = 1.0,
    (IsComplete "rrn") and (IsUnique "rrn") and ((Mean "premium" > 0) or (ColumnValues "note" = "a \"quoted\" \\ note"))
]`

func TestParseRoundTrip30(t *testing.T) {
	rs, err := Parse(suite30)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 30 {
		t.Fatalf("parsed %d rules, want 30", len(rs.Rules))
	}
	// text → print → parse
	printed := rs.String()
	again, err := Parse(printed)
	if err != nil {
		t.Fatalf("reparsing the printed suite: %v\n%s", err, printed)
	}
	if !rs.Equal(again) {
		t.Fatalf("print changed the rules:\n%s", printed)
	}
	if again.String() != printed {
		t.Fatalf("printing is not canonical:\n%s\n---\n%s", printed, again.String())
	}
	// text → structured → rules → print
	st := ToStructured(rs)
	back, err := FromStructured(st)
	if err != nil {
		t.Fatal(err)
	}
	if !rs.Equal(back) {
		t.Fatalf("structured round trip changed the rules:\n%s\n---\n%s", printed, back.String())
	}
	if back.String() != printed {
		t.Fatalf("structured round trip printed differently")
	}
	// The printed regex is as written.
	if !strings.Contains(printed, `matches "^\d{6}-\d{7}$"`) {
		t.Errorf("regex printed as %s", printed)
	}
	ri := st[28]
	if ri.ReferenceDataset != "sales.products" || ri.ReferenceColumns[0] != "code" || ri.Columns[0] != "product" || ri.Expression != "= 1.0" {
		t.Errorf("ReferentialIntegrity structured = %+v", ri)
	}
	order := st[7]
	if order.Type != TypeColumnOrder || len(order.Columns) != 3 || order.Expression != "" {
		t.Errorf("ColumnOrder structured = %+v", order)
	}
	comp := st[29]
	if len(comp.All) != 3 || len(comp.All[2].Any) != 2 {
		t.Errorf("composite structured = %+v", comp)
	}
	if st[9].Where != "gender = 'F'" || st[6].Threshold != ">= 0.99" {
		t.Errorf("where/threshold structured = %+v %+v", st[9], st[6])
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		text       string
		line, col  int
		wantSubstr string
	}{
		{`Rules = [ IsComplete ]`, 1, 11, "IsComplete takes one column"},
		{"Rules = [\n  Completeness \"a\" >\n]", 3, 1, "expected a number"},
		{`Rules = [ Bogus "a" ]`, 1, 11, "unknown rule type"},
		{`Rules = [ iscomplete "a" ]`, 1, 11, "did you mean IsComplete"},
		{`Rules = [ IsComplete "a" IsUnique "b" ]`, 1, 26, `expected "," or "]"`},
		{`Rules = [ IsComplete "a"`, 1, 25, "end of input"},
		{`Rules = [ ColumnValues "a" in ["x", ]`, 1, 37, "expected a number, a quoted string"},
		{`Rules = [ (IsComplete "a") and (IsUnique "a") or (IsUnique "b") ]`, 1, 47, "cannot be mixed"},
		{`Rules = [ ColumnValues "a" matches "(" ]`, 1, 36, "not a regular expression"},
		{`Rules = [ IsComplete "a" where "a > b" ]`, 1, 32, "not another column"},
		{`Rules = [ IsComplete "a" where "a > 1 and b < 2" ]`, 1, 32, "on one column"},
		{`Rules = [ IsComplete "a" where "upper(a) = 'X'" ]`, 1, 32, "function upper"},
		{`Rules = [ ColumnCount > 1 where "a > 1" ]`, 1, 27, "does not take a where"},
		{`Rules = [ IsUnique "a" with threshold > 0.5 ]`, 1, 24, "does not take a threshold"},
		{`Rules = [ DataFreshness "a" <= 5 ]`, 1, 34, `"days", "hours" or "minutes"`},
		{`Rules = [ DataFreshness "a" <= "x" ]`, 1, 32, "expected a duration"},
		{`Rules = [ ColumnValues "a" = "x" with tag = "y" ]`, 1, 39, `"threshold" after "with"`},
		{`Rules = [ ReferentialIntegrity "a,b" "ds.c" = 1.0 ]`, 1, 11, "refer to 1 reference column"},
		{`Rules = [ Mean "a" matches "x" ]`, 1, 20, "matches needs"},
		{`Rules = [ ColumnValues "a" > NULL ]`, 1, 28, "cannot be compared"},
		{`Rules = [ ColumnValues "a" = "unterminated ]`, 1, 30, "closing '\"'"},
		{`Rules = [ ]x`, 1, 12, "end of input"},
		{`Rule = [ ]`, 1, 1, `expected "Rules"`},
	} {
		_, err := Parse(tc.text)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: error %v, want a *SyntaxError", tc.text, err)
			continue
		}
		if se.Line != tc.line || se.Column != tc.col || !strings.Contains(se.Error(), tc.wantSubstr) {
			t.Errorf("%s:\n got %v (line %d, column %d)\nwant line %d, column %d, containing %q", tc.text, err, se.Line, se.Column, tc.line, tc.col, tc.wantSubstr)
		}
	}
}

func TestCommentsAndKeywordsCase(t *testing.T) {
	rs, err := Parse(`// suite
Rules = [ /* one */ RowCount BETWEEN 1 AND 5, (IsComplete "a") OR (IsUnique "a"), ColumnValues "x" ! = 3, ColumnValues "d" > (now()-3 days) ]`)
	if err != nil {
		t.Fatal(err)
	}
	want := `Rules = [
    RowCount between 1 and 5,
    (IsComplete "a") or (IsUnique "a"),
    ColumnValues "x" != 3,
    ColumnValues "d" > (now() - 3 days)
]`
	if got := rs.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestParseWhere(t *testing.T) {
	w, err := ParseWhere(`(amount >= 10 AND amount < 20.5) OR amount IN (1, 2) OR amount IS NULL OR NOT amount BETWEEN -3 AND -1`)
	if err != nil {
		t.Fatal(err)
	}
	if w.Column != "amount" || w.Expr.Op != WhereOr || len(w.Expr.Parts) != 4 {
		t.Fatalf("where = %+v", w)
	}
	if c := w.Expr.Parts[2].Cond; c.Op != OpEq || c.Values[0].Kind != Null {
		t.Errorf("IS NULL = %+v", c)
	}
	for _, bad := range []string{"a = (select 1)", "a + 1 > 2", "a = b", "a LIKE 'x%'", "", "a IS 3", "'x' = a"} {
		if _, err := ParseWhere(bad); err == nil {
			t.Errorf("ParseWhere(%q) accepted", bad)
		}
	}
}

func TestCheck(t *testing.T) {
	rs, err := Parse(`Rules = [ CustomSql "select count(*) from primary" > 0, ReferentialIntegrity "a" "d.b" = 1.0, Mean "x" > 0, IsComplete "a" ]`)
	if err != nil {
		t.Fatal(err)
	}
	err = Check(rs, TargetObject)
	var refused []*RuleError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *RuleError
		if errors.As(e, &re) {
			refused = append(refused, re)
		}
	}
	if len(refused) != 3 || !strings.Contains(refused[0].Reason, "no SQL engine") || refused[1].Index != 1 {
		t.Errorf("Check(object) = %v", err)
	}
	err = Check(rs, TargetDataset)
	if err == nil || !strings.Contains(err.Error(), "CustomSql") || strings.Contains(err.Error(), "Referential") {
		t.Errorf("Check(dataset) = %v", err)
	}
	ok, _ := Parse(`Rules = [ IsComplete "a", ReferentialIntegrity "a" "d.b" = 1.0 ]`)
	if err := Check(ok, TargetDatasetObject); err != nil {
		t.Errorf("Check(dataset object) = %v", err)
	}
}

func TestFromStructuredErrors(t *testing.T) {
	for _, s := range []StructuredRule{
		{},
		{Type: "IsComplete"},
		{Type: "Completeness", Columns: []string{"a"}, Expression: "> x"},
		{All: []StructuredRule{{Type: "IsComplete", Columns: []string{"a"}}}},
		{Type: "Completeness", Columns: []string{"a"}, Expression: `> 0.5) and (IsUnique "b"`},
	} {
		if _, err := FromStructured([]StructuredRule{s}); err == nil {
			t.Errorf("FromStructured(%+v) accepted", s)
		}
	}
}
