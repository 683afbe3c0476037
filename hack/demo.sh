#!/usr/bin/env bash
# make demo: the README's first command. On this machine, from source:
#   1. brings up the local single-node cluster (make cluster: builds what is
#      missing, installs Debian's containerd/runc/CNI plugins when absent) and
#      pushes hotreload's images to its registry (make push, make manifests);
#   2. installs hotreload as a user would (kubectl apply -f
#      dist/hotreload-dev-selfsigned.yaml, label a namespace) and waits until
#      the webhook injects pods;
#   3. deploys the demo app, 3 replicas, config mounted by subPath, canary
#      rollout "1,50%,100%" with a 5 s interval (test/e2e/testdata/demo-rollout.yaml);
#   4. edits the ConfigMap and prints, per pod, the time from the edit to the
#      pod serving the new config (polled over the bridge every 100 ms), with
#      the same PID and no restart;
#   5. applies a config the app refuses (it exits on it) and shows the release
#      halting at the first pod, the others never given it, and the first pod
#      rolled back: started again by the kubelet, it serves the good config;
#   6. scales the Deployment from 3 to 6 during the halt: the new pods start on
#      the stable config and the release stays Halted;
#   7. says how to look around and how to stop (make cluster-down).
# Re-runnable: the namespace `demo` is deleted and recreated each time; the
# cluster is reused when it is up. The design of the cluster is in
# docs/design/2026-11-24-local-cluster.md. What it shares with make demo-nginx
# (steps 1 and 2, the helpers, deploying and watching the app) is in
# hack/demo-lib.sh.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=hack/demo-lib.sh
source hack/demo-lib.sh

# For hack/demo-lib.sh: the name (also the make target), the namespace, the app's container.
DEMO=demo
NS=demo
APP_CONTAINER=app
MANIFEST=test/e2e/testdata/demo-rollout.yaml
GOOD_OLD='color=blue'
GOOD_NEW='color=green'
BAD='color=red
broken' # the app runs with --fail-on=broken
POLL_TIMEOUT=90 # seconds for every pod to serve an edit (3 steps of 5 s, plus margin)

# json_field FIELD: a number or string field of the one-line JSON on stdin.
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }
applied() { label "$1" hotreload/applied; }
# one_line TEXT: newlines shown as " | ".
one_line() { printf '%s' "$1" | sed -e ':a;N;$!ba;s/\n/ | /g'; }
# set_config TEXT: kubectl patch of the ConfigMap's config key.
set_config() {
  local json
  json=$(printf '%s\n' "$1" | sed -e 's/\\/\\\\/g; s/"/\\"/g' | sed -e ':a;N;$!ba;s/\n/\\n/g')
  kd patch configmap demo-config --type merge -p "{\"data\":{\"config\":\"$json\\n\"}}" >/dev/null
}
configmap_events() {
  kd get events --field-selector involvedObject.kind=ConfigMap,involvedObject.name=demo-config \
    --sort-by=.metadata.creationTimestamp -o go-template='{{range .items}}{{.reason}}{{"\t"}}{{.message}}{{"\n"}}{{end}}' 2>/dev/null || true
}
print_events() {
  local reason msg
  configmap_events | while IFS=$'\t' read -r reason msg; do printf '    %-17s %s\n' "$reason" "$msg"; done
}
# release FIELD: a field of the ConfigMap's ConfigRelease (a JSONPath inside
# .status, say "phase" or "halt.pod"), empty when absent.
RELEASE=configmap-demo-config
release() { kd get configrelease "$RELEASE" -o jsonpath="{.status.$1}" 2>/dev/null || true; }
# release_pods: the pods the release counts, over its workloads.
release_pods() {
  local n=0 w
  for w in $(release 'workloads[*].pods'); do n=$((n + w)); done
  echo "$n"
}
# wait_release SECONDS PHASE CANDIDATE [PODS]: wait until the release is in
# PHASE at CANDIDATE ("" for any candidate other than the stable one's), with
# PODS pods counted when given.
wait_release() {
  local i
  for ((i = 0; i < $1 * 4; i++)); do
    if [[ $(release phase) == "$2" && (-z $3 || $(release candidate) == "$3") && (-z ${4:-} || $(release_pods) == "${4:-}") ]]; then
      return 0
    fi
    sleep 0.25
  done
  return 1
}

