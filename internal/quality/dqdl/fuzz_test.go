package dqdl

import "testing"

// FuzzParse checks that Parse never panics and that whatever parses prints
// as DQDL that parses to the same rules, printed the same way.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		suite30,
		`Rules = [ ]`,
		`Rules = [ IsComplete "a" ]`,
		`Rules = [ ColumnValues "a" not in ["x", NULL, EMPTY] where "a <> 'y'" with threshold > 0.5 ]`,
		`Rules = [ (RowCount > 0) or ((IsComplete "colA") and (IsUnique "colA")) ]`,
		`Rules = [ DataFreshness "t" between 2 hours and 3 days, ColumnValues "d" between "2024-01-01" and now() ]`,
		`Rules = [ ColumnValues "a" = "\\" , ColumnValues "b" = "\"" ]`,
		"Rules = [ // c\n IsUnique \"a\" \"b\" /* x */ ]",
		`Rules = [ ColumnOrder = ["a", "b"] ]`,
		`Rules = [ CustomSql "select 1" with threshold > 0.5 ]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse(text)
		if err != nil {
			return
		}
		printed := rs.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("printed suite does not parse: %v\n%s", err, printed)
		}
		if !rs.Equal(again) {
			t.Fatalf("reparse differs:\n%s", printed)
		}
		if again.String() != printed {
			t.Fatalf("printing not stable:\n%s\n%s", printed, again.String())
		}
		back, err := FromStructured(ToStructured(rs))
		if err != nil {
			t.Fatalf("structured round trip: %v\n%s", err, printed)
		}
		if !rs.Equal(back) {
			t.Fatalf("structured round trip differs:\n%s\n%s", printed, back.String())
		}
		_ = Check(rs, TargetObject)
	})
}
