package postgres

import (
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

func TestUsageConformance(t *testing.T) {
	storetest.RunUsage(t, func(t *testing.T) store.Store { return openFresh(t) })
}
