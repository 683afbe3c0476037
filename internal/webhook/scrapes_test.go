package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/hotreload/hotreload/internal/identity"
)

// A token over identity.MaxTokenSize never reaches the authenticating
// filter, wherever the API server's authentication would read it; one of
// exactly that size does, within its caller's rate.
func TestLimitScrapesCapsTheTokenWhereverItIsRead(t *testing.T) {
	reached := 0
	authn := func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
		return func(_ logr.Logger, h http.Handler) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; h.ServeHTTP(w, r) }), nil
		}, nil
	}
	filter, err := limitScrapes(ScrapeLimits{Every: time.Hour, Burst: 10}, authn)(nil, nil)
	require.NoError(t, err)
	h, err := filter(logr.Discard(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	require.NoError(t, err)
	at := strings.Repeat("x", identity.MaxTokenSize)
	over := at + "x"
	var got []int
	for _, header := range []http.Header{
		{"Authorization": {"Bearer " + at}},
		{"Authorization": {"Bearer " + over}},
		{"Authorization": {"Bearer " + at, "Bearer " + over}},
		{"Sec-Websocket-Protocol": {"base64url.bearer.authorization.k8s.io." + over}},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Header = header
		h.ServeHTTP(w, r)
		got = append(got, w.Code)
	}
	assert.Equal(t, []int{http.StatusOK, http.StatusRequestHeaderFieldsTooLarge, http.StatusRequestHeaderFieldsTooLarge, http.StatusRequestHeaderFieldsTooLarge}, got)
	assert.Equal(t, 1, reached, "only the token within the cap reached the authentication")
}
