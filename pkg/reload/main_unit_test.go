//go:build !integration

package reload

import (
	"os"
	"testing"
)

func runTests(m *testing.M) { os.Exit(m.Run()) }
