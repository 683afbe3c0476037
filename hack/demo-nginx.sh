#!/usr/bin/env bash
# make demo-nginx: the README's second demo, with a real server. On this machine:
#   1. brings up the local single-node cluster as `make demo` does (make
#      cluster: builds what is missing, hotreload/nginx:dev from Debian's nginx
#      package included, installs Debian's containerd/runc/CNI plugins when
#      absent, hotreload's images pushed to its registry);
#   2. installs hotreload as a user would (kubectl apply -f
#      dist/hotreload-dev-selfsigned.yaml, label a namespace) and waits until
#      the webhook injects pods;
#   3. deploys nginx, 2 replicas, as www-data, nginx.conf mounted by subPath
#      from a ConfigMap (test/e2e/testdata/nginx.yaml);
#   4. edits nginx.conf ("version 1" -> "version 2" at /) and prints, per pod,
#      the time from the edit to nginx serving the new response (polled over
#      the bridge every 100 ms), with the same master PID, a new worker, the
#      master's log of the SIGHUP, the same container and no restart;
#   5. says how to look around and how to stop (make cluster-down).
# Re-runnable: the namespace `demo-nginx` is deleted and recreated each time;
# the cluster is reused when it is up. The design of the cluster is in
# docs/design/2026-11-24-local-cluster.md. What it shares with make demo
# (steps 1 and 2, the helpers, deploying and watching the app) is in
# hack/demo-lib.sh.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=hack/demo-lib.sh
source hack/demo-lib.sh

# For hack/demo-lib.sh: the name (also the make target), the namespace, the app's container.
DEMO=demo-nginx
NS=demo-nginx
APP_CONTAINER=nginx
MANIFEST=test/e2e/testdata/nginx.yaml
OLD='version 1'
NEW='version 2'
POLL_TIMEOUT=30 # seconds for every pod to serve the edit

container_id() { app_field "$1" '{{.containerID}}' | sed 's|.*://||' | cut -c1-12; }
sidecar_user() {
  pod_field "$1" '{{range .spec.initContainers}}{{if eq .name "hotreload-reloader"}}{{with .securityContext}}{{if .runAsUser}}{{.runAsUser}}{{end}}{{end}}{{end}}{{end}}'
}
# sighups POD: the master's log lines about the signals it got.
sighups() { kd logs "$1" -c nginx 2>/dev/null | grep -F 'signal 1 (SIGHUP) received' || true; }
# nginx_in_image: for step 1's line "cluster ready in Ns", the nginx package in
# hotreload/nginx:dev.
nginx_in_image() { printf '; nginx in the image: %s' "$(head -1 "$CLUSTER_DIR/nginx/rootfs.ok" 2>/dev/null)"; }

# ============================================================== 1. the cluster
cluster_step 1/5 nginx_in_image

