package dqdl

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a suite that does not parse, or names a rule lakeplane
// does not know or gives one the wrong parameters: it names the line and
// column (1-based, counted in characters) and what was expected there.
type SyntaxError struct {
	Line, Column int
	// Expected is what would have been valid, e.g. "a condition".
	Expected string
	// Found is what was there instead, e.g. `"abc"` or "end of input".
	Found string
	// Reason replaces Expected and Found when the text is well formed but
	// wrong, e.g. "IsComplete takes one column, not 2".
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("dqdl: line %d, column %d: %s", e.Line, e.Column, e.Reason)
	}
	return fmt.Sprintf("dqdl: line %d, column %d: expected %s, found %s", e.Line, e.Column, e.Expected, e.Found)
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tPunct // [ ] ( ) , = != > >= < <= + - !
)

type token struct {
	kind      tokKind
	text      string // identifier, punctuation, number literal, unquoted string
	raw       string // as written
	line, col int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		s := t.raw
		if utf8.RuneCountInString(s) > 40 {
			s = string([]rune(s)[:37]) + `..."`
		}
		return s
	}
	return fmt.Sprintf("%q", t.raw)
}

// lexer splits DQDL text into tokens, skipping white space and // and /* */
// comments.
type lexer struct {
	src       string
	pos       int
	line, col int
}

func newLexer(s string) *lexer { return &lexer{src: s, line: 1, col: 1} }

func (l *lexer) advance(n int) {
	for _, r := range l.src[l.pos : l.pos+n] {
		if r == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
	}
	l.pos += n
}

func (l *lexer) errAt(line, col int, expected, found string) *SyntaxError {
	return &SyntaxError{Line: line, Column: col, Expected: expected, Found: found}
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			l.advance(1)
		case strings.HasPrefix(l.src[l.pos:], "//"):
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				end = len(l.src) - l.pos
			}
			l.advance(end)
		case strings.HasPrefix(l.src[l.pos:], "/*"):
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return token{}, l.errAt(l.line, l.col, `"*/" closing the comment`, "end of input")
			}
			l.advance(end + 4)
		default:
			return l.token()
		}
	}
	return token{kind: tEOF, line: l.line, col: l.col}, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) token() (token, error) {
	t := token{line: l.line, col: l.col}
	s := l.src[l.pos:]
	c := s[0]
	switch {
	case isIdentStart(c):
		n := 1
		for n < len(s) && (isIdentStart(s[n]) || isDigit(s[n])) {
			n++
		}
		t.kind, t.text, t.raw = tIdent, s[:n], s[:n]
		l.advance(n)
		return t, nil
	case isDigit(c) || c == '-' && len(s) > 1 && isDigit(s[1]):
		n := 0
		if c == '-' {
			n = 1
		}
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n+1 < len(s) && s[n] == '.' && isDigit(s[n+1]) {
			n++
			for n < len(s) && isDigit(s[n]) {
				n++
			}
		}
		t.kind, t.text, t.raw = tNumber, s[:n], s[:n]
		l.advance(n)
		return t, nil
	case c == '"':
		var b strings.Builder
		i := 1
		for {
			if i >= len(s) {
				return t, l.errAt(t.line, t.col, `a closing '"' for the string starting here`, "end of input")
			}
			switch s[i] {
			case '"':
				t.kind, t.text, t.raw = tString, b.String(), s[:i+1]
				l.advance(i + 1)
				if !utf8.ValidString(t.text) {
					return t, &SyntaxError{Line: t.line, Column: t.col, Reason: "the string is not valid UTF-8"}
				}
				return t, nil
			case '\\':
				if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
			}
			b.WriteByte(s[i])
			i++
		}
	}
	for _, p := range []string{"!=", ">=", "<=", "[", "]", "(", ")", ",", "=", ">", "<", "+", "-", "!"} {
		if strings.HasPrefix(s, p) {
			t.kind, t.text, t.raw = tPunct, p, p
			l.advance(len(p))
			return t, nil
		}
	}
	r, _ := utf8.DecodeRuneInString(s)
	return t, l.errAt(l.line, l.col, "a rule, a string, a number or punctuation", fmt.Sprintf("%q", r))
}

// quote returns s as a DQDL string literal. Only a backslash that would
// otherwise escape the next character (a quote, a backslash, or the closing
// quote) is doubled, so that regular expressions such as "^\d{6}$" print
// as written.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			if i+1 == len(s) || s[i+1] == '"' || s[i+1] == '\\' {
				b.WriteString(`\\`)
			} else {
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
