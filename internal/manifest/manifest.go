// Package manifest reads Kubernetes manifests (YAML or JSON, one or many
// documents), mutates the pods they hold with pkg/mutate, and writes them back
// as YAML. It backs `webhook mutate -f`, the offline preview of the webhook.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/mutate"
	"github.com/hotreload/hotreload/pkg/release"
)

// Result is one document of a manifest after mutation.
type Result struct {
	// Doc is the document's number in the manifest, from 1.
	Doc int
	// Kind and Name identify the object, e.g. "Deployment" and "web".
	Kind, Name string
	// Object is the object to print: mutated when it holds a pod, else as read.
	Object any
	// Warnings are the mutation's warnings.
	Warnings []string
}

// ErrInvalid is wrapped by every error about the manifest's content.
var ErrInvalid = errors.New("invalid manifest")

// Mutate reads every document of r and mutates the Pods and the pod templates of
// Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs. Other
// objects are returned as read. Empty documents are skipped and not counted
// in document numbers. An error names the document it is about.
//
// The annotations of the ConfigMaps and Secrets of the manifest, wherever
// they are in it, are those the webhook would read of them
// (hotreload/ignore), for the pods of their namespace (any, for an object
// without one, or a pod without one); opts.SourceAnnotations, when set, are
// laid over them.
func Mutate(r io.Reader, opts mutate.Options) ([]Result, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs []json.RawMessage
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w: %w", doc, ErrInvalid, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
			doc--
			continue
		}
		docs = append(docs, raw)
	}
	sources := sourcesOf(docs)
	var results []Result
	for i, raw := range docs {
		res, err := mutateDoc(raw, opts, sources)
		if err != nil {
			return nil, fmt.Errorf("document %d%s: %w", i+1, res.describe(), err)
		}
		res.Doc = i + 1
		results = append(results, res)
	}
	return results, nil
}

// docMeta is what every document says of itself.
type docMeta struct {
	metav1.TypeMeta
	Metadata metav1.ObjectMeta `json:"metadata"`
}

// source is a ConfigMap or Secret of the manifest, and its annotations.
type source struct {
	namespace   string
	src         release.Source
	annotations map[string]string
}

// sourcesOf returns the ConfigMaps and Secrets of docs; documents that do
// not read as objects are left to mutateDoc to refuse.
func sourcesOf(docs []json.RawMessage) []source {
	var out []source
	for _, raw := range docs {
		var m docMeta
		if json.Unmarshal(raw, &m) != nil || m.APIVersion != "v1" {
			continue
		}
		if k := v1alpha1.SourceKind(m.Kind); k == v1alpha1.SourceConfigMap || k == v1alpha1.SourceSecret {
			out = append(out, source{m.Metadata.Namespace, release.Source{Kind: k, Name: m.Metadata.Name}, m.Metadata.Annotations})
		}
	}
	return out
}

// withSources returns opts with the annotations of the sources a pod of
// namespace ns mounts, those of opts laid over them.
func withSources(opts mutate.Options, sources []source, ns string) mutate.Options {
	if len(sources) == 0 {
		return opts
	}
	all := map[release.Source]map[string]string{}
	for _, s := range sources {
		if s.namespace == "" || ns == "" || s.namespace == ns {
			all[s.src] = s.annotations
		}
	}
	for s, ann := range opts.SourceAnnotations {
		all[s] = ann
	}
	opts.SourceAnnotations = all
	return opts
}

func (r Result) describe() string {
	switch {
	case r.Kind == "":
		return ""
	case r.Name == "":
		return fmt.Sprintf(" (%s)", r.Kind)
	}
	return fmt.Sprintf(" (%s %q)", r.Kind, r.Name)
}

