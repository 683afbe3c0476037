#!/usr/bin/env bash
# The root filesystem of the hotreload/haproxy:dev image (make images-local adds
# it to the image as one layer with hack/tools/imagebuild): Debian's HAProxy
# 2.6, without Docker, a registry or installing haproxy on this machine. How
# the packages become a tree: hack/cluster/deb-rootfs-lib.sh.
#
#   hack/cluster/haproxy-rootfs.sh [DIR]    (default bin/cluster/haproxy)
#
#   DIR/debs/    haproxy and the library packages it depends on, from
#                `apt-get download` (kept; delete DIR to take newer ones)
#   DIR/rootfs/  what goes into the image:
#     /usr/sbin/haproxy            from the haproxy package (its maintainer
#                                  scripts, init script and default config are
#                                  left out)
#     /lib/..., /lib64/...         the libraries it loads (OpenSSL, PCRE2, Lua,
#                                  libsystemd, OpenTracing and theirs) and the
#                                  loader, as the packaged loader lists them
#     /etc/haproxy/haproxy.cfg     a config for a container (below): Debian's
#                                  path, the one the image's arguments name
#     /etc/passwd, /etc/group      root, www-data, nobody, nonroot (65532, the
#                                  user haproxy runs as)
#   DIR/rootfs.ok  written last, with the package versions: make's target.
#
# The image runs `/usr/sbin/haproxy -W -db -f /etc/haproxy/haproxy.cfg` as
# nonroot (65532): master-worker mode (-W) in the foreground (-db), the config
# replaced by a ConfigMap in practice (test/e2e/testdata/haproxy.yaml). A
# reload is SIGUSR2 to the master: it re-executes itself (same PID), parses
# the config again and forks new workers, the old ones finishing their
# connections; a config it cannot load keeps the old workers serving. The
# check is `haproxy -c -f /etc/haproxy/haproxy.cfg`, as any user.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=haproxy
DIR=${1:-$REPO_ROOT/bin/cluster/haproxy}
# shellcheck source=hack/cluster/deb-rootfs-lib.sh
source "$REPO_ROOT/hack/cluster/deb-rootfs-lib.sh"

deb_packages haproxy
deb_stage
rootfs_elf /usr/sbin/haproxy

rootfs_file /etc/haproxy/haproxy.cfg <<'EOF'
# hotreload/haproxy:dev: Debian's HAProxy in a container, run as
# `haproxy -W -db -f /etc/haproxy/haproxy.cfg` by any non-root user: master and
# workers in the foreground, nothing written to disk, logs on stdout.
global
    master-worker
    maxconn 256 # within a container's open-file limit, without raising it
    log stdout format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http
    bind :8080
    http-request return status 200 content-type text/plain string "hotreload/haproxy:dev\n"
EOF
rootfs_users
rootfs_done
