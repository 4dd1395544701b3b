package subjecttag

import (
	"regexp"
	"testing"

	"github.com/lakeplane/lakeplane/internal/dataset"
)

func TestTag(t *testing.T) {
	k1, k2 := []byte("key one"), []byte("key two")
	a := Tag(k1, dataset.TypeString, "900101-1234567")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) {
		t.Fatalf("tag %q is not 32 hex digits", a)
	}
	if Tag(k1, dataset.TypeString, " 900101-1234567\t") != a {
		t.Error("spaces around the value change its tag")
	}
	if Tag(k2, dataset.TypeString, "900101-1234567") == a {
		t.Error("another key gives the same tag")
	}
	if Tag(k1, dataset.TypeString, "900101-1234568") == a {
		t.Error("another value gives the same tag")
	}
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct {
		typ      dataset.ColumnType
		in, want string
	}{
		{dataset.TypeInt64, "042", "42"},
		{dataset.TypeInt64, " +42 ", "42"},
		{dataset.TypeInt64, "42", "42"},
		{dataset.TypeInt64, "-007", "-7"},
		{dataset.TypeInt32, "000", "0"},
		{dataset.TypeInt64, "42x", "42x"}, // not an integer: as stored
		{dataset.TypeString, "042", "042"},
		{dataset.TypeString, " C042 ", "C042"},
		{dataset.TypeDecimal, "042.10", "042.10"},
	} {
		if got := Canonical(c.typ, c.in); got != c.want {
			t.Errorf("Canonical(%s, %q) = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
	// An integer key: the tag of an id equals the tag of the stored value
	// however either is written, both ways.
	k := []byte("key")
	if Tag(k, dataset.TypeInt64, "042") != Tag(k, dataset.TypeInt64, "42") || Tag(k, dataset.TypeInt32, "42") != Tag(k, dataset.TypeInt32, "0042") {
		t.Error("an integer key's 042 and 42 tag differently")
	}
	// A string key: "042" and "42" are two subjects.
	if Tag(k, dataset.TypeString, "042") == Tag(k, dataset.TypeString, "42") {
		t.Error("a string key's 042 and 42 tag alike")
	}
}
