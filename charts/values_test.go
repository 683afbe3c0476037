package charts_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// valuesFile writes values (YAML) to a file for helm's --values, in a
// directory without a comma in its name (helm splits --values at commas).
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hotreload-chart-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(f, []byte(values), 0o644))
	return f
}

// into converts o into the typed obj.
func into[T any](t *testing.T, o *unstructured.Unstructured, obj *T) *T {
	t.Helper()
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, obj))
	return obj
}

// deployment is the webhook's Deployment among objs.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	return into(t, object(t, objs, "Deployment hotreload-system/hotreload-webhook"), &appsv1.Deployment{})
}

// container is the webhook's container among objs.
func container(t *testing.T, objs []*unstructured.Unstructured) corev1.Container {
	t.Helper()
	cs := deployment(t, objs).Spec.Template.Spec.Containers
	require.Len(t, cs, 1)
	return cs[0]
}

// webhookEnv is the webhook container's environment when it injects reloader
// and its Go memory limit is limit.
func webhookEnv(reloader, limit string) []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "HOTRELOAD_RELOADER_IMAGE", Value: reloader},
		{Name: "GOMEMLIMIT", Value: limit},
	}
}

// defaultArgs are the webhook's arguments with default values, deploy/'s.
var defaultArgs = []string{
	"serve",
	"--port=9443",
	"--exchange-port=9444",
	"--cert-dir=/etc/hotreload/tls",
	"--metrics-bind-address=:8443",
	"--health-probe-bind-address=:8081",
	"--leader-elect=true",
	"--reloader-image=$(HOTRELOAD_RELOADER_IMAGE)",
	"--install-namespace=$(POD_NAMESPACE)",
}

const digest = "sha256:4b1d6e0f4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392"

