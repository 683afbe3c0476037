#!/usr/bin/env bash
# make manifests: one install file per overlay, with hotreload's images pinned
# by digest, from the digests `make push` wrote:
#
#   hack/release-manifests.sh DIGESTS IMAGE_REPO IMAGE_TAG DIST KUBECTL
#
# For each overlay it writes a kustomization under bin/manifests/OVERLAY whose
# images: name IMAGE_REPO/webhook and IMAGE_REPO/reloader by tag and digest,
# and `kubectl kustomize`s it into DIST:
#   - hotreload-IMAGE_TAG.yaml from deploy/default (cert-manager installs the
#     certificates): the file to publish;
#   - hotreload-IMAGE_TAG-selfsigned.yaml from deploy/selfsigned, only when its
#     certificates are there (make certs): it holds the webhook's private key,
#     so it is for the cluster those certificates were made for, never to publish.
set -euo pipefail

digests=$1 repo=$2 tag=$3 dist=$4 kubectl=$5
root=$(cd "$(dirname "$0")/.." && pwd)

# digest_of NAME: the digest pushed for REPO/NAME:TAG, from the digests file.
digest_of() {
  local ref="$repo/$1:$tag" d
  d=$(awk -v ref="$ref@" 'index($0, ref) == 1 { print substr($0, length(ref) + 1) }' "$digests" 2>/dev/null | tail -1)
  if [[ -z $d ]]; then
    echo "make manifests: no digest for $ref in $digests: run make push IMAGE_REPO=$repo IMAGE_TAG=$tag first" >&2
    exit 1
  fi
  echo "$d"
}
webhook=$(digest_of webhook)
reloader=$(digest_of reloader)

# build OVERLAY OUT [HEADER]: deploy/OVERLAY with the pinned images into OUT.
build() {
  local overlay=$1 out=$2 header=${3:-} dir=$root/bin/manifests/$1
  mkdir -p "$dir"
  cat >"$dir/kustomization.yaml" <<YAML
# Written by make manifests: deploy/$overlay with the images pushed as $repo/*:$tag.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../deploy/$overlay
images:
  - name: hotreload/webhook
    newName: $repo/webhook
    newTag: "$tag"
    digest: $webhook
  - name: hotreload/reloader
    newName: $repo/reloader
    newTag: "$tag"
    digest: $reloader
YAML
  {
    [[ -z $header ]] || printf '%s\n' "$header"
    "$kubectl" kustomize "$dir"
  } >"$out.tmp"
  mv "$out.tmp" "$out"
  echo "$out"
}

mkdir -p "$dist"
build default "$dist/hotreload-$tag.yaml"
if [[ -f $root/deploy/selfsigned/certs/secret.yaml ]]; then
  build selfsigned "$dist/hotreload-$tag-selfsigned.yaml" \
    "# Holds the webhook's private key (deploy/selfsigned/certs): for the cluster it was made for; never publish it."
else
  echo "no deploy/selfsigned/certs (make certs): skipped hotreload-$tag-selfsigned.yaml"
fi
