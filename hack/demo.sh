#!/usr/bin/env bash
# make demo: the README's first command. On this machine, from source:
#   1. brings up the local single-node cluster (make cluster: builds what is
#      missing, installs Debian's containerd/runc/CNI plugins when absent);
#   2. installs hotreload as a user would (kubectl apply -k deploy/selfsigned,
#      label a namespace) and waits until the webhook injects pods;
#   3. deploys the demo app, 3 replicas, config mounted by subPath, canary
#      rollout "1,50%,100%" with a 5 s interval (test/e2e/testdata/demo-rollout.yaml);
#   4. edits the ConfigMap and prints, per pod, the time from the edit to the
#      pod serving the new config (polled over the bridge every 100 ms), with
#      the same PID and no restart;
#   5. applies a config the app refuses and shows the rollout halting at the
#      first pod, the others still on the good config, and the ConfigMap's Events;
#   6. says how to look around and how to stop (make cluster-down).
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
# wait_event REASON SECONDS [TEXT]: wait for an Event with REASON on the
# ConfigMap whose message contains TEXT (say, "revision 1234abcd ").
wait_event() {
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    configmap_events | grep -F -- "${3:-}" | grep -q "^$1"$'\t' && return 0
    sleep 0.25
  done
  return 1
}

# ============================================================== 1. the cluster
cluster_step 1/6

# ============================================================== 2. install hotreload
# The probe pod, which the webhook injects like the demo's own.
install_step 2/6 "  containers:
  - {name: app, image: hotreload/demoapp:dev, imagePullPolicy: Never, volumeMounts: [{name: config, mountPath: /etc/demoapp}]}
  volumes:
  - {name: config, configMap: {name: demo-config}}"

# ============================================================== 3. the demo app
step "3/6  Deploy the demo app: 3 replicas, config mounted by subPath, rollout 1,50%,100% every 5s"
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

# ============================================================== 4. the edit
step "4/6  Edit the ConfigMap: $GOOD_OLD -> $GOOD_NEW (and watch each pod over the bridge, every 100 ms)"
REV_OLD=$(applied "${PODS[0]% *}")
tmp=$(mktemp -d)
t0=$(now_ms)
set_config "$GOOD_NEW"
poll_pods "$t0" "$POLL_TIMEOUT" "$GOOD_NEW" "$tmp"
# When the controller released the revision to each pod: its StepReleased
# Events (eventTime has microseconds), which name the step and the pods.
wait_event RolloutStarted 15 "" || true
REV_NEW=$(configmap_events | sed -n "s/^RolloutStarted\trollout of config revision \([0-9a-f]*\) .*/\1/p" | grep -vx "$REV_OLD" | tail -1 || true)
wait_event RolloutCompleted 15 "revision $REV_NEW " || true # every pod reported hotreload/applied
declare -A REL_MS REL_STEP
while IFS=$'\t' read -r et msg; do
  [[ $msg == *"revision $REV_NEW "* ]] || continue
  ms=$(date -d "$et" +%s%3N 2>/dev/null) || continue
  k=$(sed -n 's/^step \([0-9]* of [0-9]*\):.*/\1/p' <<<"$msg")
  # shellcheck disable=SC2013 # the pods' names, one word each
  for p in $(sed 's/.*): //; s/,//g' <<<"$msg"); do REL_MS[$p]=$((ms - t0)) REL_STEP[$p]=$k; done
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
info "config revision $REV_OLD -> $REV_NEW (label hotreload/applied on each pod)"
if ((worst > 0)); then info "each pod served the new config within $(secs "$worst")s of its release; the steps are 5s apart (hotreload/rollout-interval)"; fi
info "the controller's Events on the ConfigMap (kubectl describe configmap demo-config):"
print_events
printf '    %s=> every pod serves the new config from the same process; subPath file updated in place, no restart%s\n' "$G" "$NC"

