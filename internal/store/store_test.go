package store

import "testing"

func TestNormalizePageSize(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{-5, DefaultPageSize},
		{0, DefaultPageSize},
		{1, 1},
		{DefaultPageSize + 1, DefaultPageSize + 1},
		{MaxPageSize, MaxPageSize},
		{MaxPageSize + 1, MaxPageSize},
	} {
		if got := NormalizePageSize(tc.in); got != tc.want {
			t.Errorf("NormalizePageSize(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