# ============================================================== 2. install hotreload
# The probe pod, which the webhook injects like the nginx pods.
install_step 2/5 "  securityContext: {runAsUser: 33, runAsGroup: 33, runAsNonRoot: true}
  containers:
  - {name: nginx, image: hotreload/nginx:dev, imagePullPolicy: Never, volumeMounts: [{name: config, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]}
  volumes:
  - {name: config, configMap: {name: nginx-config}}"

# ============================================================== 3. nginx
step "3/5  Deploy nginx: 2 replicas as www-data (33), nginx.conf mounted by subPath from the ConfigMap nginx-config"
deploy_app "$MANIFEST" nginx nginx
declare -A IP MASTER WORKER CID
for line in "${PODS[@]}"; do
  p=${line% *} ip=${line#* }
  IP[$p]=$ip
  [[ -n $(annotation "$p" hotreload/injected) ]] ||
    fail "pod $p was not injected by hotreload"
  MASTER[$p]=$(get "http://$ip:8080/master-pid") WORKER[$p]=$(get "http://$ip:8080/worker-pid") CID[$p]=$(container_id "$p")
  printf '    %-24s %-11s serves %-13s master pid %-3s worker pid %-3s container %s  restarts %s  sidecar as uid %s\n' "$p" "$ip" \
    "\"$(get "http://$ip:8080/")\"" "${MASTER[$p]}" "${WORKER[$p]}" "${CID[$p]}" "$(restarts "$p")" "$(sidecar_user "$p")"
done

# ============================================================== 4. the edit
step "4/5  Edit nginx.conf in the ConfigMap: return 200 \"$OLD\" -> \"$NEW\" (and watch each pod over the bridge, every 100 ms)"
tmp=$(mktemp -d)
kd get configmap nginx-config -o go-template='{{index .data "nginx.conf"}}' >"$tmp/nginx.conf.old"
sed "s/return 200 \"$OLD\\\\n\";/return 200 \"$NEW\\\\n\";/" "$tmp/nginx.conf.old" >"$tmp/nginx.conf"
cmp -s "$tmp/nginx.conf.old" "$tmp/nginx.conf" && fail "no line 'return 200 \"$OLD\\n\";' in the ConfigMap's nginx.conf"
{ diff -U0 "$tmp/nginx.conf.old" "$tmp/nginx.conf" || true; } | grep '^[-+] ' | indent
mkdir "$tmp/served"
t0=$(now_ms)
kd create configmap nginx-config --from-file=nginx.conf="$tmp/nginx.conf" --dry-run=client -o yaml | kd apply -f - >/dev/null
poll_pods "$t0" "$POLL_TIMEOUT" "$NEW" "$tmp/served"

printf '    %8s  %s\n' "+0.0s" "kubectl apply of the ConfigMap nginx-config with the edited nginx.conf"
ok=1 worst=0
while read -r ms p; do
  if [[ $ms == timeout ]]; then
    printf '    %s%8s  %-24s does not serve "%s" after %ss%s\n' "$R" "-" "$p" "$NEW" "$POLL_TIMEOUT" "$NC"
    ok=0
    continue
  fi
  ((ms > worst)) && worst=$ms
  master=$(get "http://${IP[$p]}:8080/master-pid") worker=$(get "http://${IP[$p]}:8080/worker-pid")
  # For a moment after a reload the old worker still accepts connections beside
  # the new one, until the master tells it to finish.
  for ((i = 0; i < 50; i++)); do
    [[ $worker == "${WORKER[$p]}" ]] || break
    sleep 0.1
    worker=$(get "http://${IP[$p]}:8080/worker-pid")
  done
  [[ $worker != "${WORKER[$p]}" ]] || ok=0
  same="same master pid $master"
  [[ $master == "${MASTER[$p]}" ]] || { same="${R}master pid ${MASTER[$p]} -> $master${NC}"; ok=0; }
  cid=$(container_id "$p")
  incont="same container $cid"
  [[ $cid == "${CID[$p]}" ]] || { incont="${R}container ${CID[$p]} -> $cid${NC}"; ok=0; }
  r=$(restarts "$p")
  [[ $r == 0 ]] || ok=0
  printf '    %8s  %-24s serves "%s"  %s, new worker %s -> %s, %s, restarts %s\n' "+$(secs "$ms")s" "$p" \
    "$NEW" "$same" "${WORKER[$p]}" "$worker" "$incont" "$r"
  sighups "$p" | sed 's/^/                  nginx: /'
done < <(cat "$tmp"/served/* | sort -n)
rm -rf "$tmp"
((ok)) || fail "the edit did not reach every pod in place (above)"
printf '    %s=> every nginx serves the new config within %ss of the edit: its master re-read the subPath-mounted nginx.conf on SIGHUP, started a new worker, and kept running; no restart%s\n' \
  "$G" "$(secs "$worst")" "$NC"

# ============================================================== 5. what next
p0=${PODS[0]% *}
step "5/5  Done in $(($(date +%s) - demo_start))s. The cluster keeps running:"
cat <<EOF
    export KUBECONFIG=$ADMIN_KUBECONFIG
    export PATH=$K8S_BIN:\$PATH
    kubectl -n $NS get pods -L hotreload/applied
    kubectl -n $NS edit configmap nginx-config    # another edit, served within a second
    kubectl -n $NS logs $p0 -c nginx
    kubectl -n $NS logs $p0 -c hotreload-reloader
    curl http://${IP[$p0]}:8080/ http://${IP[$p0]}:8080/master-pid    # pods are reachable from this machine
  Cluster logs: $LOGS/
  Stop it:      make cluster-down      Run again: make demo-nginx
EOF
