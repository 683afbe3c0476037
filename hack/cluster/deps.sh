#!/usr/bin/env bash
# Installs what the local cluster needs from Debian's packages, only when missing.
#   hack/cluster/deps.sh          install what is missing (needs root and apt-get)
#   hack/cluster/deps.sh --check  only say what is missing; exit 1 if anything is
#
# containerd 1.6 (bookworm) speaks the CRI v1 API the kubelet needs; runc runs the
# containers; containernetworking-plugins brings bridge, host-local, portmap and
# loopback (in /usr/lib/cni); iptables is what kube-proxy (iptables mode) and the
# portmap plugin program; conntrack lets kube-proxy flush stale UDP entries;
# socat and ethtool are looked up by the kubelet (port-forward fallback) and the
# bridge plugin's veth setup on some paths. iproute2 gives `ip` for down.sh.
set -euo pipefail

# command -> Debian package
declare -A want=(
  [containerd]=containerd
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [conntrack]=conntrack
  [socat]=socat
  [ethtool]=ethtool
  [ip]=iproute2
)

missing=()
for cmd in "${!want[@]}"; do
  if [[ $cmd == /* ]]; then
    [[ -x $cmd ]] || missing+=("${want[$cmd]}")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  [[ ${1:-} == --check ]] || echo "cluster-deps: containerd, runc, CNI plugins, iptables, conntrack, socat, ethtool, iproute2 already installed"
  exit 0
fi

if [[ ${1:-} == --check ]]; then
  echo "the local cluster needs Debian packages that are missing: ${missing[*]}" >&2
  echo "run: make cluster-deps   (apt-get install as root)" >&2
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "cluster-deps: installing ${missing[*]} needs root; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "cluster-deps: installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
# Do not let the containerd package start a system-wide containerd: the cluster
# runs its own, with its own socket and state under bin/cluster.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f "$policy"' EXIT

if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  echo "cluster-deps: apt-get install failed; refreshing the package lists and trying again"
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
echo "cluster-deps: done ($(containerd --version), $(runc --version | head -1))"