# ============================================================== 5. a broken config
step "5/6  Apply a broken config (the app refuses a config containing \"broken\" and exits)"
printf '    %8s  %s\n' "+0.0s" "kubectl patch configmap demo-config (\"$(one_line "$BAD")\")"
t0=$(now_ms)
set_config "$BAD"
# The broken config's revision is the one the controller starts rolling out now.
badrev=""
for ((i = 0; i < 120; i++)); do
  badrev=$(configmap_events | sed -n "s/^RolloutStarted\trollout of config revision \([0-9a-f]*\) .*/\1/p" | grep -vx -e "$REV_OLD" -e "$REV_NEW" | tail -1 || true)
  [[ -n $badrev ]] && break
  sleep 0.25
done
[[ -n $badrev ]] || fail "the controller did not start rolling out the broken config within 30s"
wait_event RolloutHalted 60 "revision $badrev " || {
  kd get pods -L hotreload/applied 2>&1 | indent
  fail "no RolloutHalted Event 60s after the broken config"
}
printf '    %8s  %s\n' "+$(secs $(($(now_ms) - t0)))s" "RolloutHalted: $(configmap_events | grep -F "revision $badrev " | sed -n 's/^RolloutHalted\t//p' | tail -1)"
# Let the interval pass: the controller must not release anything more.
sleep 6
printf '    %8s  %s\n' "+$(secs $(($(now_ms) - t0)))s" "the pods:"
halted=""
for p in $(printf '%s\n' "${!IP[@]}" | sort); do
  failed=$(annotation "$p" hotreload/failed)
  released=$(annotation "$p" hotreload/released)
  body=$(get "http://${IP[$p]}:8080/")
  status=$(app_field "$p" '{{if .state.waiting}}{{.state.waiting.reason}}{{else if .state.running}}Running{{else}}Terminated{{end}}')
  if [[ $failed == "$badrev:"* ]]; then
    halted=$p
    printf '    %s%-24s %-16s restarts %s  released %s  serves %s%s\n' "$R" "$p" "$status" "$(restarts "$p")" "$released" "${body:-nothing (it refused the config)}" "$NC"
    printf '    %-24s hotreload/failed: %s\n' "" "$failed"
  else
    printf '    %s%-24s %-16s restarts %s  released %s  serves %s%s\n' "$G" "$p" "$status" "$(restarts "$p")" "$released" "${body:-nothing}" "$NC"
    [[ $body == "$GOOD_NEW" ]] || fail "pod $p should still serve $GOOD_NEW"
  fi
done
[[ -n $halted ]] || fail "no pod carries hotreload/failed for the broken revision $badrev"
for p in "${!IP[@]}"; do
  [[ $p == "$halted" || $(annotation "$p" hotreload/released) != "$badrev" ]] ||
    fail "pod $p was released the broken revision $badrev although the rollout halted"
done
echo
info "kubectl get pods -L hotreload/applied"
kd get pods -L hotreload/applied 2>&1 | indent
echo
info "kubectl describe configmap demo-config"
kd describe configmap demo-config 2>&1 | indent
printf '    %s=> the broken revision %s stopped at the first pod it hurt; the other %d were never released it and keep serving %s%s\n' \
  "$G" "$badrev" $((NPODS - 1)) "$GOOD_NEW" "$NC"

# ============================================================== 6. what next
step "6/6  Done in $(($(date +%s) - demo_start))s. The cluster keeps running:"
cat <<EOF
    export KUBECONFIG=$ADMIN_KUBECONFIG
    export PATH=$K8S_BIN:\$PATH
    kubectl -n $NS get pods -L hotreload/applied
    kubectl -n $NS describe configmap demo-config
    kubectl -n $NS edit configmap demo-config      # fix it: a new config rolls out in the same steps
    kubectl -n $NS logs $halted -c hotreload-reloader
    kubectl -n hotreload-system logs deploy/hotreload-webhook
    curl http://${IP[$halted]}:8080/status                # pods are reachable from this machine
  Cluster logs: $LOGS/
  Stop it:      make cluster-down      Run again: make demo
EOF
