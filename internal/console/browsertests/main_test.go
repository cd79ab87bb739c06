// Package browsertests drives the console in a real headless Chromium against a real
// gatehouse server process (internal/browsertest, internal/gatehousetest).
package browsertests

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

func TestMain(m *testing.M) { os.Exit(gatehousetest.Main(m)) }
