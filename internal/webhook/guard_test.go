package webhook

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echo answers the number of body bytes it could read, or the read error.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, strings.Repeat("x", len(b)))
})

// answer returns a response's status and body: answer(t)(http.Post(...)).
func answer(t *testing.T) func(*http.Response, error) (int, string) {
	return func(resp *http.Response, err error) (int, string) {
		t.Helper()
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
}

func TestGuardBoundsEachRequest(t *testing.T) {
	srv := httptest.NewServer(guard(Limits{MaxBody: 10, ReadTimeout: time.Minute, MaxInFlight: 4, QueueWait: time.Second}, echo))
	defer srv.Close()

	code, body := answer(t)(http.Post(srv.URL, "text/plain", strings.NewReader("0123456789")))
	assert.Equal(t, []any{http.StatusOK, "xxxxxxxxxx"}, []any{code, body}, "a body at the limit is read")

	code, body = answer(t)(http.Post(srv.URL, "text/plain", strings.NewReader("0123456789A")))
	assert.Equal(t, []any{http.StatusRequestEntityTooLarge, "request body too large"}, []any{code, body}, "a declared length over the limit is refused unread")

	chunked := io.MultiReader(strings.NewReader("0123456789"), strings.NewReader("ABC")) // no Content-Length
	code, body = answer(t)(http.Post(srv.URL, "text/plain", chunked))
	assert.Equal(t, []any{http.StatusBadRequest, "read: http: request body too large"}, []any{code, body}, "a chunked body is cut at the limit")

	code, body = answer(t)(http.Get(srv.URL))
	assert.Equal(t, []any{http.StatusMethodNotAllowed, "POST only"}, []any{code, body})
}

// Requests beyond MaxInFlight wait QueueWait for a slot, then get 429; a
// slot freed lets the next one in.
func TestGuardCapsTheRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	})
	srv := httptest.NewServer(guard(Limits{MaxBody: 10, MaxInFlight: 1, QueueWait: 50 * time.Millisecond}, blocking))
	defer srv.Close()
	first := make(chan int)
	go func() {
		resp, err := http.Post(srv.URL, "text/plain", nil)
		if err == nil {
			resp.Body.Close()
			first <- resp.StatusCode
		}
	}()
	<-entered
	code, body := answer(t)(http.Post(srv.URL, "text/plain", nil))
	assert.Equal(t, []any{http.StatusTooManyRequests, "too many requests in flight"}, []any{code, body})
	release <- struct{}{}
	assert.Equal(t, http.StatusOK, <-first)

	go func() { <-entered; release <- struct{}{} }()
	code, _ = answer(t)(http.Post(srv.URL, "text/plain", nil))
	assert.Equal(t, http.StatusOK, code, "the slot is free again")
}

// A body that trickles in (slow-loris) is cut at ReadTimeout: the slot and
// the connection are not held longer.
func TestGuardCutsASlowBody(t *testing.T) {
	srv := httptest.NewServer(guard(Limits{MaxBody: 100, ReadTimeout: 200 * time.Millisecond, MaxInFlight: 1, QueueWait: time.Second}, echo))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err, "the server answers before the client's 10 s deadline")
	code, body := answer(t)(resp, nil)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "i/o timeout")
}
