package rollout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/hotreload/hotreload/api/v1alpha1"
	"github.com/hotreload/hotreload/pkg/annotations"
	"github.com/hotreload/hotreload/pkg/release"
	"github.com/hotreload/hotreload/pkg/revision"
)

// consumer is one pod that reloads a source, as the reconcile sees it.
type consumer struct {
	// cached is the pod as the cache has it; pod with the controller's own
	// writes the cache may not show yet.
	cached   *corev1.Pod
	pod      *corev1.Pod
	info     reloaderInfo
	sources  []SourceRef
	workload Workload
	state    Pod
	// holds are the candidates its hotreload/candidates names, by source key.
	holds map[string]string
	// files is true when its reloader reloads the reconcile's source;
	// restart is what it reads of it in ways that cannot change in place,
	// or nil.
	files   bool
	restart *release.Restart
}

// progressing reports whether a release is giving its candidate to pods.
func progressing(rel *v1alpha1.ConfigRelease) bool {
	return rel != nil && release.InProgress(rel.Status)
}

// choose returns the revision of each of the pod's sources it should run:
// the candidate when the source is progressing and the pod holds it (give
// says whether it does for this reconcile's source), else the stable
// revision; "" for a source without a release, taken as it is now. A
// version 1 pod can only run what is mounted: every source as it is now.
func (c *contents) choose(pod consumer, self SourceRef, give bool) map[SourceRef]string {
	at := map[SourceRef]string{}
	for _, s := range pod.sources {
		rel := c.release(s)
		switch {
		case pod.info.Version < 2 || rel == nil:
			at[s] = ""
		case !progressing(rel):
			at[s] = rel.Status.Stable
		case s == self && give, s != self && pod.holds[s.Key()] == rel.Status.Candidate:
			at[s] = rel.Status.Candidate
		default:
			at[s] = rel.Status.Stable
		}
	}
	return at
}

// project returns the pod revision of the pod's volumes with each source at
// its chosen revision.
func (c *contents) project(pod consumer, at map[SourceRef]string) (string, error) {
	lookup := func(kind revision.Kind, name string) (revision.Keys, bool) {
		s := SourceRef{Namespace: pod.pod.Namespace, Kind: kind, Name: name}
		rev, ok := at[s]
		switch {
		case !ok:
			return nil, false
		case rev == "":
			return c.keys(kind, name)
		}
		return c.keysAt(s, rev)
	}
	rev, err := revision.ForPod(pod.pod, pod.info.Volumes, lookup)
	if err != nil {
		return "", fmt.Errorf("pod %s: %w", pod.pod.Name, err)
	}
	if err := c.failed(); err != nil {
		return "", err
	}
	return rev, nil
}

// target is what a pod should be released (choose), and the candidates that
// makes it hold.
func (c *contents) target(pod consumer, self SourceRef, give bool) (string, map[string]string, error) {
	at := c.choose(pod, self, give)
	candidates := map[string]string{}
	for s, rev := range at {
		rel := c.release(s)
		switch {
		case rel == nil || rel.Status.Candidate == rel.Status.Stable:
		case rev == rel.Status.Candidate, rev == "":
			candidates[s.Key()] = rel.Status.Candidate
		}
	}
	rev, err := c.project(pod, at)
	return rev, candidates, err
}

// legacyMayTake reports whether a version 1 pod may be released what is
// mounted (every source as it is): when each of its sources is complete, or
// is being released and the pod is given or holds its candidate. Never a
// halted candidate.
func (c *contents) legacyMayTake(p consumer, self SourceRef, give bool) bool {
	for _, s := range p.sources {
		rel := c.release(s)
		switch {
		case rel == nil || rel.Status.Candidate == rel.Status.Stable:
		case !progressing(rel):
			return false
		case s == self && !give, s != self && p.holds[s.Key()] != rel.Status.Candidate:
			return false
		}
	}
	return true
}

// needsWrite reports whether the pod must be released target with
// candidates: not when it has it (an entry of hotreload/candidates for a
// source no longer progressing means nothing, and is left until the pod's
// next write), nor when it runs it already without a release (a new pod on
// stable).
func (c *contents) needsWrite(p consumer, target string, candidates map[string]string) bool {
	released := p.state.Released
	if released == "" && len(candidates) == 0 && p.state.Applied == target {
		return false
	}
	return released != target || !maps.Equal(c.relevant(p), candidates)
}

