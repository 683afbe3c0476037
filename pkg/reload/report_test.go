package reload

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/hotreload/hotreload/pkg/annotations"
)

func TestFailedValueIsPrintableText(t *testing.T) {
	const at = "2026-12-07T12:00:00Z"
	t.Run("escapes an app's colours and newlines", func(t *testing.T) {
		assert.Equal(t, `0123456789ab: refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive\n\tin nginx.conf:12 (at 2026-12-07T12:00:00Z)`,
			failedValue("0123456789ab", "refused by the app: nginx -t: exit status 1: \x1b[1;31mnginx: [emerg]\x1b[0m unknown directive\n\tin nginx.conf:12", at))
	})
	t.Run("cuts the escaped reason to the annotation's bound", func(t *testing.T) {
		v := failedValue("0123456789ab", strings.Repeat("\x1b[2J", 1000), at)
		assert.Equal(t, "0123456789ab: "+strings.Repeat(`\x1b[2J`, 128)+`\…`+" (at 2026-12-07T12:00:00Z)", v)
		assert.LessOrEqual(t, len(v), annotations.MaxFailed)
	})
}

// hangingAPI answers no patch until answer is closed: an API server that
// went away and came back, with a request that never returns.
type hangingAPI struct {
	answer  chan struct{}
	patched chan []byte
}

func (a *hangingAPI) ListPods(context.Context, string, metav1.ListOptions) (*corev1.PodList, error) {
	return nil, errors.New("not used")
}

func (a *hangingAPI) WatchPods(context.Context, string, metav1.ListOptions) (watch.Interface, error) {
	return nil, errors.New("not used")
}

func (a *hangingAPI) CreateEvent(_ context.Context, _ string, ev *corev1.Event) (*corev1.Event, error) {
	return ev, nil
}

func (a *hangingAPI) PatchPod(ctx context.Context, _, _ string, _ types.PatchType, data []byte, _ metav1.PatchOptions) (*corev1.Pod, error) {
	select {
	case <-a.answer:
		a.patched <- data
		return &corev1.Pod{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A report whose request hangs gives up after its timeout and is sent
// again: it lands once the API server answers, instead of holding every
// later report.
func TestAReportThatHangsIsSentAgain(t *testing.T) {
	api := &hangingAPI{answer: make(chan struct{}), patched: make(chan []byte, 1)}
	r := &Reporter{Client: api, Namespace: "shop", PodName: "web-1", RetryAfter: 10 * time.Millisecond, Timeout: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	err := r.Report(ctx, Outcome{Revision: "0123456789ab", Message: "applied"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(api.answer)
	select {
	case data := <-api.patched:
		assert.Contains(t, string(data), `"hotreload/applied":"0123456789ab"`)
	case <-time.After(10 * time.Second):
		t.Fatal("the report was not sent again")
	}
}

// failingAPI refuses the first n patches, as an API server away does.
type failingAPI struct {
	hangingAPI
	n int
}

func (a *failingAPI) PatchPod(_ context.Context, _, _ string, _ types.PatchType, data []byte, _ metav1.PatchOptions) (*corev1.Pod, error) {
	if a.n > 0 {
		a.n--
		return nil, errors.New("dial tcp 10.96.0.1:443: connect: connection refused")
	}
	a.patched <- data
	return &corev1.Pod{}, nil
}

// A report is sent again for as long as it takes: past the longest wait
// between attempts, it goes on at that wait.
func TestAReportIsSentAgainPastTheLongestWait(t *testing.T) {
	api := &failingAPI{hangingAPI: hangingAPI{patched: make(chan []byte, 1)}, n: 20}
	r := &Reporter{Client: api, Namespace: "shop", PodName: "web-1", RetryAfter: time.Millisecond, maxRetryAfter: 4 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	require.Error(t, r.Report(ctx, Outcome{Revision: "0123456789ab", Message: "applied"}))
	select {
	case data := <-api.patched:
		assert.Contains(t, string(data), `"hotreload/applied":"0123456789ab"`)
	case <-time.After(10 * time.Second):
		t.Fatal("the report was given up")
	}
}

// A nudge (the pod's watch heard from the API server again) sends the
// outcome left unwritten at once, not after its wait.
func TestANudgeSendsAPendingReportAtOnce(t *testing.T) {
	// Refused by Report and by Run's first attempt; Run then waits an hour.
	api := &failingAPI{hangingAPI: hangingAPI{patched: make(chan []byte, 1)}, n: 2}
	r := &Reporter{Client: api, Namespace: "shop", PodName: "web-1", RetryAfter: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	require.Error(t, r.Report(ctx, Outcome{Revision: "0123456789ab", Message: "applied"}))
	r.Nudge()
	select {
	case data := <-api.patched:
		assert.Contains(t, string(data), `"hotreload/applied":"0123456789ab"`)
	case <-time.After(10 * time.Second):
		t.Fatal("the nudge sent nothing")
	}
}
