package postgres

import (
	"testing"

	"github.com/lakeplane/lakeplane/internal/store"
	"github.com/lakeplane/lakeplane/internal/store/storetest"
)

func TestSyncConformance(t *testing.T) {
	storetest.RunSync(t, func(t *testing.T) store.Sync { return openFresh(t) })
}
