package erasure

import "testing"

func TestErasedSample(t *testing.T) {
	// Erased: integer key 42 (canonical "42"), string key "042-A".
	match := erasedSample(map[string]bool{"42": true, "042-A": true})
	for v, want := range map[string]bool{
		"42": true, "042": true, " +42 ": true, "042-A": true, " 042-A": true,
		"43": false, "420": false, "042-B": false, "": false, "NULL": false,
	} {
		if got := match(v); got != want {
			t.Errorf("sample %q: matched %v, want %v", v, got, want)
		}
	}
}
