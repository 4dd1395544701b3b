package subjecttag

import (
	"regexp"
	"testing"
)

func TestTag(t *testing.T) {
	k1, k2 := []byte("key one"), []byte("key two")
	a := Tag(k1, "900101-1234567")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) {
		t.Fatalf("tag %q is not 32 hex digits", a)
	}
	if Tag(k1, " 900101-1234567\t") != a {
		t.Error("spaces around the value change its tag")
	}
	if Tag(k2, "900101-1234567") == a {
		t.Error("another key gives the same tag")
	}
	if Tag(k1, "900101-1234568") == a {
		t.Error("another value gives the same tag")
	}
}
