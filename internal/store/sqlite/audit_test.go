package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// Two handles on one database file (as a server and an admin command have) append
// audit batches at once: one chain, since each transaction begins immediate.
func TestAuditChainedTwoOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	storetest.ChainedAppend(t, dbs[0], dbs[1])
}
