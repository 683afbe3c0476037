//go:build integration

package reload

import (
	"testing"

	"github.com/hotreload/hotreload/internal/testenv"
)

func runTests(m *testing.M) { testenv.Main(m) }
