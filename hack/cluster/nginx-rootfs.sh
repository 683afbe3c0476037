#!/usr/bin/env bash
# The root filesystem of the hotreload/nginx:dev image (make images-local adds it
# to the image as one layer with hack/tools/imagebuild): Debian's nginx, without
# Docker, a registry or installing nginx on this machine.
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
umask 022 # the image keeps these modes: its user must read and traverse

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${1:-$REPO_ROOT/bin/cluster/nginx}
DEBS=$DIR/debs
ARCH=x86_64-linux-gnu
LOADER=/lib64/ld-linux-x86-64.so.2

log() { printf '[nginx-rootfs] %s\n' "$*"; }
die() {
  printf '[nginx-rootfs] error: %s\n' "$*" >&2
  exit 1
}

for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool not found: this script takes nginx from Debian's packages"
done
mkdir -p "$DEBS"

# deb PKG: the downloaded package file of PKG (empty when not downloaded).
deb() { compgen -G "$DEBS/${1}_*.deb" | head -1 || true; }

# download PKG...: apt-get download those not in DEBS yet (never installs).
download() {
  local missing=() p
  for p in "$@"; do [[ -n $(deb "$p") ]] || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  log "apt-get download ${missing[*]}"
  local opts=()
  # As root, apt drops to the _apt user to download, which may not enter DEBS.
  [[ $(id -u) -ne 0 ]] || opts=(-o APT::Sandbox::User=root)
  if ! (cd "$DEBS" && apt-get "${opts[@]}" -q download "${missing[@]}" >/dev/null); then
    [[ $(id -u) -eq 0 ]] || die "apt-get download ${missing[*]} failed; the package lists may be missing or old: run 'apt-get update' as root"
    log "apt-get download failed; apt-get update, then again"
    apt-get -q update >/dev/null
    (cd "$DEBS" && apt-get "${opts[@]}" -q download "${missing[@]}" >/dev/null) ||
      die "apt-get download ${missing[*]} failed"
  fi
}

# lib_depends DEB: the shared-library packages (lib*, zlib*) DEB depends on,
# the first of each set of alternatives, without versions.
lib_depends() {
  dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
    grep -E '^(lib|zlib)' || true
}

# ---------------------------------------------------------------- packages
download nginx nginx-common
# The library packages, and theirs, until no new one appears.
todo=$(lib_depends "$(deb nginx)")
libs=()
while [[ -n $todo ]]; do
  # shellcheck disable=SC2086 # a list of package names
  download $todo
  next=""
  for p in $todo; do
    [[ " ${libs[*]} " == *" $p "* ]] && continue
    libs+=("$p")
    for q in $(lib_depends "$(deb "$p")"); do
      [[ " ${libs[*]} $next " == *" $q "* ]] || next+=" $q"
    done
  done
  todo=${next# }
done

# ---------------------------------------------------------------- rootfs
tmp=$DIR/rootfs.tmp staging=$DIR/staging
rm -rf "$tmp" "$staging" "$DIR/rootfs.ok"
mkdir -p "$tmp" "$staging"
for p in nginx nginx-common "${libs[@]}"; do
  dpkg-deb -x "$(deb "$p")" "$staging"
done

install -D -m 0755 "$staging/usr/sbin/nginx" "$tmp/usr/sbin/nginx"

# staged PATH: the file PATH names in the staging tree, symlinks followed
# inside that tree (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...).
staged() {
  local p=$1 t i
  for ((i = 0; i < 10; i++)); do
    [[ -L $staging$p ]] || break
    t=$(readlink "$staging$p")
    [[ $t == /* ]] || t=$(dirname "$p")/$t
    p=$(realpath -m -s "$t")
  done
  printf '%s%s' "$staging" "$p"
}

# copy PATH: PATH of the staging tree into the rootfs at the same place, and
# the file it links to (libz.so.1 -> libz.so.1.2.13) when it is a symlink.
copy() {
  local p=$1 t
  [[ -e $tmp$p || -L $tmp$p ]] && return 0
  mkdir -p "$tmp$(dirname "$p")"
  cp -a "$staging$p" "$tmp$p"
  if [[ -L $staging$p ]]; then
    t=$(readlink "$staging$p")
    [[ $t == /* ]] || t=$(dirname "$p")/$t
    copy "$(realpath -m -s "$t")"
  fi
}

# The loader lists what the binary loads, resolved in the staging tree only
# (ld.so --list is what ldd runs). Any path outside it means a package is
# missing: better to stop than to ship this machine's library.
[[ -e $staging$LOADER ]] || die "no $LOADER in the downloaded packages (${libs[*]})"
loader=$(staged "$LOADER")
libpath=$staging/lib/$ARCH:$staging/usr/lib/$ARCH
listed=$("$loader" --inhibit-cache --library-path "$libpath" --list "$staging/usr/sbin/nginx") ||
  die "the packaged loader cannot resolve nginx's libraries:"$'\n'"$listed"
copy "$LOADER"
while read -r line; do
  # "libz.so.1 => /staging/lib/x86_64-linux-gnu/libz.so.1 (0x...)", or the
  # loader "/lib64/ld-linux-x86-64.so.2 (0x...)", or "linux-vdso.so.1 (0x...)".
  [[ $line == *"=> "* ]] || continue
  path=${line#*=> } path=${path%% (*}
  [[ $path == "$staging"/* ]] || die "nginx needs $line, which no downloaded package (${libs[*]}) provides"
  copy "${path#"$staging"}"
  log "library ${path#"$staging"}"
done <<<"$listed"

mkdir -p "$tmp/etc/nginx/conf.d" "$tmp/usr/share/nginx/html"
for f in mime.types fastcgi.conf fastcgi_params proxy_params scgi_params uwsgi_params koi-utf koi-win win-utf; do
  cp -a "$staging/etc/nginx/$f" "$tmp/etc/nginx/$f"
done
cp -a "$staging/usr/share/nginx/html/index.html" "$tmp/usr/share/nginx/html/"

cat >"$tmp/etc/nginx/nginx.conf" <<'EOF'
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

cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
www-data:x:33:33:www-data:/var/www:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$tmp/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nobody:x:65534:
nonroot:x:65532:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$tmp/etc/nsswitch.conf"
chmod 0644 "$tmp/etc/passwd" "$tmp/etc/group" "$tmp/etc/nsswitch.conf" "$tmp/etc/nginx/nginx.conf"

rm -rf "$DIR/rootfs" "$staging"
mv "$tmp" "$DIR/rootfs"
for p in nginx nginx-common "${libs[@]}"; do printf '%s %s\n' "$p" "$(dpkg-deb -f "$(deb "$p")" Version)"; done >"$DIR/rootfs.ok"
log "$DIR/rootfs: $(du -sh "$DIR/rootfs" | cut -f1), nginx $(dpkg-deb -f "$(deb nginx)" Version)"
