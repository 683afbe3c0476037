#!/usr/bin/env bash
# Starts a single-node Kubernetes cluster on this machine from binaries built by
# the Makefile (bin/k8s) and Debian's containerd, runc and CNI plugins, and the
# registry its node pulls hotreload's images from (bin/tools/registry, on
# $REGISTRY_ADDR). All state lives under bin/cluster; `make cluster-down`
# (hack/cluster/down.sh) undoes it.
#
#   make cluster                      builds what is missing, runs this, then
#                                     pushes hotreload's images to the registry
#   export KUBECONFIG=bin/cluster/admin.kubeconfig
#
# Re-runnable: when the cluster is already up it says so and exits 0. Every
# machine-specific setting is explained where it is made; the design is in
# docs/design/2026-11-24-local-cluster.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# READY_TIMEOUT: seconds to wait for the node to be Ready. KUBELET_V: the
# kubelet's log verbosity (4 shows each pod sync and volume write).
READY_TIMEOUT=${READY_TIMEOUT:-120}
KUBELET_V=${KUBELET_V:-1}

[[ $(id -u) -eq 0 ]] || die "the kubelet and containerd need root (mounts, cgroups, network namespaces); run as root"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  [[ -x $K8S_BIN/$b ]] || die "$K8S_BIN/$b is missing; run 'make node-components' (or 'make cluster', which builds it)"
done
[[ -x $COREDNS ]] || die "$COREDNS is missing; run 'make node-components' (or 'make cluster')"
[[ -x $REGISTRY ]] || die "$REGISTRY is missing; run 'make cluster', which builds it"
for b in containerd ctr runc iptables conntrack "$CNI_BIN_DIR/bridge"; do
  command -v "$b" >/dev/null 2>&1 || die "$b is missing; run 'make cluster-deps' (installs Debian's packages)"
done

# fail_with_log NAME MESSAGE: print the end of NAME's log and stop.
fail_with_log() {
  echo "---- last 40 lines of $LOGS/$1.log ----" >&2
  tail -n 40 "$LOGS/$1.log" >&2 || true
  echo "----" >&2
  die "$2 (stop what started: make cluster-down)"
}

