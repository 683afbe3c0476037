//go:build unix

package validate

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckerKillsWhatTheCheckLeftBehind(t *testing.T) {
	cmd := checkCommand(t, "CHECK_HANG=1", "CHECK_GRANDCHILD=1")
	v := &Checker{Command: cmd, Timeout: 500 * time.Millisecond}
	start := time.Now()
	got := v.Check(context.Background())
	assert.Less(t, time.Since(start), 3*time.Second, "the answer waits for no process the check left")
	assert.Equal(t, "no answer within 500ms (killed)", got.Problem)
	b, err := os.ReadFile(os.Getenv("CHILD_RECORD"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(b))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 5*time.Second, 10*time.Millisecond, "the grandchild died with the check's group")
}
