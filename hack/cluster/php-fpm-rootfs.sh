#!/usr/bin/env bash
# The root filesystem of the hotreload/php-fpm:dev image (make images-local
# adds it to the image as one layer with hack/tools/imagebuild): Debian's
# PHP-FPM 8.2, without Docker, a registry or installing PHP on this machine.
# How the packages become a tree: hack/cluster/deb-rootfs-lib.sh.
#
#   hack/cluster/php-fpm-rootfs.sh [DIR]    (default bin/cluster/php-fpm)
#
#   DIR/debs/    php8.2-fpm, php8.2-common (for its php.ini), tzdata and the
#                library packages they depend on, from `apt-get download`
#                (kept; delete DIR to take newer ones). Not php8.2-cli,
#                php8.2-opcache or php-common: the FPM binary carries the PHP
#                engine itself, and no extension is loaded
#   DIR/rootfs/  what goes into the image:
#     /usr/sbin/php-fpm8.2          from php8.2-fpm (its maintainer scripts,
#                                   init script and Debian's pool.d/www.conf
#                                   are left out)
#     /lib/..., /lib64/...          the libraries it loads (libxml2, OpenSSL,
#                                   PCRE2, Argon2, libsodium, libsystemd and
#                                   theirs) and the loader, as the packaged
#                                   loader lists them
#     /etc/php/8.2/fpm/php.ini      php8.2-common's php.ini-production, where
#                                   Debian's postinst puts it (the path
#                                   compiled into the binary)
#     /usr/share/zoneinfo/UTC       from tzdata: the zone of PHP's default
#                                   date.timezone
#     /etc/php/8.2/fpm/php-fpm.conf a config for a container (below), at the
#                                   path compiled into the binary
#     /var/www/html/index.php       a page that says which image serves it
#     /etc/passwd, /etc/group       root, www-data (33, the user php-fpm runs
#                                   as), nobody, nonroot
#   DIR/rootfs.ok  written last, with the package versions: make's target.
#
# The image runs `/usr/sbin/php-fpm8.2 --nodaemonize --fpm-config
# /etc/php/8.2/fpm/php-fpm.conf` as www-data (33): the master in the
# foreground, its pid file under /tmp, its log and its workers' output on
# stderr, one pool listening on 127.0.0.1:9000 for a web server in the same
# pod (nginx's fastcgi_pass). A non-root master never switches user, so the
# pool names none. The config is replaced by a ConfigMap in practice
# (test/e2e/testdata/nginx-php-fpm.yaml). A graceful reload is SIGUSR2 to the
# master: it stops its workers once their requests are done, re-executes
# itself (same PID, the listening socket kept), reads the config again and
# starts new workers; a config it cannot load stops the master, so check
# first: `php-fpm8.2 -t --fpm-config /etc/php/8.2/fpm/php-fpm.conf`, as the
# same user. Debian's build also reloads this way on SIGHUP.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NAME=php-fpm
DIR=${1:-$REPO_ROOT/bin/cluster/php-fpm}
# shellcheck source=hack/cluster/deb-rootfs-lib.sh
source "$REPO_ROOT/hack/cluster/deb-rootfs-lib.sh"

deb_packages php8.2-fpm php8.2-common tzdata
deb_stage
rootfs_elf /usr/sbin/php-fpm8.2
# Debian's PHP reads time zones from the system's tzdata, not a copy of its own:
# without the zone file of its default, UTC, every start warns "Invalid
# date.timezone value 'UTC'".
rootfs_copy /usr/share/zoneinfo/UTC

INI=/usr/lib/php/8.2/php.ini-production
[[ -f $STAGING$INI ]] || die "no $INI in the packages (${PACKAGES[*]})"
rootfs_file /etc/php/8.2/fpm/php.ini <"$STAGING$INI"

rootfs_file /etc/php/8.2/fpm/php-fpm.conf <<'EOF'
; hotreload/php-fpm:dev: Debian's PHP-FPM in a container, run as
; `php-fpm8.2 --nodaemonize --fpm-config /etc/php/8.2/fpm/php-fpm.conf` by any
; non-root user: nothing written outside /tmp, the log on stderr.
[global]
pid = /tmp/php-fpm.pid
error_log = /proc/self/fd/2
log_level = notice
systemd_interval = 0 ; no systemd to report to

[www]
listen = 127.0.0.1:9000
pm = static
pm.max_children = 2
catch_workers_output = yes
decorate_workers_output = no
EOF

rootfs_file /var/www/html/index.php <<'EOF'
<?php
echo "hotreload/php-fpm:dev\n";
EOF
rootfs_users
rootfs_done
