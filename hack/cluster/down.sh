#!/usr/bin/env bash
# Stops the local cluster started by hack/cluster/up.sh and undoes what it did to
# this machine: every recorded process (TERM, then KILL), the containers and the
# containerd shims it started, the mounts under bin/cluster, the bridge, the
# iptables rules of kube-proxy and the CNI plugins, and the sysctls it changed.
# The registry stops last, with its blobs. Keeps bin/cluster/pki and
# bin/cluster/images (reused by the next `make cluster`); deletes the rest of
# the state so the next start is fresh.
# Safe to run when nothing is up.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) -eq 0 ]] || die "stopping the cluster needs root (it unmounts and removes network devices)"
[[ -d $CLUSTER_DIR ]] || { log "nothing to stop: $CLUSTER_DIR does not exist"; exit 0; }

# The kubelet first, so it does not restart containers while they are removed.
stop kubelet

# Containers: kill every task in the CRI's namespace while containerd still runs,
# then delete them, so the shims exit by themselves.
if pid_alive containerd; then
  ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }
  tasks=$(ctr_ tasks ls -q 2>/dev/null || true)
  if [[ -n $tasks ]]; then
    log "killing $(wc -w <<<"$tasks") containers"
    for t in $tasks; do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $tasks; do ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true; done
  fi
fi

for ((n = ${#COMPONENTS[@]} - 1; n >= 0; n--)); do
  [[ ${COMPONENTS[n]} == kubelet ]] || stop "${COMPONENTS[n]}"
done

# Shims of our containerd (their command line names our socket) that outlived it,
# and any container process still under them.
shims=$(pgrep -f "containerd-shim.*-address $CONTAINERD_SOCK" || true)
if [[ -n $shims ]]; then
  log "killing leftover containerd shims: $(tr '\n' ' ' <<<"$shims")"
  for s in $shims; do
    for c in $(pgrep -P "$s" || true); do kill -KILL "$c" 2>/dev/null || true; done
    kill -KILL "$s" 2>/dev/null || true
  done
  sleep 0.5
fi

# Mounts under bin/cluster (overlay rootfs, tmpfs volumes, shm, network
# namespaces), deepest first. A second pass catches mounts stacked on others.
for pass in 1 2 3; do
  mapfile -t mounts < <(awk -v d="$CLUSTER_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)
  [[ ${#mounts[@]} -eq 0 ]] && break
  [[ $pass == 1 ]] && log "unmounting ${#mounts[@]} mounts under $CLUSTER_DIR"
  for m in "${mounts[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
done
left=$(awk -v d="$CLUSTER_DIR/" 'index($5, d) == 1' /proc/self/mountinfo | wc -l)
[[ $left -eq 0 ]] || log "warning: $left mounts remain under $CLUSTER_DIR (see /proc/self/mountinfo)"

# The kubelet's cgroups (cgroupfs driver: /kubepods in each v1 hierarchy),
# deepest first; only empty ones can go, which all are once the pods are dead.
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d $root ]] || continue
  find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null || true
done
left_cg=$(find /sys/fs/cgroup -maxdepth 2 -name kubepods -type d 2>/dev/null | wc -l)
[[ $left_cg -eq 0 ]] || log "warning: $left_cg kubepods cgroups remain (a process still runs in one?)"

# Network: pods' veths went with their namespaces; remove the bridge, the rules
# kube-proxy made (its own --cleanup) and the CNI plugins' chains.
if [[ -x $K8S_BIN/kube-proxy ]] && iptables -t nat -S 2>/dev/null | grep -q KUBE-; then
  log "removing kube-proxy's iptables rules"
  "$K8S_BIN/kube-proxy" --cleanup --v=0 >>"$LOGS/kube-proxy-cleanup.log" 2>&1 || true
fi
# What is left: the kubelet's KUBE-FIREWALL and canary chains, and the CNI
# plugins' chains (portmap, bridge). Rules that jump to KUBE-* or CNI-* chains
# first, then the chains. (This machine runs no other Kubernetes node; on one
# that did, this would remove its rules too.)
remove_chains() {
  local ipt=$1 table rule chain
  for table in nat filter mangle; do
    "$ipt" -t "$table" -S >/dev/null 2>&1 || continue
    { "$ipt" -t "$table" -S 2>/dev/null | grep -E -- '-j (KUBE|CNI)-' || true; } | sed 's/^-A /-D /' |
      while read -r rule; do
        eval "$ipt -t $table $rule" 2>/dev/null || true
      done
    for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
      "$ipt" -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ { print $2 }'); do
      "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}
if iptables-save 2>/dev/null | grep -qE '(KUBE|CNI)-' || ip6tables-save 2>/dev/null | grep -qE '(KUBE|CNI)-'; then
  log "removing the kubelet's and CNI plugins' iptables chains"
  remove_chains iptables
  remove_chains ip6tables
fi
# The containerd shims' socket directory (containerd 1.6 always puts it in
# /run/containerd/s), when empty.
rmdir /run/containerd/s /run/containerd 2>/dev/null || true
if ip link show "$BRIDGE" >/dev/null 2>&1; then
  log "removing bridge $BRIDGE"
  ip link delete "$BRIDGE" || true
fi
if [[ -f $CLUSTER_DIR/sysctl.saved ]]; then
  while IFS= read -r kv; do sysctl -qw "$kv" 2>/dev/null || true; done <"$CLUSTER_DIR/sysctl.saved"
  rm -f "$CLUSTER_DIR/sysctl.saved"
fi

# State: gone, but for the certificates and the image tarballs.
if [[ $left -eq 0 ]]; then
  rm -rf "$ETCD_DATA" "$KUBELET_ROOT" "$CLUSTER_DIR/containerd" "$CLUSTER_DIR/cni" "$REGISTRY_DIR" "$PIDS"
fi
log "cluster stopped"
