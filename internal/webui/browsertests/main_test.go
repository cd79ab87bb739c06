package browsertests

import (
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/internal/gatehousetest"
)

func TestMain(m *testing.M) { os.Exit(gatehousetest.Main(m)) }
