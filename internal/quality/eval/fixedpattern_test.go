package eval

import (
	"regexp"
	"testing"
)

func TestCompileFixed(t *testing.T) {
	for _, c := range []struct {
		expr  string
		fixed bool
	}{
		{`\d{6}-\d{7}`, true}, {`^\d{6}-\d{7}$`, true}, {`[A-Z]{2}[0-9]{4}`, true}, {`(ab)c.`, true},
		{`[가-힣]{2}\pL`, true}, {`(?i)[a-c]x`, true}, {``, true},
		{`a|b`, true}, {`(?i)ab`, true}, {`\d+`, false}, {`\d{2,3}`, false}, {`a|bc`, false}, {`a^b`, false}, {`a$b`, false},
		{`\bx`, false}, {`a*`, false}, {`(?m)^a$`, false},
	} {
		_, ok := compileFixed(`^(?:` + c.expr + `)$`)
		if ok != c.fixed {
			t.Errorf("compileFixed(%q) fixed = %v, want %v", c.expr, ok, c.fixed)
		}
	}
}

func TestFixedPatternMatchesRegexp(t *testing.T) {
	values := []string{"", "900101-1234567", "900101-123456", "900101-12345678", "9001011234567", "90o101-1234567",
		"AB1234", "ab1234", "AB12345", "abcx", "abcd", "가나a", "가나1", "가\xffa", "\xff\xff\xff", "x\n", "\n\n", "\u212aſ", "Ks", "bX"}
	for _, expr := range []string{`\d{6}-\d{7}`, `[A-Z]{2}[0-9]{4}`, `(ab)c.`, `[가-힣]{2}\pL`, `(?i)[a-c]x`, `(?i)kS`, `..`, `(?s)..`, `[^a]{3}`, `\x{FFFD}..`, ``} {
		full := `^(?:` + expr + `)$`
		p, ok := compileFixed(full)
		if !ok {
			t.Fatalf("compileFixed(%q) refused", expr)
		}
		re := regexp.MustCompile(full)
		for _, v := range values {
			if got, want := p.match(v), re.MatchString(v); got != want {
				t.Errorf("%q on %q: fixed %v, regexp %v", expr, v, got, want)
			}
		}
	}
}

// FuzzFixedPattern checks the fixed-pattern matcher against regexp on
// every expression it accepts.
func FuzzFixedPattern(f *testing.F) {
	for _, s := range [][2]string{
		{`\d{6}-\d{7}`, "900101-1234567"}, {`[A-Z]{2}\d`, "AB1"}, {`[가-힣]{2}`, "가나"}, {`.\x{FFFD}`, "a\xff"},
		{`(?s).`, "\n"}, {`[^\d]x`, "éx"}, {`(?i)[k]`, "\u212a"}, {`\pN{2}`, "٣4"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		full := `^(?:` + expr + `)$`
		re, err := regexp.Compile(full)
		if err != nil {
			return
		}
		p, ok := compileFixed(full)
		if !ok {
			return
		}
		if got, want := p.match(value), re.MatchString(value); got != want {
			t.Fatalf("%q on %q: fixed %v, regexp %v", expr, value, got, want)
		}
	})
}