# ============================================================== 1. the cluster
cluster_step 1/7

# ============================================================== 2. install hotreload
# The probe pod, which the webhook injects like the demo's own.
install_step 2/7 "  containers:
  - {name: app, image: hotreload/demoapp:dev, imagePullPolicy: Never, volumeMounts: [{name: config, mountPath: /etc/demoapp}]}
  volumes:
  - {name: config, configMap: {name: demo-config}}"

# ============================================================== 3. the demo app
step "3/7  Deploy the demo app: 3 replicas, config mounted by subPath, rollout 1,50%,100% every 5s"
deploy_app "$MANIFEST" demo "the app"
NPODS=${#PODS[@]}
declare -A IP PID LOADS
for line in "${PODS[@]}"; do
  p=${line% *} ip=${line#* }
  IP[$p]=$ip
  [[ -n $(annotation "$p" hotreload/injected) ]] ||
    fail "pod $p was not injected by hotreload"
  st=$(get "http://$ip:8080/status")
  PID[$p]=$(json_field pid <<<"$st") LOADS[$p]=$(json_field loads <<<"$st")
  printf '    %-24s %-11s serves %-12s pid %-3s restarts %s  revision %s\n' "$p" "$ip" \
    "\"$(one_line "$(get "http://$ip:8080/")")\"" "${PID[$p]}" "$(restarts "$p")" "$(applied "$p")"
done
# Every reloader reports what it started on; from then on the release counts its pod.
wait_release 60 Complete "" "$NPODS" ||
  fail "the release of demo-config does not count the $NPODS pods after 60s: $(kd get configrelease 2>&1)"
REV_OLD=$(release stable)
info "kubectl get configreleases: the release of demo-config, one per ConfigMap or Secret the pods reload"
kd get configreleases 2>&1 | indent

# ============================================================== 4. the edit
step "4/7  Edit the ConfigMap: $GOOD_OLD -> $GOOD_NEW (and watch each pod over the bridge, every 100 ms)"
tmp=$(mktemp -d)
t0=$(now_ms)
set_config "$GOOD_NEW"
poll_pods "$t0" "$POLL_TIMEOUT" "$GOOD_NEW" "$tmp"
REV_NEW=""
for ((i = 0; i < 60; i++)); do
  REV_NEW=$(release candidate)
  [[ -n $REV_NEW && $REV_NEW != "$REV_OLD" ]] && break
  sleep 0.25
done
wait_release 30 Complete "$REV_NEW" || true # every pod reported hotreload/applied, for the interval
# When the controller released the revision to each pod: its StepReleased
# Events (eventTime has microseconds), which name the step and the pods.
declare -A REL_MS REL_STEP
while IFS=$'\t' read -r et msg; do
  [[ $msg == "config revision $REV_NEW "* ]] || continue
  ms=$(date -d "$et" +%s%3N 2>/dev/null) || continue
  k=$(sed -n 's/.*, step \([0-9]* of [0-9]*\):.*/\1/p' <<<"$msg")
  # shellcheck disable=SC2013 # the pods' names, one word each
  for p in $(sed 's/.* pods (//; s/)$//; s/,//g' <<<"$msg"); do REL_MS[$p]=$((ms - t0)) REL_STEP[$p]=$k; done
done < <(kd get events --field-selector involvedObject.kind=ConfigMap,involvedObject.name=demo-config,reason=StepReleased \
  -o go-template='{{range .items}}{{.eventTime}}{{"\t"}}{{.message}}{{"\n"}}{{end}}' 2>/dev/null || true)

printf '    %8s  %s\n' "+0.0s" "kubectl patch configmap demo-config ($GOOD_OLD -> $GOOD_NEW)"
ok=1 worst=0
while read -r ms p; do
  if [[ $ms == timeout ]]; then
    printf '    %s%8s  %-24s does not serve the new config after %ss%s\n' "$R" "-" "$p" "$POLL_TIMEOUT" "$NC"
    ok=0
    continue
  fi
  st=$(get "http://${IP[$p]}:8080/status")
  pid=$(json_field pid <<<"$st")
  same="same pid $pid"
  [[ $pid == "${PID[$p]}" ]] || { same="${R}pid ${PID[$p]} -> $pid${NC}"; ok=0; }
  r=$(restarts "$p")
  [[ $r == 0 ]] || ok=0
  rel="step ?"
  if [[ -n ${REL_MS[$p]:-} ]]; then
    d=$((ms - REL_MS[$p]))
    ((d > worst)) && worst=$d
    rel="step ${REL_STEP[$p]}, released +$(secs "${REL_MS[$p]}")s, serving $(secs "$d")s later"
  fi
  printf '    %8s  %-24s serves %s  (%s)  %s, restarts %s, reloads %s -> %s\n' "+$(secs "$ms")s" "$p" \
    "$GOOD_NEW" "$rel" "$same" "$r" "${LOADS[$p]}" "$(json_field loads <<<"$st")"
done < <(cat "$tmp"/* | sort -n)
rm -rf "$tmp"
((ok)) || fail "the edit did not reach every pod in place (above)"
info "config revision $REV_OLD -> $REV_NEW of demo-config, now the stable revision"
if ((worst > 0)); then info "each pod served the new config within $(secs "$worst")s of its release; the steps are 5s apart (hotreload/rollout-interval)"; fi
info "the controller's Events on the ConfigMap (kubectl describe configmap demo-config):"
print_events
printf '    %s=> every pod serves the new config from the same process; subPath file updated in place, no restart%s\n' "$G" "$NC"

# ============================================================== 5. a broken config
step "5/7  Apply a broken config (the app refuses a config containing \"broken\" and exits)"
printf '    %8s  %s\n' "+0.0s" "kubectl patch configmap demo-config (\"$(one_line "$BAD")\")"
t0=$(now_ms)
set_config "$BAD"
badrev=""
for ((i = 0; i < 120; i++)); do
  badrev=$(release candidate)
  [[ -n $badrev && $badrev != "$REV_NEW" ]] && break
  badrev=""
  sleep 0.25
done
[[ -n $badrev ]] || fail "the controller did not start releasing the broken config within 30s"
wait_release 60 Halted "$badrev" || {
  kd get configreleases 2>&1 | indent
  fail "the release of the broken revision $badrev did not halt within 60s"
}
halted=$(release halt.pod)
printf '    %8s  %s\n' "+$(secs $(($(now_ms) - t0)))s" "Halted at pod $halted: $(release halt.cause)"
# Rolled back: the canary's reloader swapped its live copy back before it said
# the reload failed, and the kubelet starts the app again (its back-off is 10 s
# the first time), on the stable config.
rolled=""
for ((i = 0; i < 240; i++)); do
  if [[ $(release halt.rolledBack) == true && $(get "http://${IP[$halted]}:8080/") == "$GOOD_NEW" ]]; then
    rolled=yes
    break
  fi
  sleep 0.25
done
[[ -n $rolled ]] || fail "pod $halted does not serve $GOOD_NEW 60s after the halt"
printf '    %8s  %s\n' "+$(secs $(($(now_ms) - t0)))s" "RolledBack: $halted serves $GOOD_NEW again, after the kubelet restarted its app"
printf '    %8s  %s\n' "+$(secs $(($(now_ms) - t0)))s" "the pods:"
for p in $(printf '%s\n' "${!IP[@]}" | sort); do
  body=$(get "http://${IP[$p]}:8080/")
  status=$(app_field "$p" '{{if .state.waiting}}{{.state.waiting.reason}}{{else if .state.running}}Running{{else}}Terminated{{end}}')
  colour=$G
  [[ $p == "$halted" ]] && colour=$R
  printf '    %s%-24s %-8s restarts %s  revision %s  serves %s%s\n' "$colour" "$p" "$status" "$(restarts "$p")" "$(applied "$p")" "${body:-nothing}" "$NC"
  [[ $body == "$GOOD_NEW" ]] || fail "pod $p should serve $GOOD_NEW"
done
echo
info "kubectl get configreleases"
kd get configreleases -o wide 2>&1 | indent
echo
info "kubectl describe configmap demo-config"
kd describe configmap demo-config 2>&1 | sed -n '/^Events:/,$p' | indent
printf '    %s=> the broken revision %s stopped at the first pod it hurt, which went back to %s; the other %d were never given it%s\n' \
  "$G" "$badrev" "$REV_NEW" $((NPODS - 1)) "$NC"

# ============================================================== 6. churn during the halt
step "6/7  Scale the Deployment from $NPODS to 6 during the halt: new pods start on the stable config"
kd scale deployment/demo --replicas=6 >/dev/null
kd rollout status deployment/demo --timeout=120s 2>&1 | indent || fail "the Deployment did not scale to 6"
wait_release 60 Halted "$badrev" 6 || fail "the release does not count 6 pods, Halted, 60s after the scale-up: $(kd get configrelease 2>&1)"
mapfile -t ALL < <(kd get pods -l app=demo -o go-template='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}} {{.status.podIP}}{{"\n"}}{{end}}{{end}}' | sort)
for line in "${ALL[@]}"; do
  p=${line% *} ip=${line#* }
  body=$(get "http://$ip:8080/")
  new="new"
  [[ -n ${IP[$p]:-} ]] && new="   "
  printf '    %s%s %-24s revision %s  serves %s%s\n' "$G" "$new" "$p" "$(applied "$p")" "${body:-nothing}" "$NC"
  [[ $body == "$GOOD_NEW" ]] || fail "pod $p should serve $GOOD_NEW"
done
info "kubectl get configreleases"
kd get configreleases 2>&1 | indent
printf '    %s=> the halt holds: the release is in the ConfigRelease, not on the pods; every new pod starts on the stable copy%s\n' "$G" "$NC"
info "kubectl hotreload status configmap/demo-config: the release per workload and pod, and what to do next"
NO_COLOR=1 KUBECONFIG=$ADMIN_KUBECONFIG "$REPO_ROOT/bin/kubectl-hotreload" -n "$NS" status configmap/demo-config 2>&1 | indent ||
  fail "kubectl hotreload status failed"

# ============================================================== 7. what next
step "7/7  Done in $(($(date +%s) - demo_start))s. The cluster keeps running:"
cat <<EOF
    export KUBECONFIG=$ADMIN_KUBECONFIG
    export PATH=$K8S_BIN:\$PATH
    export PATH=$REPO_ROOT/bin:\$PATH                  # kubectl hotreload (or: make install)
    kubectl hotreload -n $NS status configmap/demo-config -w
    kubectl hotreload -n $NS retry configmap/demo-config  # the same revision again, from step 1
    kubectl hotreload -n $NS undo configmap/demo-config   # put the stable config back into the ConfigMap
    kubectl -n $NS get configreleases
    kubectl -n $NS describe configrelease $RELEASE   # the recent revisions and what happened to each
    kubectl -n $NS get pods -L hotreload/applied
    kubectl -n $NS edit configmap demo-config       # fix it: a new release, in the same steps
    kubectl -n $NS logs $halted -c hotreload-reloader
    kubectl -n hotreload-system logs deploy/hotreload-webhook
    curl http://${IP[$halted]}:8080/status                # pods are reachable from this machine
  Cluster logs: $LOGS/
  Stop it:      make cluster-down      Run again: make demo
EOF
