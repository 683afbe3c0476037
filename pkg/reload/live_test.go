package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/pkg/revision"
)

// files builds a payload from path, content pairs (mode 0640).
func files(kv ...string) map[string]kubeletdir.File {
	p := map[string]kubeletdir.File{}
	for i := 0; i < len(kv); i += 2 {
		p[kv[i]] = kubeletdir.File{Data: []byte(kv[i+1]), Mode: 0o640}
	}
	return p
}

// newLive returns a Live over two volumes and a function that writes both
// sources the way the kubelet does, returning their pod revision.
func newLive(t testing.TB) (*Live, func(a, b map[string]kubeletdir.File) string) {
	t.Helper()
	root := t.TempDir()
	l := &Live{SrcRoot: filepath.Join(root, "src"), LiveRoot: filepath.Join(root, "live"), Volumes: []string{"config", "tls"}}
	write := func(a, b map[string]kubeletdir.File) string {
		require.NoError(t, kubeletdir.Write(filepath.Join(l.SrcRoot, "config"), a))
		require.NoError(t, kubeletdir.Write(filepath.Join(l.SrcRoot, "tls"), b))
		rev, err := l.SourceRevision()
		require.NoError(t, err)
		return rev
	}
	return l, write
}

// liveLayout describes a live volume directory: "..data", the copy it points
// to and any other copy are shown by role, user-visible entries with their
// link targets, anything else verbatim.
func liveLayout(t testing.TB, dir string) []string {
	t.Helper()
	current, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "..data":
			out = append(out, "..data -> current")
		case name == current:
			out = append(out, "current/")
		case e.IsDir() && strings.HasPrefix(name, ".."):
			out = append(out, "previous/")
		default:
			target, err := os.Readlink(filepath.Join(dir, name))
			if err != nil {
				out = append(out, name)
			} else {
				out = append(out, name+" -> "+target)
			}
		}
	}
	slices.Sort(out)
	return out
}

func stageAndSwap(t testing.TB, l *Live, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := l.Stage(ctx, want)
	require.NoError(t, err)
	require.NoError(t, s.Swap())
}

func TestStageAndSwapKeepTheKubeletLayout(t *testing.T) {
	l, write := newLive(t)
	revA := write(files("app.conf", "a=1", "conf.d/x.conf", "x", "old.conf", "o"), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	got, err := l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, revA, got)
	assert.Equal(t, []string{"..data -> current", "app.conf -> ..data/app.conf", "conf.d -> ..data/conf.d", "current/", "old.conf -> ..data/old.conf"},
		liveLayout(t, filepath.Join(l.LiveRoot, "config")))
	fi, err := os.Stat(filepath.Join(l.LiveRoot, "config", "conf.d", "x.conf"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm(), "modes are kept")

	revB := write(files("app.conf", "a=2", "conf.d/y.conf", "y", "new.conf", "n"), files("tls.crt", "B"))
	stageAndSwap(t, l, revB)
	got, err = l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, revB, got)
	assert.Equal(t, []string{"..data -> current", "app.conf -> ..data/app.conf", "conf.d -> ..data/conf.d", "current/", "new.conf -> ..data/new.conf", "previous/"},
		liveLayout(t, filepath.Join(l.LiveRoot, "config")))
	b, err := os.ReadFile(filepath.Join(l.LiveRoot, "config", "app.conf"))
	require.NoError(t, err)
	assert.Equal(t, "a=2", string(b))
}

// TestAReaderBetweenDataAndItsFileFindsTheReplacedCopy: an app that had
// followed ..data to a copy just as a swap replaced it still opens its file
// there; the copy goes at the next stage, so a volume never holds more than
// two.
func TestAReaderBetweenDataAndItsFileFindsTheReplacedCopy(t *testing.T) {
	l, write := newLive(t)
	dir := filepath.Join(l.LiveRoot, "config")
	write(files("app.conf", "a=1"), files("tls.crt", "A"))
	stageAndSwap(t, l, "")
	followed, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)

	revB := write(files("app.conf", "a=2"), files("tls.crt", "B"))
	stageAndSwap(t, l, revB)
	b, err := os.ReadFile(filepath.Join(dir, followed, "app.conf"))
	require.NoError(t, err, "the replaced copy is still there after the swap")
	assert.Equal(t, "a=1", string(b))

	revC := write(files("app.conf", "a=3"), files("tls.crt", "C"))
	stageAndSwap(t, l, revC)
	_, err = os.Stat(filepath.Join(dir, followed))
	require.ErrorIs(t, err, fs.ErrNotExist, "the next stage removed it")
	assert.Equal(t, []string{"..data -> current", "app.conf -> ..data/app.conf", "current/", "previous/"}, liveLayout(t, dir))
	b, err = os.ReadFile(filepath.Join(dir, "app.conf"))
	require.NoError(t, err)
	assert.Equal(t, "a=3", string(b))
}