// mutateDoc decodes one document and mutates the pod it holds.
func mutateDoc(raw []byte, opts mutate.Options, sources []source) (Result, error) {
	var meta docMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	res := Result{Kind: meta.Kind, Name: meta.Metadata.Name}
	if meta.Kind == "" || meta.APIVersion == "" {
		return res, fmt.Errorf("%w: apiVersion and kind are required", ErrInvalid)
	}
	opts = withSources(opts, sources, meta.Metadata.Namespace)
	var err error
	switch meta.APIVersion + "/" + meta.Kind {
	case "v1/Pod":
		res.Object, res.Warnings, err = mutatePod(raw, opts)
	case "apps/v1/Deployment":
		res.Object, res.Warnings, err = mutateTemplate(raw, &appsv1.Deployment{}, func(d *appsv1.Deployment) (*corev1.PodTemplateSpec, string) {
			return &d.Spec.Template, d.Namespace
		}, opts)
	case "apps/v1/StatefulSet":
		res.Object, res.Warnings, err = mutateTemplate(raw, &appsv1.StatefulSet{}, func(s *appsv1.StatefulSet) (*corev1.PodTemplateSpec, string) {
			return &s.Spec.Template, s.Namespace
		}, opts)
	case "apps/v1/DaemonSet":
		res.Object, res.Warnings, err = mutateTemplate(raw, &appsv1.DaemonSet{}, func(d *appsv1.DaemonSet) (*corev1.PodTemplateSpec, string) {
			return &d.Spec.Template, d.Namespace
		}, opts)
	case "apps/v1/ReplicaSet":
		res.Object, res.Warnings, err = mutateTemplate(raw, &appsv1.ReplicaSet{}, func(r *appsv1.ReplicaSet) (*corev1.PodTemplateSpec, string) {
			return &r.Spec.Template, r.Namespace
		}, opts)
	case "batch/v1/Job":
		res.Object, res.Warnings, err = mutateTemplate(raw, &batchv1.Job{}, func(j *batchv1.Job) (*corev1.PodTemplateSpec, string) {
			return &j.Spec.Template, j.Namespace
		}, opts)
	case "batch/v1/CronJob":
		res.Object, res.Warnings, err = mutateTemplate(raw, &batchv1.CronJob{}, func(c *batchv1.CronJob) (*corev1.PodTemplateSpec, string) {
			return &c.Spec.JobTemplate.Spec.Template, c.Namespace
		}, opts)
	default:
		var obj map[string]any
		err = json.Unmarshal(raw, &obj)
		res.Object = obj
	}
	return res, err
}

func mutatePod(raw []byte, opts mutate.Options) (any, []string, error) {
	var pod corev1.Pod
	if err := strictUnmarshal(raw, &pod); err != nil {
		return nil, nil, err
	}
	out, warnings, err := mutate.Mutate(&pod, opts)
	return out, warnings, err
}

// mutateTemplate mutates the pod template of a workload, as the webhook would
// mutate the pods created from it.
func mutateTemplate[T any](raw []byte, obj *T, template func(*T) (*corev1.PodTemplateSpec, string), opts mutate.Options) (any, []string, error) {
	if err := strictUnmarshal(raw, obj); err != nil {
		return nil, nil, err
	}
	tmpl, namespace := template(obj)
	pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
	if pod.Namespace == "" {
		pod.Namespace = namespace
	}
	out, warnings, err := mutate.Mutate(pod, opts)
	if err != nil || out == pod {
		return obj, warnings, err
	}
	out.ObjectMeta.Namespace = tmpl.Namespace
	tmpl.ObjectMeta, tmpl.Spec = out.ObjectMeta, out.Spec
	return obj, warnings, nil
}

func strictUnmarshal(raw []byte, obj any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Write writes the results' objects to w as YAML documents separated by "---".
func Write(w io.Writer, results []Result) error {
	var b strings.Builder
	for i, r := range results {
		out, err := yaml.Marshal(r.Object)
		if err != nil {
			return fmt.Errorf("document %d: %w", r.Doc, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(out)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteWarnings writes each warning on a line of w, prefixed with the
// document's number, kind and name.
func WriteWarnings(w io.Writer, results []Result) error {
	var b strings.Builder
	for _, r := range results {
		for _, warn := range r.Warnings {
			fmt.Fprintf(&b, "document %d (%s %q): %s\n", r.Doc, r.Kind, r.Name, warn)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
