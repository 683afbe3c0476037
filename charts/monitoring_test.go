package charts_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The ServiceMonitor scrapes what the webhook serves its metrics on: the
// Service it selects, its port that leads to the container's port the
// metrics listen on, over HTTPS with the token Prometheus' ServiceAccount
// mounts, trusting the CA of the Secret the webhook serves from, for a name
// the serving certificate holds.
func TestTheServiceMonitorScrapesTheMetricsPort(t *testing.T) {
	objs := helmTemplate(t, chartDir, "--set", "serviceMonitor.enabled=true")
	sm := object(t, objs, "ServiceMonitor hotreload-system/hotreload-webhook")
	var spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port            string `json:"port"`
			Scheme          string `json:"scheme"`
			BearerTokenFile string `json:"bearerTokenFile"`
			TLSConfig       struct {
				ServerName string `json:"serverName"`
				CA         struct {
					Secret corev1.SecretKeySelector `json:"secret"`
				} `json:"ca"`
			} `json:"tlsConfig"`
		} `json:"endpoints"`
	}
	into(t, &unstructured.Unstructured{Object: sm.Object["spec"].(map[string]any)}, &spec)
	require.Len(t, spec.Endpoints, 1)
	ep := spec.Endpoints[0]

	svc := into(t, object(t, objs, "Service hotreload-system/hotreload-webhook"), &corev1.Service{})
	for k, v := range spec.Selector.MatchLabels {
		require.Equal(t, v, svc.Labels[k], "the ServiceMonitor selects the webhook's Service by its label %s", k)
	}
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port })
	require.NotEqual(t, -1, i, "the Service has the port %q", ep.Port)
	c := container(t, objs)
	j := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == svc.Spec.Ports[i].TargetPort.String() })
	require.NotEqual(t, -1, j, "the Service's port leads to a port of the container")
	require.Contains(t, c.Args, fmt.Sprintf("--metrics-bind-address=:%d", c.Ports[j].ContainerPort), "the metrics listen on that port")

	require.Equal(t, "https", ep.Scheme, "the metrics are served over TLS (--metrics-secure)")
	require.Equal(t, "/var/run/secrets/kubernetes.io/serviceaccount/token", ep.BearerTokenFile, "Prometheus' own token")
	require.Contains(t, servingNames, ep.TLSConfig.ServerName, "a name of the serving certificate")
	require.Equal(t, "ca.crt", ep.TLSConfig.CA.Secret.Key)
	require.Equal(t, servingSecret(t, objs), ep.TLSConfig.CA.Secret.Name, "the CA of the Secret the webhook serves from")
	secret := into(t, object(t, objs, "Secret hotreload-system/"+ep.TLSConfig.CA.Secret.Name), &corev1.Secret{})
	require.NotEmpty(t, secret.Data["ca.crt"])
}

// servingSecret is the Secret mounted at the webhook's --cert-dir.
func servingSecret(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	c := container(t, objs)
	i := slices.IndexFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--cert-dir=") })
	require.NotEqual(t, -1, i, "--cert-dir")
	j := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == strings.TrimPrefix(c.Args[i], "--cert-dir=") })
	require.NotEqual(t, -1, j, "a volume at --cert-dir")
	vols := deployment(t, objs).Spec.Template.Spec.Volumes
	k := slices.IndexFunc(vols, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[j].Name })
	require.NotEqual(t, -1, k)
	require.NotNil(t, vols[k].Secret, "a Secret volume")
	return vols[k].Secret.SecretName
}