func TestStageWaitsForTheSourcesToReachTheRevision(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "a=1"), files("tls.crt", "A"))
	// Compute revision B from a scratch copy without publishing it yet.
	_, writeScratch := newLive(t)
	revB := writeScratch(files("app.conf", "a=2"), files("tls.crt", "B"))

	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(100 * time.Millisecond)
		write(files("app.conf", "a=2"), files("tls.crt", "B"))
	}()
	stageAndSwap(t, l, revB)
	<-done
	got, err := l.LiveRevision()
	require.NoError(t, err)
	assert.Equal(t, revB, got)
}

func TestStageTimesOutOnARevisionThatIsNotMounted(t *testing.T) {
	l, write := newLive(t)
	write(files("app.conf", "a=1"), files("tls.crt", "A"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := l.Stage(ctx, "000000000000")
	require.ErrorIs(t, err, ErrVerifyTimeout)
	entries, _ := os.ReadDir(filepath.Join(l.LiveRoot, "config"))
	assert.Empty(t, entries, "nothing is left behind")
}

var errCrash = errors.New("simulated crash")

// TestACrashAtAnyStepLeavesOldOrNewLiveAndRepairConverges stops a swap before
// each of its steps, as a crash would, and checks that every volume is at the
// old or the new revision, and that Repair and a new swap converge.
func TestACrashAtAnyStepLeavesOldOrNewLiveAndRepairConverges(t *testing.T) {
	for crashAt := range 6 { // 3 steps per volume, 2 volumes
		t.Run(fmt.Sprintf("crash before step %d", crashAt), func(t *testing.T) {
			l, write := newLive(t)
			write(files("app.conf", "a=1", "gone.conf", "g"), files("tls.crt", "A"))
			stageAndSwap(t, l, "")
			oldFiles, err := revision.DirsFiles(l.LiveRoot, l.Volumes)
			require.NoError(t, err)
			revB := write(files("app.conf", "a=2", "added.conf", "n"), files("tls.crt", "B"))
			newFiles, err := revision.DirsFiles(l.SrcRoot, l.Volumes)
			require.NoError(t, err)

			steps := 0
			l.hook = func(string) error {
				if steps == crashAt {
					return errCrash
				}
				steps++
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := l.Stage(ctx, revB)
			require.NoError(t, err)
			require.ErrorIs(t, s.Swap(), errCrash)

			for _, v := range l.Volumes {
				got, err := revision.DirFiles(filepath.Join(l.LiveRoot, v))
				require.NoError(t, err)
				assert.Contains(t, []string{oldFiles[v].Revision(), newFiles[v].Revision()}, got.Revision(), "volume %s", v)
			}

			l.hook = nil
			fresh := &Live{SrcRoot: l.SrcRoot, LiveRoot: l.LiveRoot, Volumes: l.Volumes} // a restarted reloader
			require.NoError(t, fresh.Repair())
			assert.Contains(t, [][]string{
				{"..data -> current", "app.conf -> ..data/app.conf", "current/", "gone.conf -> ..data/gone.conf"},
				{"..data -> current", "added.conf -> ..data/added.conf", "app.conf -> ..data/app.conf", "current/"},
			}, liveLayout(t, filepath.Join(l.LiveRoot, "config")), "a clean layout of either revision")
			assert.Equal(t, []string{"..data -> current", "current/", "tls.crt -> ..data/tls.crt"}, liveLayout(t, filepath.Join(l.LiveRoot, "tls")))
			stageAndSwap(t, fresh, revB)
			got, err := fresh.LiveRevision()
			require.NoError(t, err)
			assert.Equal(t, revB, got)
			assert.Equal(t, []string{"..data -> current", "added.conf -> ..data/added.conf", "app.conf -> ..data/app.conf", "current/", "previous/"},
				liveLayout(t, filepath.Join(l.LiveRoot, "config")))
		})
	}
}
