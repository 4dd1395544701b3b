package pii

import "testing"

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"": "", "abcd": "****", "900101-1234567": "9************7", "홍길동님": "****", "홍길동입니다": "홍****다"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}
