#!/usr/bin/env bash
# Stops and starts one component of the local cluster, for tests of platform
# faults: the API server, etcd, the kubelet or containerd stopped and started
# again with the very command line hack/cluster/up.sh gave it (pids/NAME.cmd).
# Containers outlive containerd and the kubelet, as on a real node.
#
#   component.sh stop NAME      TERM, then KILL after 10 s
#   component.sh start NAME     start it again, as up.sh did
#   component.sh restart NAME   stop, then start
#   component.sh status NAME    prints running or stopped
#
# NAME is one of: etcd kube-apiserver kube-controller-manager kube-scheduler
# containerd kubelet kube-proxy coredns. Needs root, as the cluster does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { die "usage: $0 stop|start|restart|status NAME (NAME: ${COMPONENTS[*]})"; }
[[ $# -eq 2 ]] || usage
verb=$1 name=$2
[[ " ${COMPONENTS[*]} " == *" $name "* && $name != registry ]] || usage
[[ $(id -u) -eq 0 ]] || die "the cluster's components run as root: run this as root"

start_again() {
  pid_alive "$name" && { log "$name runs already"; return 0; }
  [[ -f $PIDS/$name.cmd ]] || die "no recorded command line for $name ($PIDS/$name.cmd): was the cluster started by this version of up.sh?"
  local -a argv
  mapfile -d '' -t argv <"$PIDS/$name.cmd"
  start "$name" "${argv[@]}"
  pid_alive "$name" || die "$name exited at once; see $LOGS/$name.log"
}

case $verb in
  stop) stop "$name" ;;
  start) start_again ;;
  restart) stop "$name"; start_again ;;
  status) if pid_alive "$name"; then echo running; else echo stopped; fi ;;
  *) usage ;;
esac