# wait_for NAME SECONDS CMD...: poll CMD until it succeeds; fail with NAME's log.
wait_for() {
  local name=$1 secs=$2 i; shift 2
  for ((i = 0; i < secs * 4; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    pid_alive "$name" || fail_with_log "$name" "$name exited"
    sleep 0.25
  done
  fail_with_log "$name" "$name not ready after ${secs}s"
}

# import_images: the test images `make images-local` wrote as tarballs
# (hotreload/{pause,demoapp,nginx,haproxy,apache,php-fpm,prometheus}:dev), into
# the k8s.io namespace the CRI plugin uses; pods run them with imagePullPolicy
# Never. Importing an unchanged image is a no-op; a rebuilt one replaces the
# tag. hotreload's own images are never imported: the node pulls them from the
# registry, where `make cluster` pushes them.
import_images() {
  local i t
  for i in pause demoapp nginx haproxy apache php-fpm prometheus; do
    t=$IMAGES_DIR/hotreload_${i}_dev.tar
    [[ -f $t ]] || die "no $t; run 'make images-local' (make cluster does)"
    log "importing image hotreload/$i:dev"
    ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$t" >>"$LOGS/images.log" 2>&1 ||
      fail_with_log images "ctr images import $t failed"
  done
}

# ---------------------------------------------------------------- already up?
alive=() dead=()
for c in "${COMPONENTS[@]}"; do
  if pid_alive "$c"; then alive+=("$c"); else dead+=("$c"); fi
done
if [[ ${#alive[@]} -eq ${#COMPONENTS[@]} ]]; then
  if kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then
    log "already up: node $NODE_NAME is Ready ($API_URL)"
    import_images
    log "use it: export KUBECONFIG=$ADMIN_KUBECONFIG"
    exit 0
  fi
  die "all cluster processes run but node $NODE_NAME is not Ready; see $LOGS/kubelet.log, or restart: make cluster-down cluster"
fi
if [[ ${#alive[@]} -gt 0 ]]; then
  die "the cluster is partly up (running: ${alive[*]}; stopped: ${dead[*]}); run 'make cluster-down' then 'make cluster'"
fi
if curl -s -o /dev/null "http://$REGISTRY_ADDR/v2/"; then
  die "something already answers on $REGISTRY_ADDR, where the cluster's registry listens (make registry-up's? stop it: make registry-down)"
fi

start_all=$(date +%s)
mkdir -p "$PKI" "$PIDS" "$LOGS" "$CONF" "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "$KUBELET_ROOT" \
  "$CNI_CONF_DIR" "$CNI_DATA_DIR" "$ETCD_DATA" "$REGISTRY_DIR"
rm -f "$PIDS"/*.pid "$LOGS"/*.log

# ---------------------------------------------------------------- registry
# hotreload's webhook and reloader images come from here, pushed by `make
# cluster` (make push, make manifests) once the node is up; nothing else is
# pulled. Tags live in memory: after a restart the images are pushed again.
start registry "$REGISTRY" --addr "$REGISTRY_ADDR" --dir "$REGISTRY_DIR/blobs"
wait_for registry 30 curl -sf "http://$REGISTRY_ADDR/v2/"

# ---------------------------------------------------------------- certificates
# One CA signs everything: serving certs, client certs (x509 authentication),
# and the kubelet's client and serving certs. Reused across restarts so an
# exported kubeconfig keeps working.
gen_key() { [[ -f $1 ]] || openssl genrsa -out "$1" 2048 2>/dev/null; }
# gen_cert NAME CN O SANS EXT: a cert signed by the CA, SANS like "IP:1.2.3.4,DNS:x".
gen_cert() {
  local name=$1 cn=$2 o=$3 sans=$4 usage=$5 subj
  [[ -f $PKI/$name.crt ]] && return 0
  gen_key "$PKI/$name.key"
  subj="/CN=$cn"
  [[ -n $o ]] && subj="/O=$o$subj"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [[ -n $sans ]] && echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

if [[ ! -f $PKI/ca.crt ]]; then
  log "generating the cluster CA and certificates in $PKI"
  gen_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=hotreload-local-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>/dev/null
fi
gen_cert apiserver kube-apiserver "" \
  "IP:$BRIDGE_IP,IP:127.0.0.1,IP:$KUBERNETES_SVC_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost" serverAuth
# The API server's client cert for kubelet logs/exec/port-forward.
gen_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" clientAuth
gen_cert admin admin system:masters "" clientAuth
gen_cert controller-manager system:kube-controller-manager "" "" clientAuth
gen_cert scheduler system:kube-scheduler "" "" clientAuth
gen_cert kube-proxy system:kube-proxy "" "" clientAuth
# The kubelet's client cert names the node so the Node authorizer and the
# NodeRestriction admission plugin treat it as this node, not as an admin.
gen_cert kubelet-client "system:node:$NODE_NAME" system:nodes "" clientAuth
gen_cert kubelet-serving "$NODE_NAME" "" "IP:$BRIDGE_IP,DNS:$NODE_NAME" serverAuth
# Service-account tokens: the API server signs with sa.key and verifies with
# sa.pub; the controller-manager signs the legacy token Secrets with sa.key.
if [[ ! -f $PKI/sa.key ]]; then
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi

# kubeconfig NAME USER: a kubeconfig with x509 client auth against the API server.
kubeconfig() {
  cat >"$CLUSTER_DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hotreload-local
  cluster:
    server: $API_URL
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: hotreload-local
  context: {cluster: hotreload-local, user: $2}
current-context: hotreload-local
EOF
}
kubeconfig admin admin
kubeconfig controller-manager controller-manager
kubeconfig scheduler scheduler
kubeconfig kube-proxy kube-proxy
kubeconfig kubelet kubelet-client

# ---------------------------------------------------------------- host network
# The bridge exists before any pod so that the API server and the kubelet can
# bind to its address; the CNI bridge plugin then reuses it (same name, same
# gateway address). Nothing of the cluster listens on eth0.
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  log "creating bridge $BRIDGE ($BRIDGE_IP/24)"
  ip link add "$BRIDGE" type bridge
fi
ip addr show dev "$BRIDGE" | grep -q "inet $BRIDGE_IP/" || ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
# Service IPs only exist as kube-proxy's DNAT rules. Until kube-proxy has
# programmed a new Service (about a second), a connection from this host to its
# ClusterIP would follow the default route out of eth0 (here, to the sandbox's
# intercepting proxy, whose certificate then fails the webhook call). Routing
# the Service range to the bridge keeps such traffic on this machine: it waits
# and retries instead of leaving. The route goes with the bridge.
ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$BRIDGE_IP"
# Routing between pods and the host needs forwarding, and kube-proxy's Service
# rules must see traffic between two pods on the same bridge (br_netfilter).
# down.sh restores the values found here.
if [[ ! -f $CLUSTER_DIR/sysctl.saved ]]; then
  {
    echo "net.ipv4.ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "net.bridge.bridge-nf-call-iptables=$(sysctl -n net.bridge.bridge-nf-call-iptables 2>/dev/null || echo 0)"
  } >"$CLUSTER_DIR/sysctl.saved"
fi
sysctl -qw net.ipv4.ip_forward=1
sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
  log "warning: net.bridge.bridge-nf-call-iptables not settable (no br_netfilter); pod-to-Service-to-pod on this node may fail"

# CNI: bridge + host-local IPAM (state under bin/cluster), portmap for hostPort,
# loopback for lo inside each pod. No ipMasq: pods talk to this machine only.
cat >"$CNI_CONF_DIR/10-hotreload.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hotreload",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_DATA_DIR",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cat >"$CNI_CONF_DIR/99-loopback.conf" <<EOF
{"cniVersion": "1.0.0", "name": "lo", "type": "loopback"}
EOF

# ---------------------------------------------------------------- etcd
# --unsafe-no-fsync: a throwaway test cluster; durability is not worth the I/O.
start etcd "$K8S_BIN/etcd" --name hotreload --data-dir "$ETCD_DATA" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "hotreload=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# ---------------------------------------------------------------- kube-apiserver
# --kubelet-preferred-address-types=InternalIP,Hostname: the node's name does not
#   resolve on this machine; without it `kubectl logs/exec` fail dialing it.
# Admission: the defaults (NamespaceLifecycle, ServiceAccount, MutatingAdmission-
#   Webhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook, ResourceQuota,
#   PodSecurity, ...) plus NodeRestriction for the kubelet's credentials.
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address "$BRIDGE_IP" --advertise-address "$BRIDGE_IP" --secure-port "$API_PORT" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority "$PKI/ca.crt" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
  --authorization-mode Node,RBAC \
  --enable-admission-plugins NodeRestriction \
  --allow-privileged=true \
  --profiling=false \
  --v=1
wait_for kube-apiserver 90 curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$API_URL/readyz"

# ---------------------------------------------------------------- cluster DNS
# CoreDNS on the host, on the bridge's address only (the bind plugin): pods
# resolve Services (hotreload's reloader finds the webhook's Service by name)
# and, through the host's resolver, everything else. The kubelet's clusterDNS
# points at it. It reads Services and EndpointSlices with the admin
# credentials: a local test cluster, not a model of least privilege.
cat >"$CONF/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
  bind $BRIDGE_IP
  errors
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $ADMIN_KUBECONFIG hotreload-local
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  cache 5
}
.:53 {
  bind $BRIDGE_IP
  errors
  forward . /etc/resolv.conf
  cache 30
}
EOF
start coredns "$COREDNS" -conf "$CONF/Corefile"

# ---------------------------------------------------------------- controllers
# The controller-manager runs every default controller: among them the
# service-account and token controllers (signing with sa.key), the root CA
# publisher (kube-root-ca.crt in each namespace), the namespace controller, and
# the CSR signer (the same CA). The kubelet gets its pod CIDR from its own config,
# so node IPAM stays off. No leader election: one of each.
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 \
  --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
  --use-service-account-credentials=true \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --service-cluster-ip-range "$SERVICE_CIDR" \
  --leader-elect=false --v=1
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --leader-elect=false --v=1

# ---------------------------------------------------------------- containerd
# Its own socket, root and state under bin/cluster: it never meets a system
# containerd. Machine-specific:
# - restrict_oom_score_adj = true: this machine does not grant CAP_SYS_RESOURCE,
#   so runc cannot lower a process's oom_score_adj; without this every sandbox
#   fails with "runc create failed: ... can't get final child's PID from pipe: EOF".
# - sandbox_image: the pause image is built here and imported below, not
#   pulled (docker.io/ is how containerd names an unqualified image).
# - registry config_path: a hosts.toml per registry host; the one of
#   $REGISTRY_ADDR says it speaks plain HTTP. Nothing else is pulled.
# - snapshotter overlayfs: the root filesystem is ext4, where overlayfs works.
# - SystemdCgroup = false: cgroup v1 hybrid and no systemd; the kubelet uses cgroupfs.
# - netns_mounts_under_state_dir: pod network namespaces are mounted under
#   bin/cluster, not /var/run/netns, so down.sh finds and unmounts them.
mkdir -p "$(dirname "$CONTAINERD_SOCK")" "$CLUSTER_DIR/containerd/opt"
cat >"$CONF/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CLUSTER_DIR/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "docker.io/hotreload/pause:dev"
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_selinux = false
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = "$CONTAINERD_STATE/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$CNI_BIN_DIR"
      conf_dir = "$CNI_CONF_DIR"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$CONTAINERD_HOSTS_DIR"
EOF
mkdir -p "$CONTAINERD_HOSTS_DIR/$REGISTRY_ADDR"
cat >"$CONTAINERD_HOSTS_DIR/$REGISTRY_ADDR/hosts.toml" <<EOF
# The local cluster's registry (hack/tools/registry): plain HTTP on loopback.
server = "http://$REGISTRY_ADDR"

[host."http://$REGISTRY_ADDR"]
  capabilities = ["pull", "resolve"]
EOF
start containerd containerd --config "$CONF/containerd.toml"
wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version

import_images
# ---------------------------------------------------------------- kubelet
# Machine-specific:
# - failCgroupV1: false, cgroupDriver: cgroupfs: the machine is cgroup v1 (hybrid)
#   without systemd; recent kubelets refuse cgroup v1 unless told.
# - failSwapOn: false: do not depend on how the host's swap is set.
# - oomScoreAdj: 0: the kubelet cannot lower its own score (no CAP_SYS_RESOURCE).
# - imageGCHighThresholdPercent: 100: the test images were imported, not
#   pulled; garbage-collecting them would break the next pod (nothing can
#   re-pull them).
# - eviction thresholds low: a shared disk's free space must not evict test pods.
# - address and node IP on the bridge; its own cert dir and root dir under
#   bin/cluster; x509 client auth with the cluster CA; webhook authz for its API.
# - syncFrequency stays at its default (1m): the product's problem statement is
#   about that delay, so the cluster must have it.
cat >"$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $BRIDGE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  nodefs.inodesFree: "1%"
  imagefs.available: "1%"
podCIDR: $POD_CIDR
clusterDomain: cluster.local
clusterDNS: [$BRIDGE_IP]
resolvConf: /etc/resolv.conf
maxPods: 110
serializeImagePulls: false
EOF
start kubelet "$K8S_BIN/kubelet" --config "$CONF/kubelet.yaml" \
  --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" \
  --root-dir "$KUBELET_ROOT" --cert-dir "$KUBELET_ROOT/pki" \
  --hostname-override "$NODE_NAME" --node-ip "$BRIDGE_IP" --v="$KUBELET_V"

# ---------------------------------------------------------------- kube-proxy
# iptables mode (Debian's iptables, nft backend). NodePorts only on the bridge's
# address, so nothing is exposed on eth0. conntrack maxPerCore 0: leave the
# host's conntrack table size alone (its sysctl may not be writable here).
cat >"$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $BRIDGE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$BRIDGE_IP/32"]
conntrack:
  maxPerCore: 0
EOF
start kube-proxy "$K8S_BIN/kube-proxy" --config "$CONF/kube-proxy.yaml" --v=1

# ---------------------------------------------------------------- node Ready
log "waiting for node $NODE_NAME to be Ready (timeout ${READY_TIMEOUT}s)"
ready=""
for ((i = 0; i < READY_TIMEOUT; i++)); do
  for c in "${COMPONENTS[@]}"; do
    pid_alive "$c" || fail_with_log "$c" "$c exited while the node was starting"
  done
  ready=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)
  [[ $ready == True ]] && break
  if ((i % 5 == 0)); then
    reason=$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}' 2>/dev/null || true)
    log "  ${i}s: ${reason:-node not registered yet}"
  fi
  sleep 1
done
[[ $ready == True ]] || fail_with_log kubelet "node $NODE_NAME not Ready after ${READY_TIMEOUT}s"

# The `kubernetes` Service must answer through kube-proxy before pods can use it.
for ((i = 0; i < 30; i++)); do
  iptables -t nat -S KUBE-SERVICES 2>/dev/null | grep -q "$KUBERNETES_SVC_IP/32" && break
  sleep 1
done

log "node $NODE_NAME Ready in $(($(date +%s) - start_all))s; API server $API_URL"
log "use it: export KUBECONFIG=$ADMIN_KUBECONFIG   (kubectl: $K8S_BIN/kubectl)"
log "stop it: make cluster-down"
