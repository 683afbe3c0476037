// Package charts holds hotreload's Helm chart (charts/hotreload) and, in its tests,
// the proof that the chart installs what deploy/'s kustomize overlays install: they
// render both and compare them object by object. It has no code the product runs.
package charts
