package plugin

import (
	"context"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
)

// Shell completion (cobra's, through `kubectl hotreload completion SHELL` or
// kubectl's kubectl_complete-hotreload): a SOURCE completes to the sources
// of the namespace's releases, status's arguments also to the workloads they
// list, --revision, --against and --to-revision to the source's recent
// revisions, --context, --cluster and --user to the kubeconfig's and -n to
// the cluster's namespaces. What cannot be read completes to nothing:
// completion prints no error.

// completeSource completes the one SOURCE a command takes.
func completeSource(a *app, kube *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, rel := range a.releasesToComplete(cmd.Context(), kube) {
			names = append(names, sourceOf(&rel).String())
		}
		return matching(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeTargets completes what status takes: sources and the workloads
// their releases list.
func completeTargets(a *app, kube *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var names []string
		for _, rel := range a.releasesToComplete(cmd.Context(), kube) {
			names = append(names, sourceOf(&rel).String())
			for _, w := range rel.Status.Workloads {
				if w.Name != "" { // the bare pods of the namespace are no workload to name
					names = append(names, strings.ToLower(w.Kind)+"/"+w.Name)
				}
			}
		}
		return matching(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRevisions completes a revision of the command's SOURCE: those its
// release recorded, described by their role or outcome.
func completeRevisions(a *app, kube *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		s, err := oneSource(cmd.Name(), args)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		sess, err := a.connect(kube)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		rel, err := getRelease(cmd.Context(), sess.client, sess.namespace, s)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var revs []cobra.Completion
		for _, r := range rel.Status.History {
			if strings.HasPrefix(r.Revision, toComplete) && completable(r.Revision) {
				desc := roleOf(rel.Status, r.Revision)
				if desc == "" {
					desc = string(r.Outcome)
				}
				revs = append(revs, cobra.CompletionWithDesc(r.Revision, annotations.Printable(desc)))
			}
		}
		return revs, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// completeConnectionFlags completes the values of root's connection flags.
func completeConnectionFlags(a *app, kube *genericclioptions.ConfigFlags, root *cobra.Command) {
	fromKubeconfig := func(names func(clientcmdapi.Config) iter.Seq[string]) cobra.CompletionFunc {
		return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cfg, err := kube.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return matching(slices.Collect(names(cfg)), nil, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	completeFlag(root, "context", fromKubeconfig(func(c clientcmdapi.Config) iter.Seq[string] { return maps.Keys(c.Contexts) }))
	completeFlag(root, "cluster", fromKubeconfig(func(c clientcmdapi.Config) iter.Seq[string] { return maps.Keys(c.Clusters) }))
	completeFlag(root, "user", fromKubeconfig(func(c clientcmdapi.Config) iter.Seq[string] { return maps.Keys(c.AuthInfos) }))
	completeFlag(root, "namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		sess, err := a.connect(kube)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
		if err := sess.client.List(cmd.Context(), list); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, ns := range list.Items {
			names = append(names, ns.Name)
		}
		return matching(names, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
}

// releasesToComplete reads the releases of the namespace of the command
// line, or none when it cannot.
func (a *app) releasesToComplete(ctx context.Context, kube *genericclioptions.ConfigFlags) []v1alpha1.ConfigRelease {
	sess, err := a.connect(kube)
	if err != nil {
		return nil
	}
	list := &v1alpha1.ConfigReleaseList{}
	if err := sess.client.List(ctx, list, client.InNamespace(sess.namespace)); err != nil {
		return nil
	}
	return list.Items
}

// matching returns the names that start with prefix, sorted, once each,
// but for those the command line holds already and those a shell cannot
// take as they are.
func matching(names, given []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && completable(n) && !slices.Contains(given, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// completable reports whether s can be offered to a shell as it is: no
// space, no control character (a name read from the cluster may hold any).
func completable(s string) bool {
	return s != "" && annotations.Printable(s) == s && !strings.ContainsAny(s, " \t")
}

// completeFlag registers how to complete the values of cmd's flag name.
func completeFlag(cmd *cobra.Command, name string, f cobra.CompletionFunc) {
	if err := cmd.RegisterFlagCompletionFunc(name, f); err != nil {
		panic(err) // a flag cmd does not define: the plugin's own mistake, which every run meets
	}
}
