# What the two demos share, hack/demo.sh (make demo) and hack/demo-nginx.sh
# (make demo-nginx): their output, kubectl and pod helpers, the EXIT trap, their
# first two steps, cluster_step (the local cluster) and install_step (hotreload
# installed as a user would), and deploy_app and poll_pods for their app.
# Sourced by both demos, from the repository's root and under
# set -euo pipefail, not run. It sources hack/cluster/lib.sh (K8S_BIN,
# ADMIN_KUBECONFIG, CLUSTER_DIR, LOGS). The demo then sets:
#   DEMO           its name, which is also its make target (demo, demo-nginx);
#   NS             the namespace it deletes and recreates on each run;
#   APP_CONTAINER  the name of its app's container in its pods (restarts).
# shellcheck shell=bash

# shellcheck source=hack/cluster/lib.sh
source hack/cluster/lib.sh
# The install file `make cluster-push` writes (CLUSTER_INSTALL in make/cluster.mk).
INSTALL=$REPO_ROOT/dist/hotreload-dev-selfsigned.yaml

# shellcheck disable=SC2034 # G is for the demos' own lines
if [[ -t 1 ]]; then B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' NC=$'\033[0m'; else B='' G='' R='' NC=''; fi
# shellcheck disable=SC2034 # for the demos' last step: "Done in Ns"
demo_start=$(date +%s)
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$NC"; }
info() { printf '    %s\n' "$*"; }
fail() {
  printf '%s%s: error: %s%s\n' "$R" "$DEMO" "$*" "$NC" >&2
  exit 1
}
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; [[ $rc -eq 0 ]] || printf "\n%s%s: failed (exit %d). The cluster stays up to look at: export KUBECONFIG=%s; stop it with: make cluster-down%s\n" "$R" "$DEMO" "$rc" "$ADMIN_KUBECONFIG" "$NC" >&2' EXIT

k() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
kd() { k -n "$NS" "$@"; }
now_ms() { date +%s%3N; }
# secs MS: milliseconds as seconds with one decimal.
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
indent() { sed 's/^/    /'; }

# get URL: the body (without its last newline, in $(get URL)), or nothing when
# the pod does not answer.
get() { curl -sf --max-time 1 "$1" 2>/dev/null || true; }
# pod_field POD GOTEMPLATE
pod_field() { kd get pod "$1" -o go-template="$2" 2>/dev/null || true; }
# app_field POD GOTEMPLATE: GOTEMPLATE on the status of the container APP_CONTAINER.
app_field() { pod_field "$1" "{{range .status.containerStatuses}}{{if eq .name \"$APP_CONTAINER\"}}$2{{end}}{{end}}"; }
restarts() { app_field "$1" '{{.restartCount}}'; }
# label/annotation POD KEY: its value, empty when absent.
label() { pod_field "$1" "{{with index .metadata.labels \"$2\"}}{{.}}{{end}}"; }
annotation() { pod_field "$1" "{{with index .metadata.annotations \"$2\"}}{{.}}{{end}}"; }

# cluster_step N/M [COMMAND [ARG...]]: step N of the demo's M: bring up the
# local single-node cluster as `make cluster` does, or reuse it when it is up.
# COMMAND, when given, runs once the cluster is up and prints what to add to
# the line "cluster ready in Ns".
cluster_step() {
  local n=$1 t b extra=""
  shift
  step "$n  Local single-node cluster (make cluster: builds what is missing, then starts it)"
  [[ $(id -u) -eq 0 ]] || fail "the local cluster runs containerd and the kubelet, which need root; run 'make $DEMO' as root"
  if ! hack/cluster/deps.sh --check 2>/dev/null; then
    info "installing containerd, runc, CNI plugins, iptables... from Debian (make cluster-deps)"
    make --no-print-directory cluster-deps
  fi
  t=$(date +%s)
  for b in kubelet kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd kubectl; do
    if [[ ! -x $K8S_BIN/$b ]]; then
      info "the Kubernetes components are not built yet: building them from source takes 5-12 min on 2 cores, once"
      break
    fi
  done
  # What `make cluster` does, with the builds niced (2 shared cores) but not the
  # cluster's processes: build what is missing, (re)build the test images
  # (nginx's packages are downloaded once, into bin/cluster/nginx), start or
  # reuse the cluster and its registry (up.sh re-imports the test images when
  # it is already up), then push hotreload's images to that registry and write
  # their install file, as a user does (make cluster-push: make push manifests).
  nice -n 10 make --no-print-directory node-components images-local build "$REPO_ROOT/bin/tools/registry"
  hack/cluster/up.sh || fail "the cluster did not start (see above); then: make cluster-down"
  nice -n 10 make --no-print-directory cluster-push 2>&1 | indent ||
    fail "pushing hotreload's images to the cluster's registry failed (see above)"
  if (($#)); then extra=$("$@"); fi
  info "cluster ready in $(($(date +%s) - t))s$extra"
}

# install_step N/M SPEC: step N of the demo's M: install hotreload as a user
# would (kubectl apply -f of INSTALL, the install file cluster_step wrote, its
# images in the cluster's registry), delete the namespace NS of a previous run, create it labelled
# hotreload/injection=enabled, and wait until the webhook injects pods there.
# SPEC is the spec of the probe pod that proves it, in YAML indented by two
# spaces: a pod like the demo's own, which the webhook injects.
install_step() {
  local n=$1 spec=$2 t i probe injected=""
  step "$n  Install hotreload as a user would: kubectl apply -f ${INSTALL#"$REPO_ROOT"/}"
  [[ -f $INSTALL ]] || fail "no $INSTALL: make cluster-push writes it"
  info "its images, pinned by digest, from the cluster's registry:"
  grep -E '^ *(image|value): .*@sha256:' "$INSTALL" | sed 's/^ */  /' | sort -u | indent
  if k get namespace "$NS" >/dev/null 2>&1; then
    info "deleting the namespace $NS of a previous run"
    k delete namespace "$NS" --wait=true --timeout=120s >/dev/null || fail "namespace $NS is not gone after 120s"
  fi
  t=$(now_ms)
  k apply -f "$INSTALL" 2>&1 | indent
  info "waiting for the webhook Deployment"
  k -n hotreload-system rollout status deployment/hotreload-webhook --timeout=180s 2>&1 | indent ||
    fail "the webhook is not Available; see: kubectl -n hotreload-system logs deploy/hotreload-webhook"
  k create namespace "$NS" >/dev/null
  k label namespace "$NS" hotreload/injection=enabled >/dev/null
  info "kubectl label namespace $NS hotreload/injection=enabled"
  # Available is not enough: kube-proxy programs the webhook's Service about a
  # second later, and a pod created before then is admitted without hotreload
  # (failurePolicy: Ignore). Wait until a server-side dry-run pod comes back injected.
  info "waiting until the webhook injects pods (server-side dry run in $NS)"
  probe="apiVersion: v1
kind: Pod
metadata: {name: probe, labels: {hotreload/enable: \"true\"}}
spec:
$spec"
  for ((i = 0; i < 360; i++)); do
    if kd create --dry-run=server -o yaml -f - <<<"$probe" 2>/dev/null | grep -q 'hotreload/injected:'; then
      injected=yes
      break
    fi
    sleep 0.25
  done
  [[ -n $injected ]] || fail "the webhook does not inject pods 90s after the install; see: kubectl -n hotreload-system logs deploy/hotreload-webhook and $LOGS/kube-apiserver.log"
  # The controller creates the sidecars' ServiceAccount in each enabled namespace.
  for ((i = 0; i < 120; i++)); do
    kd get serviceaccount hotreload-reloader >/dev/null 2>&1 && break
    sleep 0.25
  done
  info "hotreload installed and injecting in $(secs $(($(now_ms) - t)))s"
}

# deploy_app MANIFEST NAME WHAT: apply MANIFEST in NS, wait until its Deployment
# NAME is Available, and list its pods (label app=NAME) in PODS, "name IP" a
# line, by name; WHAT is what runs in each of them beside the sidecar.
deploy_app() {
  local manifest=$1 name=$2 what=$3 t
  t=$(now_ms)
  kd apply -f "$manifest" 2>&1 | indent
  kd rollout status "deployment/$name" --timeout=180s 2>&1 | indent || {
    kd get pods -o wide 2>&1 | indent
    fail "the $name Deployment is not Available"
  }
  mapfile -t PODS < <(kd get pods -l "app=$name" -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}} {{.status.podIP}}{{"\n"}}{{end}}{{end}}' | sort)
  ((${#PODS[@]} > 0)) || fail "no $name pods"
  info "${#PODS[@]} pods Ready in $(secs $(($(now_ms) - t)))s; each runs $what and a hotreload-reloader sidecar:"
}

# poll_pods T0 SECONDS WANT DIR: watch every pod of IP (POD -> its IP) at once,
# over the bridge every 100 ms, until it serves WANT at /, for SECONDS from T0
# (now_ms); write to DIR/POD "MS POD", MS from T0 to WANT served, or
# "timeout POD". Returns when every pod is done.
poll_pods() {
  local t0=$1 timeout=$2 want=$3 dir=$4 p
  for p in "${!IP[@]}"; do
    (
      while ((($(now_ms) - t0) < timeout * 1000)); do
        if [[ $(get "http://${IP[$p]}:8080/") == "$want" ]]; then
          echo "$(($(now_ms) - t0)) $p" >"$dir/$p"
          exit 0
        fi
        sleep 0.1
      done
      echo "timeout $p" >"$dir/$p"
    ) &
  done
  wait
}