func TestValuesReachTheObjects(t *testing.T) {
	defaults := helmTemplate(t, chartDir)
	for _, tc := range []struct {
		name   string
		values string
		check  func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		{
			name: "images by repository, tag and digest: the webhook's, and the reloader's it injects",
			values: `
image:
  webhook: {repository: registry.example.com/hotreload/webhook, digest: "` + digest + `"}
  reloader: {repository: registry.example.com/hotreload/reloader, tag: v0.3.0}
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				c := container(t, objs)
				require.Equal(t, "registry.example.com/hotreload/webhook:dev@"+digest, c.Image)
				require.Equal(t, webhookEnv("registry.example.com/hotreload/reloader:v0.3.0", "112MiB"), c.Env)
				require.Equal(t, defaultArgs, c.Args)
			},
		},
		{
			name: "one replica: no PodDisruptionBudget, which would block every drain",
			values: `
replicas: 1
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				require.Equal(t, int32(1), *deployment(t, objs).Spec.Replicas)
				want := slices.DeleteFunc(keys(byKey(t, defaults)), func(k string) bool {
					return k == "PodDisruptionBudget hotreload-system/hotreload-webhook"
				})
				require.Equal(t, want, keys(byKey(t, objs)))
			},
		},
		{
			name: "resources, merged with the defaults as Helm merges values (null removes one), and the Go memory limit",
			values: `
resources:
  requests: {cpu: 100m, memory: 128Mi}
  limits: {cpu: null, memory: 512Mi}
goMemLimit: 224MiB
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				c := container(t, objs)
				require.Equal(t, map[string]string{"cpu": "100m", "memory": "128Mi"}, quantities(c.Resources.Requests))
				require.Equal(t, map[string]string{"memory": "512Mi"}, quantities(c.Resources.Limits))
				require.Equal(t, webhookEnv("hotreload/reloader:dev", "224MiB"), c.Env)
			},
		},
		{
			name: "the named flags, then extraArgs, after deploy/'s arguments",
			values: `
flags:
  logLevel: debug
  controllerAPIQPS: 12.5
  controllerAPIBurst: 1000000
  reloaderTokenTTL: 2h
extraArgs: [--live-size-limit=32Mi, --native-sidecar=false]
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				require.Equal(t, append(slices.Clone(defaultArgs),
					"--log-level=debug",
					"--controller-api-qps=12.5",
					"--controller-api-burst=1000000",
					"--reloader-token-ttl=2h",
					"--live-size-limit=32Mi",
					"--native-sidecar=false",
				), container(t, objs).Args)
			},
		},
		{
			name: "selectors narrow injection: added to hotreload/injection=enabled and hotreload/enable=true, which they cannot change",
			values: `
webhook:
  namespaceSelector:
    matchLabels: {team: shop}
    matchExpressions: [{key: tier, operator: In, values: [web]}]
  objectSelector:
    matchLabels: {hotreload/enable: "false", app: web}
    matchExpressions: [{key: canary, operator: DoesNotExist}]
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				w, ok, err := unstructured.NestedSlice(object(t, objs, "MutatingWebhookConfiguration /hotreload").Object, "webhooks")
				require.NoError(t, err)
				require.True(t, ok)
				require.Len(t, w, 1)
				hook := w[0].(map[string]any)
				require.Equal(t, map[string]any{
					"matchLabels": map[string]any{"team": "shop"},
					"matchExpressions": []any{
						map[string]any{"key": "hotreload/injection", "operator": "In", "values": []any{"enabled"}},
						map[string]any{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []any{"kube-system", "hotreload-system"}},
						map[string]any{"key": "tier", "operator": "In", "values": []any{"web"}},
					},
				}, hook["namespaceSelector"])
				require.Equal(t, map[string]any{
					"matchLabels":      map[string]any{"hotreload/enable": "true", "app": "web"},
					"matchExpressions": []any{map[string]any{"key": "canary", "operator": "DoesNotExist"}},
				}, hook["objectSelector"])
			},
		},
		{
			name: "scheduling and the pods' labels and annotations",
			values: `
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [system]}]}]
priorityClassName: system-cluster-critical
podLabels: {team: platform, app.kubernetes.io/name: other}
podAnnotations: {example.com/scrape: "false"}
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				d := deployment(t, objs)
				spec := d.Spec.Template.Spec
				require.Equal(t, map[string]string{"kubernetes.io/os": "linux"}, spec.NodeSelector)
				require.Equal(t, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "platform", Effect: corev1.TaintEffectNoSchedule}}, spec.Tolerations)
				require.Equal(t, &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"system"}}},
					}}},
				}}, spec.Affinity)
				require.Equal(t, "system-cluster-critical", spec.PriorityClassName)
				require.Equal(t, map[string]string{"app.kubernetes.io/name": "hotreload-webhook", "team": "platform"}, d.Spec.Template.Labels,
					"the selector's label stays the chart's")
				require.Equal(t, map[string]string{"example.com/scrape": "false"}, d.Spec.Template.Annotations)
			},
		},
		{
			name: "commonLabels and commonAnnotations on every object, beside its own",
			values: `
commonLabels: {team: platform, app.kubernetes.io/part-of: other}
commonAnnotations: {example.com/owner: platform}
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				own := byKey(t, defaults)
				for k, o := range byKey(t, objs) {
					wantLabels := own[k].GetLabels()
					wantLabels["team"] = "platform"
					require.Equal(t, wantLabels, o.GetLabels(), "%s: its labels, the chart's, and team", k)
					wantAnnotations := own[k].GetAnnotations()
					if wantAnnotations == nil {
						wantAnnotations = map[string]string{}
					}
					wantAnnotations["example.com/owner"] = "platform"
					require.Equal(t, wantAnnotations, o.GetAnnotations(), "%s: its annotations and example.com/owner", k)
				}
				d := deployment(t, objs)
				require.Equal(t, map[string]string{"app.kubernetes.io/name": "hotreload-webhook", "team": "platform", "app.kubernetes.io/part-of": "other"},
					d.Spec.Template.Labels, "commonLabels on the pods too")
				require.Equal(t, map[string]string{"example.com/owner": "platform"}, d.Spec.Template.Annotations)
			},
		},
		{
			name: "serviceMonitor.enabled and prometheusRule.enabled add their objects, with their labels; the rules are deploy/monitoring's",
			values: `
serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}
prometheusRule: {enabled: true, labels: {release: prometheus}}
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				want := append(keys(byKey(t, defaults)), "PrometheusRule hotreload-system/hotreload", "ServiceMonitor hotreload-system/hotreload-webhook")
				slices.Sort(want)
				require.Equal(t, want, keys(byKey(t, objs)))
				sm := object(t, objs, "ServiceMonitor hotreload-system/hotreload-webhook")
				require.Equal(t, "prometheus", sm.GetLabels()["release"])
				require.Equal(t, map[string]any{
					"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "hotreload-webhook"}},
					"endpoints": []any{map[string]any{
						"port":            "metrics",
						"scheme":          "https",
						"interval":        "15s",
						"honorLabels":     true,
						"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
						"tlsConfig": map[string]any{
							"serverName": "hotreload-webhook.hotreload-system.svc",
							"ca":         map[string]any{"secret": map[string]any{"name": "hotreload-webhook-tls", "key": "ca.crt"}},
						},
					}},
				}, sm.Object["spec"])
				rule := object(t, objs, "PrometheusRule hotreload-system/hotreload")
				require.Equal(t, "prometheus", rule.GetLabels()["release"])
				require.Equal(t, monitoringFile(t, "rules.yaml"), rule.Object["spec"], "deploy/monitoring/rules.yaml's groups, {{ $labels }} left to Prometheus")
			},
		},
		{
			name: "dashboard.enabled adds the dashboard's ConfigMap, labelled for Grafana's sidecar, where dashboard.namespace says",
			values: `
dashboard: {enabled: true}
`,
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				want := append(keys(byKey(t, defaults)), "ConfigMap hotreload-system/hotreload-dashboard")
				slices.Sort(want)
				require.Equal(t, want, keys(byKey(t, objs)))
				cm := into(t, object(t, objs, "ConfigMap hotreload-system/hotreload-dashboard"), &corev1.ConfigMap{})
				require.Equal(t, "1", cm.Labels["grafana_dashboard"])
				raw, err := os.ReadFile(filepath.Join("..", "deploy", "monitoring", "dashboard.json"))
				require.NoError(t, err)
				require.Equal(t, map[string]string{"hotreload.json": string(raw)}, cm.Data, "deploy/monitoring/dashboard.json")

				objs = helmTemplate(t, chartDir, "--values", valuesFile(t, `
dashboard: {enabled: true, namespace: monitoring, labels: {dashboards: grafana, grafana_dashboard: null}}
`))
				cm = into(t, object(t, objs, "ConfigMap monitoring/hotreload-dashboard"), &corev1.ConfigMap{})
				require.Equal(t, "grafana", cm.Labels["dashboards"])
				require.NotContains(t, cm.Labels, "grafana_dashboard", "null removes the default label")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, helmTemplate(t, chartDir, "--values", valuesFile(t, tc.values)))
		})
	}
}

