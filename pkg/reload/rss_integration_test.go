//go:build integration

package reload

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/hotreload/hotreload/internal/kubeletdir"
	"github.com/hotreload/hotreload/internal/procmem"
	"github.com/hotreload/hotreload/internal/testenv"
)

// idleFor is how long the sidecar idles before its RSS is read.
const idleFor = 60 * time.Second

// BenchmarkIntegrationReloaderIdleRSS builds the real reloader binary, runs
// `reloader run` as a child process against the real API server, on
// kubelet-style source directories of its pod, waits until it has reported
// its start-up revision, lets it idle for 60 s and reports its resident set
// size (VmRSS) in MiB.
func BenchmarkIntegrationReloaderIdleRSS(b *testing.B) {
	env := testenv.Get(b)
	ns := env.Namespace(b, nil)
	podWithRunningApp(b, env.Clientset, ns)
	dir := b.TempDir()
	bin := filepath.Join(dir, "reloader")
	build := exec.Command("go", "build", "-o", bin, "github.com/hotreload/hotreload/cmd/reloader")
	build.Stderr = os.Stderr
	require.NoError(b, build.Run(), "go build the reloader")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(b, writeKubeconfig(env.Config, kubeconfig))

	l := &Live{SrcRoot: filepath.Join(dir, "src"), LiveRoot: filepath.Join(dir, "live"), Volumes: []string{"config", "tls"}}
	require.NoError(b, writeSources(l))
	rev, err := l.SourceRevision()
	require.NoError(b, err)

	cmd := exec.Command(bin, "run", "--src-dir", l.SrcRoot, "--live-dir", l.LiveRoot, "--volume", "config,tls",
		"--container", "app", "--signal", "none", "--wait-release", "--health-addr", "127.0.0.1:0",
		"--kubeconfig", kubeconfig, "--pod-name", "web", "--pod-namespace", ns)
	logs, err := os.Create(filepath.Join(dir, "reloader.log"))
	require.NoError(b, err)
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(b, cmd.Start())
	stopped := false
	b.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitPod(b, env.Clientset, ns, "the reloader reported its start-up revision", appliedIs(rev))

	var rss, anon, file float64
	for b.Loop() {
		time.Sleep(idleFor)
		st, err := procmem.StatusMiB(cmd.Process.Pid, "VmRSS", "RssAnon", "RssFile")
		require.NoError(b, err)
		rss, anon, file = st[0], st[1], st[2]
	}
	require.NoError(b, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(b, cmd.Wait(), "the reloader stops cleanly on SIGTERM")
	stopped = true
	b.ReportMetric(rss, "MiB-RSS")
	b.ReportMetric(anon, "MiB-anon")
	b.ReportMetric(file, "MiB-file")
	b.ReportMetric(0, "ns/op")
}

func writeSources(l *Live) error {
	for v, payload := range map[string]map[string]kubeletdir.File{
		"config": files("app.conf", "listen 8080\n", "conf.d/extra.conf", "gzip on\n"),
		"tls":    files("tls.crt", "CRT", "tls.key", "KEY"),
	} {
		if err := kubeletdir.Write(filepath.Join(l.SrcRoot, v), payload); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfig writes a kubeconfig reaching the API server as cfg does.
func writeKubeconfig(cfg *rest.Config, file string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, file)
}
