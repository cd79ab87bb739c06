package scaleout

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	removeBinary()
	pgtest.StopShared()
	os.Exit(code)
}
