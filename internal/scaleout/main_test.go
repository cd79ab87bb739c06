package scaleout

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := gatehousetest.Main(m) // builds the gatehouse binary on first use, removes it after
	pgtest.StopShared()
	os.Exit(code)
}
