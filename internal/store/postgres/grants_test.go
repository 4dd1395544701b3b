package postgres

import (
	"testing"

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
