#!/usr/bin/env bash
# A Debian base image with Python 3, built from Debian's packages alone: for machines that
# reach a Debian mirror but no container registry (the Dockerfile's default base,
# python:3.11-slim, needs one). debootstrap --variant=minbase, then `docker import`.
#
#   scripts/base_image.sh [TAG]          # default newswatch-base:<release>; prints the tag
#   BASE_IMAGE=$(scripts/base_image.sh) scripts/build_image.sh
#
# An image already tagged TAG is kept ("cached"); REBUILD=1 builds it anew. Progress goes
# to stderr, the tag to stdout.
# DEBIAN_RELEASE: default this machine's release (bookworm: Python 3.11, as python:3.11-slim).
# DEBIAN_MIRROR: default the first Debian archive in this machine's apt sources. Whatever
# mirror is used, the image's sources.list names the public deb.debian.org, so nothing of
# this machine's package setup is written into the image. Needs root, debootstrap, docker.
set -euo pipefail

DOCKER=${DOCKER:-docker}
PUBLIC_MIRROR=http://deb.debian.org/debian

host_release() {
  (. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && echo "${VERSION_CODENAME:-}") || true
}

host_mirror() {
  # The first Debian archive (not the security one) in apt's sources, deb822 or one-line.
  cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -Eo '(https?|file)://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true
}

RELEASE=${DEBIAN_RELEASE:-$(host_release)}
RELEASE=${RELEASE:-bookworm}
TAG=${1:-newswatch-base:$RELEASE}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}
MIRROR=${MIRROR:-$PUBLIC_MIRROR}

if [ "${REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG: cached (REBUILD=1 builds it anew)" >&2
  echo "$TAG"
  exit 0
fi
for tool in debootstrap "$DOCKER"; do
  command -v "$tool" >/dev/null || { echo "base_image.sh: $tool not found (apt-get install debootstrap docker.io)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "base_image.sh: debootstrap needs root" >&2; exit 2; }

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-rootfs.XXXXXX")
trap 'rm -rf "$ROOTFS"' EXIT
started=$(date +%s)
echo "base image $TAG: debootstrap $RELEASE from $MIRROR" >&2
# python3-venv: the image installs into a virtualenv (Debian's system Python refuses pip).
# passwd: useradd for the image's own user. tzdata, netbase, ca-certificates: as in python:slim.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata,netbase,passwd \
  "$RELEASE" "$ROOTFS" "$MIRROR" > "$ROOTFS.log" 2>&1 \
  || { tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"

# The image names the public mirror only, and carries no package lists, caches or docs.
printf 'deb %s %s main\n' "$PUBLIC_MIRROR" "$RELEASE" > "$ROOTFS/etc/apt/sources.list"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
  "$ROOTFS"/var/log/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache

tar --numeric-owner -C "$ROOTFS" -c . | "$DOCKER" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "$TAG" > /dev/null
size=$("$DOCKER" image inspect -f '{{.Size}}' "$TAG")
echo "base image $TAG: built in $(( $(date +%s) - started )) s, $(( size / 1000000 )) MB" >&2
echo "$TAG"
