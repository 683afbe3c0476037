#!/usr/bin/env bash
# The root filesystem of the hotreload/prometheus:dev image (make images-local
# adds it to the image as one layer with hack/tools/imagebuild): Debian's
# Prometheus 2.42, without Docker, a registry or installing prometheus on this
# machine. How the packages become a tree: hack/cluster/deb-rootfs-lib.sh.
#
#   hack/cluster/prometheus-rootfs.sh [DIR]  (default bin/cluster/prometheus)
#
#   DIR/debs/    prometheus and the library packages it depends on (libc6 and
#                libgcc-s1: Debian builds it with cgo), from `apt-get download`
#                (kept; delete DIR to take newer ones). Not the libjs-* and
#                fonts packages of its classic web UI: the image has no UI,
#                the API and /-/ endpoints are all a test needs
#   DIR/rootfs/  what goes into the image:
#     /usr/bin/prometheus, /usr/bin/promtool   from the prometheus package:
#                                  dynamically linked Go binaries (a static
#                                  one would be copied alone)
#     /lib/..., /lib64/...         the libraries they load (libc) and the
#                                  loader, as the packaged loader lists them
#     /etc/prometheus/prometheus.yml  a config for a container (below), which
#                                  scrapes Prometheus itself
#     /etc/passwd, /etc/group      root, www-data, nobody (65534, the user
#                                  prometheus runs as), nonroot
#   DIR/rootfs.ok  written last, with the package versions: make's target.
#
# The image runs, as nobody (65534):
#   /usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml
#     --storage.tsdb.path=/tmp/prometheus --web.enable-lifecycle
#     --web.listen-address=:9090
# its data under /tmp (an emptyDir), logs on stderr, the config replaced by a
# ConfigMap in practice (test/e2e/testdata/prometheus.yaml). A reload is POST
# /-/reload (or SIGHUP): in the same process; a config it cannot load answers
# 500, keeps the old one and sets prometheus_config_last_reload_successful 0.
# The check is `promtool check config /etc/prometheus/prometheus.yml`.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=prometheus
DIR=${1:-$REPO_ROOT/bin/cluster/prometheus}
# shellcheck source=hack/cluster/deb-rootfs-lib.sh
source "$REPO_ROOT/hack/cluster/deb-rootfs-lib.sh"

deb_packages prometheus
deb_stage
rootfs_elf /usr/bin/prometheus /usr/bin/promtool

rootfs_file /etc/prometheus/prometheus.yml <<'EOF'
# hotreload/prometheus:dev: Debian's Prometheus in a container, run by any
# non-root user with its data under /tmp. It scrapes itself.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:9090"]
EOF
rootfs_users
rootfs_done
