package sqlite

import (
	"testing"

	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

func TestGrantsConformance(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsStore { return openTemp(t) })
}

// TestGovernanceLogSQL checks the triggers that keep the governance log.
func TestGovernanceLogSQL(t *testing.T) {
	s := openTemp(t)
	storetest.CheckGovernanceLogSQL(t, s, s.DB())
}
