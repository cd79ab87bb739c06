package postgres

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// Two replicas (two Opens, two pools) on one database append audit batches at once:
// one chain.
func TestAuditChainedTwoOpens(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(t.Context(), dsn, Options{MaxConns: 4})
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	storetest.ChainedAppend(t, dbs[0], dbs[1])
}
