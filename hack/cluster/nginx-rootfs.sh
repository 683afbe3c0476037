#!/usr/bin/env bash
# The root filesystem of the hotreload/nginx:dev image (make images-local adds it
# to the image as one layer with hack/tools/imagebuild): Debian's nginx, without
# Docker, a registry or installing nginx on this machine. How the packages
# become a tree: hack/cluster/deb-rootfs-lib.sh.
#
#   hack/cluster/nginx-rootfs.sh [DIR]      (default bin/cluster/nginx)
#
#   DIR/debs/    nginx, nginx-common and the library packages nginx depends on,
#                from `apt-get download` (kept: a package already there is not
#                downloaded again; delete DIR to take newer ones)
#   DIR/rootfs/  what goes into the image:
#     /usr/sbin/nginx                  from the nginx package
#     /lib/..., /lib64/...             the shared libraries the binary loads and
#                                      the dynamic loader, found by asking the
#                                      packaged loader itself (ld.so --list) with
#                                      the packaged libraries only
#     /etc/nginx/                      mime.types and the *_params files of
#                                      nginx-common, and an nginx.conf for a
#                                      container (below); no sites-*, modules-*
#     /usr/share/nginx/html/index.html from nginx-common
#     /etc/passwd, /etc/group          root, www-data (33, the user nginx runs
#                                      as), nobody, nonroot (65532)
#     /etc/nsswitch.conf               files, then DNS for hosts
#   DIR/rootfs.ok  written last, with the package versions: make's target.
#
# The image's nginx.conf (replaced by a ConfigMap in practice, see
# test/e2e/testdata/nginx.yaml) runs nginx as a non-root process in the
# foreground (daemon off), on port 8080, its pid file and temporary files
# under /tmp, its logs on stdout and stderr.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=nginx
DIR=${1:-$REPO_ROOT/bin/cluster/nginx}
# shellcheck source=hack/cluster/deb-rootfs-lib.sh
source "$REPO_ROOT/hack/cluster/deb-rootfs-lib.sh"

deb_packages nginx nginx-common
deb_stage
rootfs_elf /usr/sbin/nginx

mkdir -p "$ROOTFS/etc/nginx/conf.d"
for f in mime.types fastcgi.conf fastcgi_params proxy_params scgi_params uwsgi_params koi-utf koi-win win-utf; do
  rootfs_copy "/etc/nginx/$f"
done
rootfs_copy /usr/share/nginx/html/index.html

rootfs_file /etc/nginx/nginx.conf <<'EOF'
# hotreload/nginx:dev: Debian's nginx in a container. Runs as any non-root user:
# in the foreground, nothing written outside /tmp, logs on stdout and stderr.
daemon off;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr notice;

events {
    worker_connections 256;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;

    server {
        listen 8080;
        root /usr/share/nginx/html;
    }
}
EOF
rootfs_users
rootfs_done
