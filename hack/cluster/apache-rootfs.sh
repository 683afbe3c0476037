#!/usr/bin/env bash
# The root filesystem of the hotreload/apache:dev image (make images-local adds
# it to the image as one layer with hack/tools/imagebuild): Debian's Apache
# httpd 2.4, without Docker, a registry or installing apache2 on this machine.
# How the packages become a tree: hack/cluster/deb-rootfs-lib.sh.
#
#   hack/cluster/apache-rootfs.sh [DIR]     (default bin/cluster/apache)
#
#   DIR/debs/    apache2-bin and the library packages it depends on, from
#                `apt-get download` (kept; delete DIR to take newer ones). Not
#                the apache2 package: its maintainer scripts and its
#                Debian-style /etc/apache2 (envvars, a2enmod, sites-*) are not
#                wanted, and apache2-bin is only extracted
#   DIR/rootfs/  what goes into the image:
#     /usr/sbin/apache2             from apache2-bin
#     /usr/lib/apache2/modules/     the modules below (MODULES), loaded at run
#                                   time by LoadModule: each is an ELF file with
#                                   libraries of its own, so the loader lists
#                                   each one's too
#     /lib/..., /lib64/...          the libraries of the binary and the modules
#                                   (APR, APR-util, PCRE2, ...) and the loader,
#                                   as the packaged loader lists them, and
#                                   libgcc_s.so.1, which glibc opens at run
#                                   time for the threads of mpm_event
#     /etc/apache2/apache2.conf     a config for a container (below), at the
#                                   path compiled into the binary
#     /var/www/html/                empty: the compiled-in DocumentRoot
#     /etc/passwd, /etc/group       root, www-data (33, the user apache2 runs
#                                   as), nobody, nonroot
#   DIR/rootfs.ok  written last, with the package versions: make's target.
#
# The image runs `/usr/sbin/apache2 -DFOREGROUND` as www-data (33): a non-root
# parent never switches user (User and Group are ignored), so the config sets
# what Debian's envvars file and apache2ctl would have: the pid file, the
# mutexes and the scoreboard under /tmp (DefaultRuntimeDir), the logs on
# stderr and stdout, port 8080. No APACHE_* variable is used. The config is
# replaced by a ConfigMap in practice (test/e2e/testdata/apache.yaml). A
# graceful restart is SIGUSR1 to the parent (the container's main process):
# it reads the config again and starts new children, the old ones finishing
# their requests; a config it cannot load stops the parent (Apache's own
# behaviour), so check first: `apache2 -t`, as the same user.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=apache
DIR=${1:-$REPO_ROOT/bin/cluster/apache}
# shellcheck source=hack/cluster/deb-rootfs-lib.sh
source "$REPO_ROOT/hack/cluster/deb-rootfs-lib.sh"

# The modules a small config uses: an MPM (event; prefork for a config that
# wants processes only), Require (authz_core; authz_host for Require ip and
# local), Redirect and Alias (alias), server-status (status: a test reads the
# config generation there) and Header (headers). Another module means another
# word here; one serving files by type would want mod_mime and an
# /etc/mime.types (the media-types package) too.
MODULES=(mpm_event mpm_prefork authz_core authz_host alias status headers)

deb_packages apache2-bin
deb_stage
rootfs_elf /usr/sbin/apache2
for m in "${MODULES[@]}"; do
  rootfs_elf "/usr/lib/apache2/modules/mod_$m.so"
done
# No loader lists what a program opens with dlopen: glibc opens libgcc_s.so.1
# (libgcc-s1, a dependency of libc6) to unwind a thread that ends with
# pthread_exit, as event's worker threads do at a graceful restart; without
# it every child aborts ("libgcc_s.so.1 must be installed for pthread_exit to
# work").
rootfs_elf /lib/$ARCH/libgcc_s.so.1
mkdir -p "$ROOTFS/var/www/html"

rootfs_file /etc/apache2/apache2.conf <<'EOF'
# hotreload/apache:dev: Debian's Apache httpd in a container, run as
# `apache2 -DFOREGROUND` by any non-root user: nothing written outside /tmp,
# logs on stderr and stdout, no APACHE_* variable needed.
ServerName localhost
Listen 8080
PidFile /tmp/apache2.pid
DefaultRuntimeDir /tmp
ErrorLog /dev/stderr
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog /dev/stdout common

LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so

DocumentRoot /var/www/html
<Directory />
    Require all denied
</Directory>
# The body of / without any file: Redirect with a non-redirect status ends the
# request with that status, and ErrorDocument gives its text.
RedirectMatch 200 ^/$
ErrorDocument 200 "hotreload/apache:dev"
EOF
rootfs_users
rootfs_done
