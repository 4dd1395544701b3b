package paging

import (
	"errors"
	"testing"

	"github.com/lakeplane/lakeplane/internal/fault"
)

func TestBoundsWalksEveryItemOnce(t *testing.T) {
	var seen []int
	token := ""
	for {
		start, end, next, err := Bounds(7, 3, token)
		if err != nil {
			t.Fatal(err)
		}
		for i := start; i < end; i++ {
			seen = append(seen, i)
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(seen) != 7 || seen[6] != 6 {
		t.Fatalf("pages covered %v", seen)
	}
}

func TestBoundsRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		size  int
		token string
		field string
	}{{-1, "", "pageSize"}, {1, "garbage!", "pageToken"}, {1, "bzo5OQ", "pageToken"}} {
		_, _, _, err := Bounds(5, tc.size, tc.token)
		var fe *fault.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Bounds(size %d, token %q) = %v, want an error on %s", tc.size, tc.token, err, tc.field)
		}
	}
}