// relevant returns the entries of the pod's hotreload/candidates that name
// the candidate of a progressing release of one of its sources.
func (c *contents) relevant(p consumer) map[string]string {
	out := map[string]string{}
	for _, s := range p.sources {
		if rel := c.release(s); p.holds[s.Key()] != "" && (p.info.Version < 2 || progressing(rel)) && rel != nil && p.holds[s.Key()] == rel.Status.Candidate {
			out[s.Key()] = p.holds[s.Key()]
		}
	}
	return out
}

// holds reports whether the pod holds the candidate of source s: its
// hotreload/candidates says so and its release is the one that gives it (an
// entry left from a revision that completed, then came back as the candidate
// later, does not count), or the candidate changes nothing the pod projects
// (a key it does not mount).
func (c *contents) holds(p consumer, s SourceRef, cand string) bool {
	if p.holds[s.Key()] == cand {
		if p.info.Version < 2 {
			return true
		}
		with, _, err := c.target(p, s, true)
		return err == nil && with == p.state.Released
	}
	rel := c.release(s)
	if rel == nil {
		return false
	}
	at := c.choose(p, s, true)
	at[s] = rel.Status.Candidate
	with, err := c.project(p, at)
	if err != nil {
		return false
	}
	at[s] = rel.Status.Stable
	without, err := c.project(p, at)
	return err == nil && with == without
}

// writeTargets brings each consumer's release in line, Patchers at a time:
// under the pod's lock it reads the pod again (with the writes the cache may
// not show yet), computes its target (give says which pods get this
// reconcile's candidate) and writes it when it differs. It returns the names
// of the pods written and the first error.
func (r *Reconciler) writeTargets(ctx context.Context, c *contents, self SourceRef, pods []consumer, give func(consumer) bool) ([]string, error) {
	var (
		g    errgroup.Group
		mu   sync.Mutex
		done []string
	)
	g.SetLimit(max(r.Patchers, 1))
	for _, p := range pods {
		if !p.files {
			continue // it reads the source only in ways that cannot change in place
		}
		g.Go(func() error {
			unlock := r.writes.lock(p.pod.UID)
			defer unlock()
			p.pod = r.writes.overlay(p.cached, r.Now())
			p.holds = annotations.CandidatesOf(p.pod.Annotations)
			p.state.Released = annotations.ReleasedOf(p.pod.Annotations)
			if p.info.Version < 2 && !c.legacyMayTake(p, self, give(p)) {
				return nil // it can only be given what is mounted, and only when its turn comes
			}
			target, candidates, err := c.target(p, self, give(p))
			if err != nil {
				return err
			}
			if _, ok := candidates[self.Key()]; ok {
				// A candidate that changes nothing the pod projects is not
				// written: the pod holds it without a release.
				at := c.choose(p, self, true)
				if rel := c.release(self); rel != nil {
					at[self] = rel.Status.Stable
					if plain, err := c.project(p, at); err == nil && plain == target {
						delete(candidates, self.Key())
					}
				}
			}
			if !c.needsWrite(p, target, candidates) {
				return nil
			}
			// A failure reported for the revision now released is from an
			// earlier attempt (a retry, or a revision that comes back): it
			// must not halt this one before the reloader tries it.
			failed, _, ok := annotations.FailedOf(p.pod.Annotations)
			stale := ok && failed == target && p.state.Released != target
			if err := r.annotate(ctx, p.pod, podWrite{released: target, candidates: candidates, clearFailed: stale}.annotations()); err != nil {
				return err
			}
			mu.Lock()
			done = append(done, p.pod.Name)
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	slices.Sort(done)
	return done, err
}

// podWrite is one pod's new release.
type podWrite struct {
	released   string
	candidates map[string]string
	// clearFailed removes hotreload/failed.
	clearFailed bool
}

func (w podWrite) annotations() map[string]any {
	var cand any = annotations.FormatCandidates(w.candidates)
	if len(w.candidates) == 0 {
		cand = nil
	}
	out := map[string]any{annotations.Released: w.released, annotations.Candidates: cand}
	if w.clearFailed {
		out[annotations.Failed] = nil
	}
	return out
}
