package scaleout

import (
	"os/exec"
	"testing"
)

// waitsOn skips the test while one of the issue 11 branches it needs exists in this
// repository but is not merged into the checked-out commit: the scale-out tests were
// written while those branches were being built. A checkout without the branches (CI,
// a fresh clone) runs every test. TEMPORARY: delete this file and its calls once every
// i11-* branch is merged.
func waitsOn(t *testing.T, branches ...string) {
	t.Helper()
	for _, b := range branches {
		if exec.Command("git", "rev-parse", "--verify", "--quiet", "refs/heads/"+b).Run() != nil {
			continue // no such branch here: nothing to wait for
		}
		if exec.Command("git", "merge-base", "--is-ancestor", b, "HEAD").Run() != nil {
			t.Skipf("waits on branch %s (not merged into HEAD yet)", b)
		}
	}
}

// The branches each test needs, besides what main has.
const (
	brCore     = "i11-pgcore"   // --store postgres://..., core tables
	brState    = "i11-pgstate"  // credentials, network, LISTEN/NOTIFY
	brAudit    = "i11-audit"    // the audit chain with several writers
	brSessions = "i11-sessions" // browser sessions and pending logins in the store
	brRefresh  = "i11-refresh"  // LockCredential: refresh exactly once across replicas
)
