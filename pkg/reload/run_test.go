package reload

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// unreachableClient is a real client for an API server that refuses every
// connection.
func unreachableClient(t *testing.T) API {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	cs, err := NewAPI(&rest.Config{Host: host})
	require.NoError(t, err)
	return cs
}

func TestRunFailsAtOnceWhenASourceIsNotMounted(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "a=1"), files("tls.crt", "A"))
	require.NoError(t, os.RemoveAll(filepath.Join(l.SrcRoot, "tls")))
	r := New(Options{Client: unreachableClient(t), Namespace: "shop", PodName: "web", Live: l,
		Deliverer: &Deliverer{}, VerifyTimeout: time.Hour})

	err := r.Run(context.Background())
	require.ErrorIs(t, err, ErrSourceMissing)
	assert.Equal(t, "volume tls: "+filepath.Join(l.SrcRoot, "tls")+": volume source is not mounted (the pod must mount volume tls there; was it injected by another hotreload version?)", err.Error())
	assert.False(t, r.Ready(), "no live copy, never ready")
	_, err = os.Stat(l.LiveRoot)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written")
}

// TestRunServesTheLiveCopyWhileTheAPIServerIsUnreachable: the app's config
// does not depend on the API server. The reloader writes the live copy, is
// ready, waits for its pod for as long as it takes, and stops cleanly.
func TestRunServesTheLiveCopyWhileTheAPIServerIsUnreachable(t *testing.T) {
	l, write := newLive(t)
	rev := write(files("app.conf", "a=1"), files("tls.crt", "A"))
	r := New(Options{Client: unreachableClient(t), Namespace: "shop", PodName: "web", Live: l,
		Deliverer: &Deliverer{}, VerifyTimeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	require.Eventually(t, r.Ready, 30*time.Second, 10*time.Millisecond)
	got, err := l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, rev, got)
	cancel()
	assert.NoError(t, <-done, "stopping while waiting for the API server is a clean stop")
}