// monitoringFile is the file of deploy/monitoring, a YAML map.
func monitoringFile(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "monitoring", name))
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &out))
	return out
}

// quantities are resource quantities as strings.
func quantities(l corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for name, q := range l {
		out[string(name)] = q.String()
	}
	return out
}

// TestAPackagedChartNamesItsReleasesImages packages the chart as make chart
// does, with the release's version and its images' tag as appVersion: the
// images default to that tag, and the labels name both versions.
func TestAPackagedChartNamesItsReleasesImages(t *testing.T) {
	dir := t.TempDir()
	out, ok := run(t, helmBin(t), "package", chartDir, "--version", "0.3.0", "--app-version", "v0.3.0", "--destination", dir)
	require.True(t, ok, "helm package: %s", out)
	objs := helmTemplate(t, filepath.Join(dir, "hotreload-0.3.0.tgz"))
	c := container(t, objs)
	require.Equal(t, "hotreload/webhook:v0.3.0", c.Image)
	require.Equal(t, webhookEnv("hotreload/reloader:v0.3.0", "112MiB"), c.Env)
	labels := object(t, objs, "Deployment hotreload-system/hotreload-webhook").GetLabels()
	require.Equal(t, "hotreload-0.3.0", labels["helm.sh/chart"])
	require.Equal(t, "v0.3.0", labels["app.kubernetes.io/version"])
}

// TestTheChartRefusesWrongValues: the schema refuses a wrong value with the
// path and the reason, before anything renders; the chart refuses to keep its
// release record in the namespace it owns.
func TestTheChartRefusesWrongValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values string
		args   []string
		want   string
	}{
		{
			name:   "replicas as a word",
			values: `replicas: "two"`,
			want:   "- at '/replicas': got string, want integer",
		},
		{
			name:   "no replica",
			values: `replicas: 0`,
			want:   "- at '/replicas': minimum: got 0, want 1",
		},
		{
			name:   "an unknown top-level key (a typo)",
			values: `replica: 3`,
			want:   "- at '': additional properties 'replica' not allowed",
		},
		{
			name:   "an unknown key of an image",
			values: `image: {webhook: {name: x}}`,
			want:   "- at '/image/webhook': additional properties 'name' not allowed",
		},
		{
			name:   "a digest that is not sha256 and 64 hexadecimal digits",
			values: `image: {reloader: {digest: "sha256:abc"}}`,
			want:   "- at '/image/reloader/digest': 'sha256:abc' does not match pattern '^(sha256:[0-9a-f]{64})?$'",
		},
		{
			name:   "a tag with a digest in it",
			values: `image: {webhook: {tag: "v1@sha256:abc"}}`,
			want:   "- at '/image/webhook/tag': 'v1@sha256:abc' does not match pattern",
		},
		{
			name:   "a dashboard namespace that is no namespace's name",
			values: `dashboard: {namespace: Monitoring}`,
			want:   "- at '/dashboard/namespace': 'Monitoring' does not match pattern",
		},
		{
			name:   "a selector operator Kubernetes does not have",
			values: `webhook: {namespaceSelector: {matchExpressions: [{key: team, operator: Equals}]}}`,
			want:   "- at '/webhook/namespaceSelector/matchExpressions/0/operator': value must be one of 'In', 'NotIn', 'Exists', 'DoesNotExist'",
		},
		{
			name:   "a log level the webhook does not know",
			values: `flags: {logLevel: verbose}`,
			want:   "- at '/flags/logLevel': value must be one of '', 'debug', 'info', 'warn', 'error'",
		},
		{
			name: "the release record in hotreload-system, which the chart owns and deletes",
			args: []string{"--namespace", "hotreload-system"},
			want: "install the release in another namespace than hotreload-system (helm install -n default, say): " +
				"the chart creates and owns hotreload-system, and helm uninstall deletes it with everything hotreload made",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--values", valuesFile(t, tc.values)}, tc.args...)
			require.Contains(t, helmTemplateFails(t, chartDir, args...), tc.want)
		})
	}
}
