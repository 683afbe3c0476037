package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

func statusCommand(a *app, kube *genericclioptions.ConfigFlags) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:     "status [SOURCE | KIND/NAME ...] [-w] [-A] [-o json|yaml]",
		GroupID: groupShow,
		Short:   "list releases, or show one per workload and pod (-w: watch it)",
		Long: `Without arguments, lists the releases of the namespace (of every namespace with -A): each
source's phase, stable and candidate revisions, and progress.

With a SOURCE, shows its release at a glance: the phase and what halted it, the stable and
candidate revisions, the last command, and per consuming workload its step, the warnings
its pods were admitted with (a malformed value replaced by its default, ...) and its pods
(what each runs of the source, its failure, readiness and restarts), then what to do next.
A workload (deployment/NAME, statefulset/NAME, daemonset/NAME, or any kind that owns pods,
as rollout/NAME or cloneset/NAME) shows every release it consumes.

-w redraws on every change of the releases or their pods, until interrupted.

` + sourceHelp,
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeTargets(a, kube),
		RunE:                  a.runE(runStatus, o, kube),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.watch, "watch", "w", false, "redraw on every change, until interrupted")
	fs.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the releases of every namespace")
	fs.StringVarP(&o.output, "output", "o", "", "print the ConfigRelease objects instead: json or yaml")
	fs.BoolVar(&o.noColor, "no-color", false, "never colour the output (NO_COLOR set does the same)")
	completeFlag(cmd, "output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// statusQuery is what status was asked to show.
type statusQuery struct {
	namespace string
	all       bool // every namespace's releases, listed
	sources   []source
	workloads []workloadRef
}

func (q statusQuery) listing() bool { return len(q.sources) == 0 && len(q.workloads) == 0 }

// statusSnapshot is what status read: the releases, and, unless it lists
// them, the namespace's opted-in pods and its ReplicaSets.
type statusSnapshot struct {
	releases    []v1alpha1.ConfigRelease
	pods        []corev1.Pod
	replicaSets []metav1.PartialObjectMetadata
}

func runStatus(ctx context.Context, a *app, inv *invocation) error {
	o := inv.opts
	var q statusQuery
	for _, arg := range inv.args {
		s, w, err := parseTarget(arg)
		if err != nil {
			return err
		}
		if w != nil {
			q.workloads = append(q.workloads, *w)
		} else {
			q.sources = append(q.sources, s)
		}
	}
	switch {
	case o.output != "" && o.output != "json" && o.output != "yaml":
		return usageErrorf("-o %s: print json or yaml", o.output)
	case o.watch && o.output != "":
		return usageErrorf("-w redraws the status; it does not take -o")
	case o.allNamespaces && !q.listing():
		return usageErrorf("-A lists the releases of every namespace; it takes no SOURCE or workload")
	}
	sess, err := a.connect(inv.kube)
	if err != nil {
		return err
	}
	q.namespace, q.all = sess.namespace, o.allNamespaces
	if o.output != "" {
		snap, err := readStatus(ctx, sess.client, q)
		if err != nil {
			return err
		}
		return printReleases(a.Out, o.output, snap.releases, q.listing())
	}
	render := func(ctx context.Context) (string, error) {
		snap, err := readStatus(ctx, sess.client, q)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		snap.render(&b, q, a.now(), a.useColour(o))
		return b.String(), nil
	}
	if !o.watch {
		text, err := render(ctx)
		if err != nil {
			return err
		}
		fmt.Fprint(a.Out, text)
		return nil
	}
	changed := make(chan struct{}, 1)
	watchChanges(ctx, sess.client, q, changed)
	return watchLoop(ctx, a.Out, a.stdoutTerminal, changed, render)
}

// readStatus reads what q asks for.
func readStatus(ctx context.Context, c client.Reader, q statusQuery) (statusSnapshot, error) {
	var snap statusSnapshot
	if q.listing() {
		list := &v1alpha1.ConfigReleaseList{}
		opts := []client.ListOption{}
		if !q.all {
			opts = append(opts, client.InNamespace(q.namespace))
		}
		if err := c.List(ctx, list, opts...); err != nil {
			return snap, apiError(err, "listing the releases")
		}
		snap.releases = list.Items
		return snap, nil
	}
	for _, s := range q.sources {
		rel, err := getRelease(ctx, c, q.namespace, s)
		if err != nil {
			return snap, err
		}
		snap.add(*rel)
	}
	if len(q.workloads) > 0 {
		list := &v1alpha1.ConfigReleaseList{}
		if err := c.List(ctx, list, client.InNamespace(q.namespace)); err != nil {
			return snap, apiError(err, "listing the releases")
		}
		for _, w := range q.workloads {
			found := false
			for _, rel := range list.Items {
				if consumes(rel, w) {
					snap.add(rel)
					found = true
				}
			}
			if !found {
				return snap, fmt.Errorf("no release lists %s in namespace %s: its pods reload no source yet (are they labelled %s=%s?), or the controller has not seen them",
					w, q.namespace, annotations.EnableLabel, annotations.EnableValue)
			}
		}
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(q.namespace), client.MatchingLabels{annotations.EnableLabel: annotations.EnableValue}); err != nil {
		return snap, fmt.Errorf("listing the pods of namespace %s: %w", q.namespace, err)
	}
	rss := &metav1.PartialObjectMetadataList{}
	rss.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSetList"))
	// Without the ReplicaSets, a Deployment's pods show under their ReplicaSet.
	if err := c.List(ctx, rss, client.InNamespace(q.namespace)); err != nil && !apierrors.IsForbidden(err) {
		return snap, fmt.Errorf("listing the ReplicaSets of namespace %s: %w", q.namespace, err)
	}
	snap.pods, snap.replicaSets = pods.Items, rss.Items
	return snap, nil
}

// add appends a release once.
func (s *statusSnapshot) add(rel v1alpha1.ConfigRelease) {
	if !slices.ContainsFunc(s.releases, func(r v1alpha1.ConfigRelease) bool { return r.UID == rel.UID && r.Name == rel.Name }) {
		s.releases = append(s.releases, rel)
	}
}

// consumes reports whether a release lists workload w.
func consumes(rel v1alpha1.ConfigRelease, w workloadRef) bool {
	return slices.ContainsFunc(rel.Status.Workloads, func(ws v1alpha1.WorkloadStatus) bool { return sameKind(ws.Kind, w.Kind) && ws.Name == w.Name })
}

// render prints the snapshot as status shows it.
func (s statusSnapshot) render(w io.Writer, q statusQuery, now time.Time, colour bool) {
	if q.listing() {
		if len(s.releases) == 0 {
			where := "in namespace " + q.namespace
			if q.all {
				where = "in any namespace"
			}
			printf(w, "No releases %s: no injected pod reloads a ConfigMap or Secret yet.\n", where)
			return
		}
		renderList(w, s.releases, q.all, now, colour)
		return
	}
	for i := range s.releases {
		if i > 0 {
			fmt.Fprintln(w)
		}
		renderStatus(w, statusView{Release: &s.releases[i], Pods: s.pods, ReplicaSets: s.replicaSets}, now, colour)
	}
}

// printReleases prints releases as JSON or YAML: one object, or a list when
// listing or when there are several.
func printReleases(w io.Writer, format string, rels []v1alpha1.ConfigRelease, listing bool) error {
	gvk := v1alpha1.GroupVersion.WithKind("ConfigRelease")
	items := make([]v1alpha1.ConfigRelease, len(rels))
	for i := range rels {
		items[i] = *rels[i].DeepCopy()
		items[i].SetGroupVersionKind(gvk)
		items[i].ManagedFields = nil
	}
	var obj any = &v1alpha1.ConfigReleaseList{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ConfigReleaseList"}, Items: items}
	if len(items) == 1 && !listing {
		obj = &items[0]
	}
	var out []byte
	var err error
	if format == "json" {
		out, err = json.MarshalIndent(obj, "", "    ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(obj)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}
