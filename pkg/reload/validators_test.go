package reload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/pkg/validate"
)

func TestVerdictErr(t *testing.T) {
	cmd := []string{"nginx", "-t"}
	assert.NoError(t, verdictErr(validate.Verdict{OK: true, Command: cmd}))
	err := verdictErr(validate.Verdict{Exit: 1, Command: cmd, Output: `nginx: [emerg] unknown directive "x" in /etc/nginx/nginx.conf:14\nnginx: configuration file /etc/nginx/nginx.conf test failed`})
	require.ErrorIs(t, err, ErrRefused)
	assert.EqualError(t, err, `refused by the app: nginx -t: exit status 1: nginx: [emerg] unknown directive "x" in /etc/nginx/nginx.conf:14\nnginx: configuration file /etc/nginx/nginx.conf test failed`)
	assert.EqualError(t, verdictErr(validate.Verdict{Exit: -1, Command: cmd, Problem: "no answer within 10s (killed)"}),
		"refused by the app: nginx -t: no answer within 10s (killed)")
	assert.EqualError(t, verdictErr(validate.Verdict{Exit: 2}), "refused by the app: the check: exit status 2")
	err = verdictErr(validate.Verdict{Exit: -1, Command: cmd, NotRun: true, Problem: `exec: "nginx": executable file not found in $PATH`})
	require.ErrorIs(t, err, ErrCheckNotRun)
	assert.NotErrorIs(t, err, ErrRefused, "not the app's verdict")
	assert.EqualError(t, err, `the app's check could not run: nginx -t: exec: "nginx": executable file not found in $PATH`)
}

// TestStagedViewFollowsEachStagedCopy: the validators' view of a staged
// revision is the kubelet's layout, its ..data pointing where the validators
// mount the live copy; staging the next revision moves it, and entries the
// new copy lacks go.
func TestStagedViewFollowsEachStagedCopy(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "a=1", "extra.conf", "x"), files("tls.crt", "A"))
	v := &Validators{StagedRoot: filepath.Join(t.TempDir(), "staged"), CandidateRoot: "/var/run/hotreload/candidate"}
	first, err := l.Stage(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, v.show(first))
	view := func(vol string) []string {
		dir := filepath.Join(v.StagedRoot, vol)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var out []string
		for _, e := range entries {
			target, err := os.Readlink(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			out = append(out, e.Name()+" -> "+target)
		}
		return out
	}
	assert.Equal(t, []string{"..data -> /var/run/hotreload/candidate/config/" + first.dirs["config"],
		"app.conf -> ..data/app.conf", "extra.conf -> ..data/extra.conf"}, view("config"))
	assert.Equal(t, []string{"..data -> /var/run/hotreload/candidate/tls/" + first.dirs["tls"], "tls.crt -> ..data/tls.crt"}, view("tls"))

	write(files("app.conf", "a=2"), files("tls.crt", "A"))
	next, err := l.Stage(t.Context(), "")
	require.NoError(t, err)
	require.NoError(t, v.show(next))
	assert.Equal(t, []string{"..data -> /var/run/hotreload/candidate/config/" + next.dirs["config"], "app.conf -> ..data/app.conf"}, view("config"))
	b, err := os.ReadFile(filepath.Join(l.LiveRoot, "config", next.dirs["config"], "app.conf"))
	require.NoError(t, err)
	assert.Equal(t, "a=2", string(b), "the view names the copy staged last")
}
