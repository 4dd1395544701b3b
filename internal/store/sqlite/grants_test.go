package sqlite

import (
	"testing"

	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

func TestGrantsConformance(t *testing.T) {
	storetest.RunGrants(t, func(t *testing.T) storetest.GrantsStore { return openTemp(t) })
}
