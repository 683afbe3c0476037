# The root filesystem of a test image from Debian's packages, without Docker, a
# registry or installing anything on this machine: what
# hack/cluster/{nginx,haproxy,apache,php-fpm,prometheus}-rootfs.sh share.
# Sourced, not run; each of them says only what is particular to its server
# (packages, binaries, modules, config files), make images-local adds the tree
# to the image as one layer with hack/tools/imagebuild.
# shellcheck shell=bash
#
# The server's script sets NAME (its messages' prefix) and DIR, sources this
# file, then calls, in this order:
#
#   deb_packages PKG...  apt-get download PKG... and the shared-library
#                        packages they depend on (lib*, zlib*), theirs, and so
#                        on, into DIR/debs; PACKAGES lists them all, PKG... first
#   deb_stage            every package of PACKAGES extracted (dpkg-deb -x, no
#                        maintainer script runs) into DIR/staging; the new
#                        tree, DIR/rootfs.tmp, is $ROOTFS
#   rootfs_elf PATH...   these executables or shared objects (an Apache
#                        module) copied from the staging tree, with the dynamic
#                        loader and exactly the libraries the packaged loader
#                        lists for each (ld.so --list); a static one alone. A
#                        library opened at run time (dlopen) is listed by no
#                        loader: name it here too
#   rootfs_copy PATH...  these files of the staging tree as they are (a symlink
#                        with the file it links to)
#   rootfs_file PATH     a file written from standard input (a config, mode
#                        0644)
#   rootfs_users         /etc/passwd, /etc/group, /etc/nsswitch.conf
#   rootfs_done          DIR/rootfs replaced by the new tree, DIR/rootfs.ok
#                        written last, with the package versions: make's target
#
#   DIR/debs/  kept: a package already there is not downloaded again (delete
#              DIR to take newer ones)

umask 022 # the image keeps these modes: its user must read and traverse

: "${NAME:?set NAME before sourcing deb-rootfs-lib.sh}" "${DIR:?set DIR before sourcing deb-rootfs-lib.sh}"
DEBS=$DIR/debs
STAGING=$DIR/staging
ROOTFS=$DIR/rootfs.tmp
ARCH=x86_64-linux-gnu
LOADER=/lib64/ld-linux-x86-64.so.2
PACKAGES=()

log() { printf '[%s-rootfs] %s\n' "$NAME" "$*"; }
die() {
  printf '[%s-rootfs] error: %s\n' "$NAME" "$*" >&2
  exit 1
}

for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool not found: this script takes $NAME from Debian's packages"
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
# the first of each set of alternatives, without versions. libjs-* are
# JavaScript (Prometheus' web UI), not shared objects: never followed.
lib_depends() {
  dpkg-deb -f "$1" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
    grep -E '^(lib|zlib)' | grep -v '^libjs-' || true
}

