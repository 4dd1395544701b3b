package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		err  *FieldError
		want string
	}{
		{&FieldError{Field: "id", Reason: "bad"}, "id: bad"},
		{&FieldError{Row: 1042, Column: "premium", Reason: `"12,5" is not a decimal`}, `row 1042, column "premium": "12,5" is not a decimal`},
		{&FieldError{Reason: "plain"}, "plain"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestFieldErrorsWalksJoinedAndWrapped(t *testing.T) {
	err := fmt.Errorf("create: %w", errors.Join(Invalid("a", "x"), fmt.Errorf("inner: %w", Invalid("b", "y")), errors.New("other")))
	got := FieldErrors(err)
	if len(got) != 2 || got[0].Field != "a" || got[1].Field != "b" {
		t.Fatalf("FieldErrors = %v", got)
	}
	if FieldErrors(errors.New("plain")) != nil {
		t.Fatal("found a field error in a plain error")
	}
}

func TestKinds(t *testing.T) {
	if !errors.Is(Precondition("x %d", 1), ErrFailedPrecondition) || !errors.Is(Denied("y"), ErrPermissionDenied) {
		t.Fatal("kinds do not wrap their sentinels")
	}
}
