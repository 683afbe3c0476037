# Shared settings for hack/cluster/up.sh and down.sh. Sourced, not run.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
K8S_BIN=${K8S_BIN:-$REPO_ROOT/bin/k8s/$KUBE_VERSION}
CLUSTER_DIR=${CLUSTER_DIR:-$REPO_ROOT/bin/cluster}

# The node's name, fixed so tests and docs can name it.
NODE_NAME=hotreload-local

# Networking. Everything listens on a private bridge inside this machine, never
# on eth0: the API server, the kubelet and NodePorts bind to BRIDGE_IP, which is
# also the node's InternalIP and the `kubernetes` Service's endpoint. Pods are on
# the same bridge, so they reach the API server through the Service (kube-proxy
# DNATs 10.96.0.1:443 to BRIDGE_IP:6443) and the host reaches pods directly.
BRIDGE=hotreload0
BRIDGE_IP=10.89.0.1
POD_CIDR=10.89.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
API_PORT=6443
API_URL=https://$BRIDGE_IP:$API_PORT
# etcd on loopback, away from the default ports that an envtest or a developer's
# own etcd may hold.
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380

PKI=$CLUSTER_DIR/pki
PIDS=$CLUSTER_DIR/pids
LOGS=$CLUSTER_DIR/logs
CONF=$CLUSTER_DIR/config
CONTAINERD_ROOT=$CLUSTER_DIR/containerd/root
CONTAINERD_STATE=$CLUSTER_DIR/containerd/state
CONTAINERD_SOCK=$CLUSTER_DIR/containerd/containerd.sock
KUBELET_ROOT=$CLUSTER_DIR/kubelet
CNI_CONF_DIR=$CLUSTER_DIR/cni/net.d
CNI_DATA_DIR=$CLUSTER_DIR/cni/ipam
CNI_BIN_DIR=/usr/lib/cni # Debian's containernetworking-plugins
ETCD_DATA=$CLUSTER_DIR/etcd
IMAGES_DIR=$CLUSTER_DIR/images
ADMIN_KUBECONFIG=$CLUSTER_DIR/admin.kubeconfig
# The registry the node pulls hotreload's images from (hack/tools/registry): on
# loopback, which containerd reaches from the host's network namespace, in
# plain HTTP (config/certs.d/ADDR/hosts.toml says so to containerd). Blobs
# under bin/cluster/registry; tags in memory, so `make cluster` pushes the
# images after every start.
REGISTRY_ADDR=${REGISTRY_ADDR:-127.0.0.1:5000}
REGISTRY_DIR=$CLUSTER_DIR/registry
REGISTRY=${REGISTRY:-$REPO_ROOT/bin/tools/registry}
CONTAINERD_HOSTS_DIR=$CONF/certs.d

# The order processes start in; down.sh stops them in reverse.
COMPONENTS=(registry etcd kube-apiserver coredns kube-controller-manager kube-scheduler containerd kubelet kube-proxy)
COREDNS=${COREDNS:-$REPO_ROOT/bin/tools/coredns}

log() { printf '[cluster] %s\n' "$*"; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

# pid_alive NAME: the recorded process of NAME runs (and is still that program).
pid_alive() {
  local f=$PIDS/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  # No pipe into grep -q: under pipefail, grep quitting at the first match
  # fails the pipeline when the command line is longer than one write.
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$1"* ]]
}

# start NAME CMD...: runs CMD in its own session, logs to logs/NAME.log, PID in
# pids/NAME.pid, its command line in pids/NAME.cmd (component.sh starts NAME
# again from it).
start() {
  local name=$1; shift
  log "starting $name (log: $LOGS/$name.log)"
  printf '%s\0' "$@" >"$PIDS/$name.cmd"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
  # Until the forked shell has exec'd the program, /proc/PID/cmdline still
  # names this script, and pid_alive would take NAME for exited.
  local i
  for ((i = 0; i < 100; i++)); do
    pid_alive "$name" && return 0
    [[ -d /proc/$! ]] || return 0 # exited at once: wait_for shows its log
    sleep 0.05
  done
}

# stop NAME: TERM the recorded process, wait up to 10 s, then KILL.
stop() {
  local name=$1 pid i
  if ! pid_alive "$name"; then
    rm -f "$PIDS/$name.pid"
    return 0
  fi
  pid=$(<"$PIDS/$name.pid")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.25
  done
  if [[ -d /proc/$pid ]]; then
    log "  $name did not stop after 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$PIDS/$name.pid"
}

kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
