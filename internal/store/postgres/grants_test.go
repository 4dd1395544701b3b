package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

func TestGrantsConformance(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsStore { return openFresh(t) })
}

// TestGovernanceLogSQL checks the triggers that keep the governance log.
func TestGovernanceLogSQL(t *testing.T) {
	s := openFresh(t)
	storetest.CheckGovernanceLogSQL(t, s, s.DB())
}

// TestGovernanceLogTruncate checks migration 0013: a TRUNCATE of a governed
// table, which fires no row trigger, logs one reload change naming it.
func TestGovernanceLogTruncate(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t)
	if _, err := s.SetResourceTags(ctx, store.TagResource{Database: "sales"}, map[string]string{"grade": "2"}, nil); err != nil {
		t.Fatal(err)
	}
	v, err := s.GovernanceVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"resource_tags", "group_grants"} {
		if _, err := s.DB().ExecContext(ctx, "TRUNCATE "+table); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GovernanceChanges(ctx, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range got {
		kinds = append(kinds, fmt.Sprintf("%d %s %s", c.Seq-v, c.Kind, c.Key))
	}
	if want := []string{"1 reload resource_tags", "2 reload group_grants"}; !slices.Equal(kinds, want) {
		t.Errorf("TRUNCATEs logged %q, want %q", kinds, want)
	}
}
