// Package pii says how personal values appear where they must not be read:
// in error messages, logs, rejects files and quality samples.
package pii

import (
	"strings"
	"unicode/utf8"
)

// Mask hides a value: its length stays visible, and for values of five
// runes or more the first and last rune, e.g. "9************7" for a
// resident registration number. Shorter values are all stars.
func Mask(v string) string {
	n := utf8.RuneCountInString(v)
	if n <= 4 {
		return strings.Repeat("*", n)
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	return string(first) + strings.Repeat("*", n-2) + string(last)
}
