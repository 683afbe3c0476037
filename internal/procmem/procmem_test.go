package procmem

import (
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusMiB(t *testing.T) {
	got, err := StatusMiB(os.Getpid(), "VmRSS", "RssAnon")
	require.NoError(t, err)
	assert.Greater(t, got[0], 0.0, "this process has a resident set")
	assert.GreaterOrEqual(t, got[0], got[1], "anonymous pages are part of it")
	_, err = StatusMiB(os.Getpid(), "NoSuchField")
	assert.EqualError(t, err, "no NoSuchField in /proc/"+strconv.Itoa(os.Getpid())+"/status")
}