# deb_packages PKG...: PKG... and the library packages they depend on, and
# theirs, until no new one appears, downloaded; PACKAGES lists them all. The
# closure may hold more than the image needs (rootfs_elf takes only what the
# loader lists): a package it misses is one a binary would fail without.
deb_packages() {
  local todo="" next p q libs=()
  download "$@"
  for p in "$@"; do
    for q in $(lib_depends "$(deb "$p")"); do
      [[ " $todo " == *" $q "* ]] || todo+=" $q"
    done
  done
  todo=${todo# }
  while [[ -n $todo ]]; do
    # shellcheck disable=SC2086 # a list of package names
    download $todo
    next=""
    for p in $todo; do
      [[ " $* ${libs[*]} " == *" $p "* ]] && continue
      libs+=("$p")
      for q in $(lib_depends "$(deb "$p")"); do
        [[ " ${libs[*]} $next " == *" $q "* ]] || next+=" $q"
      done
    done
    todo=${next# }
  done
  PACKAGES=("$@" "${libs[@]}")
}

# deb_stage: every package of PACKAGES extracted into STAGING, a new empty
# ROOTFS; the previous run's leftovers and DIR/rootfs.ok removed first.
deb_stage() {
  local p
  ((${#PACKAGES[@]})) || die "deb_stage before deb_packages"
  rm -rf "$ROOTFS" "$STAGING" "$DIR/rootfs.ok"
  mkdir -p "$ROOTFS" "$STAGING"
  for p in "${PACKAGES[@]}"; do
    dpkg-deb -x "$(deb "$p")" "$STAGING"
  done
}

# staged PATH: the file PATH names in the staging tree, symlinks followed
# inside that tree (/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...).
staged() {
  local p=$1 t i
  for ((i = 0; i < 10; i++)); do
    [[ -L $STAGING$p ]] || break
    t=$(readlink "$STAGING$p")
    [[ $t == /* ]] || t=$(dirname "$p")/$t
    p=$(realpath -m -s "$t")
  done
  printf '%s%s' "$STAGING" "$p"
}

# copy PATH: PATH of the staging tree into the rootfs at the same place, and
# the file it links to (libz.so.1 -> libz.so.1.2.13) when it is a symlink.
# Returns 1 when PATH was copied already.
copy() {
  local p=$1 t
  [[ -e $ROOTFS$p || -L $ROOTFS$p ]] && return 1
  [[ -e $STAGING$p || -L $STAGING$p ]] || die "no $p in the packages (${PACKAGES[*]})"
  mkdir -p "$ROOTFS$(dirname "$p")"
  cp -a "$STAGING$p" "$ROOTFS$p"
  if [[ -L $STAGING$p ]]; then
    t=$(readlink "$STAGING$p")
    [[ $t == /* ]] || t=$(dirname "$p")/$t
    copy "$(realpath -m -s "$t")" || true
  fi
}

# rootfs_copy PATH...: files of the staging tree, as they are.
rootfs_copy() {
  local p
  for p in "$@"; do copy "$p" || true; done
}

# rootfs_file PATH: standard input as the rootfs's file PATH, mode 0644.
rootfs_file() {
  mkdir -p "$ROOTFS$(dirname "$1")"
  cat >"$ROOTFS$1"
  chmod 0644 "$ROOTFS$1"
}

# rootfs_elf PATH...: executables or shared objects (modules a server loads at
# run time) of the staging tree, and what each loads. The packaged loader
# lists that, resolved in the staging tree only (ld.so --list is what ldd
# runs). Any path outside it means a package is missing: better to stop than to
# ship this machine's library. ld.so --verify (ldd's first step too) tells a
# dynamically linked file (0: an executable, 2: a shared object) from a
# static one (1): a Go binary built without cgo needs neither loader nor
# library.
rootfs_elf() {
  local p f loader verifier rc listed line path
  local libpath=$STAGING/lib/$ARCH:$STAGING/usr/lib/$ARCH
  for p in "$@"; do
    f=$(staged "$p")
    [[ -f $f ]] || die "no $p in the packages (${PACKAGES[*]})"
    [[ $(head -c 4 "$f" | od -An -c | tr -d ' ') == '177ELF' ]] || die "$p is not an ELF file"
    copy "$p" || true
    # Before any library is staged (a static binary's package needs none),
    # this machine's loader reads the headers: --verify loads nothing.
    loader=$STAGING$LOADER verifier=$LOADER
    [[ -e $loader ]] && loader=$(staged "$LOADER") verifier=$loader
    rc=0
    "$verifier" --verify "$f" >/dev/null 2>&1 || rc=$?
    case $rc in
    0 | 2) ;;
    1)
      log "$p: statically linked, no library"
      continue
      ;;
    *) die "$verifier --verify $p: exit status $rc" ;;
    esac
    [[ -e $STAGING$LOADER ]] || die "no $LOADER in the downloaded packages (${PACKAGES[*]}) for $p"
    listed=$("$loader" --inhibit-cache --library-path "$libpath" --list "$f") ||
      die "the packaged loader cannot resolve the libraries of $p:"$'\n'"$listed"
    copy "$LOADER" || true
    while read -r line; do
      # "libz.so.1 => /staging/lib/x86_64-linux-gnu/libz.so.1 (0x...)", or the
      # loader "/lib64/ld-linux-x86-64.so.2 (0x...)", or "linux-vdso.so.1 (0x...)".
      [[ $line == *"=> "* ]] || continue
      path=${line#*=> } path=${path%% (*}
      [[ $path == "$STAGING"/* ]] || die "$p needs $line, which no downloaded package (${PACKAGES[*]}) provides"
      if copy "${path#"$STAGING"}"; then log "library ${path#"$STAGING"} (for $p)"; fi
    done <<<"$listed"
  done
}

# rootfs_users: the users and groups every test image has (the base layer of
# imagebuild has root, nonroot and nobody; these add www-data, so a UID in a
# pod's securityContext has a name), and name lookups from files, then DNS.
rootfs_users() {
  rootfs_file /etc/passwd <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
www-data:x:33:33:www-data:/var/www:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  rootfs_file /etc/group <<'EOF'
root:x:0:
www-data:x:33:
nobody:x:65534:
nonroot:x:65532:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' | rootfs_file /etc/nsswitch.conf
}

# rootfs_done: the new tree in place of DIR/rootfs, the staging tree deleted,
# then DIR/rootfs.ok, one "package version" a line, the first package's first.
rootfs_done() {
  local p
  rm -rf "$DIR/rootfs" "$STAGING"
  mv "$ROOTFS" "$DIR/rootfs"
  for p in "${PACKAGES[@]}"; do printf '%s %s\n' "$p" "$(dpkg-deb -f "$(deb "$p")" Version)"; done >"$DIR/rootfs.ok"
  log "$DIR/rootfs: $(du -sh "$DIR/rootfs" | cut -f1), ${PACKAGES[0]} $(dpkg-deb -f "$(deb "${PACKAGES[0]}")" Version)"
}
