#!/usr/bin/env bash
# Builds the default rental image `compute/session:latest` offline (no registry): a Debian bookworm rootfs
# made by debootstrap from the same Debian mirror the host's apt uses, then `docker import`ed.
#
#   tools/docker/build-base-image.sh          # build unless an image with the same recipe hash exists
#   FORCE=1 tools/docker/build-base-image.sh  # rebuild anyway
#
# Needs root, debootstrap, docker CLI and a dockerd at $DOCKER_HOST (default: the private one from
# tools/docker/dockerd.sh). Measured here: ~40 s build, ~120 MB image.
#
# The image: bash, coreutils, procps, python3, ca-certificates, openssh-sftp-server (the node's SSH
# server runs /usr/lib/openssh/sftp-server inside the container for `sftp` and `scp`). CMD `sleep infinity`;
# the node runs it with HostConfig.Init (docker-init as PID 1 reaps zombies and forwards signals).
set -euo pipefail
cd "$(dirname "$0")"

IMAGE="${COMPUTE_SESSION_IMAGE:-compute/session:latest}"
SUITE=bookworm
PACKAGES=procps,openssh-sftp-server,ca-certificates,python3,less
RECIPE_VERSION=1 # bump when the post-processing below changes

[ "$(id -u)" = 0 ] || { echo "build-base-image.sh: must run as root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-base-image.sh: apt-get install -y debootstrap" >&2; exit 1; }
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/compute-docker/docker.sock}"

# The host's Debian mirror (deb822 `URIs:` or one-line `deb URL SUITE`), not the security archive.
mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local m
  m="$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)"
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR="$(mirror)"

# One build at a time (parallel test files); the second one then finds the image up to date.
exec 9>"/var/tmp/compute-build-base-image.lock"
flock 9

RECIPE_HASH="$(printf '%s\n' "$RECIPE_VERSION" "$SUITE" "$PACKAGES" | sha256sum | cut -c1-16)"
existing="$(docker image inspect --format '{{ index .Config.Labels "compute.recipe" }}' "$IMAGE" 2>/dev/null || true)"
if [ "${FORCE:-0}" != 1 ] && [ "$existing" = "$RECIPE_HASH" ]; then
  echo "build-base-image.sh: $IMAGE is up to date (recipe $RECIPE_HASH)"
  exit 0
fi

start=$(date +%s)
work="$(mktemp -d /var/tmp/compute-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

echo "build-base-image.sh: debootstrap $SUITE from $MIRROR (packages: $PACKAGES)"
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 40 "$work/debootstrap.log" >&2
  cat "$rootfs/debootstrap/debootstrap.log" 2>/dev/null | tail -n 40 >&2 || true
  exit 1
fi

# Slim it: package caches, lists, docs, man pages, translations (and keep future installs slim too).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-compute-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/01-compute-no-recommends"
# Docker manages these per container.
: >"$rootfs/etc/hostname"
rm -f "$rootfs/etc/resolv.conf"
printf 'compute session image, recipe %s\n' "$RECIPE_HASH" >"$rootfs/etc/compute-session"

tar --numeric-owner --xattrs -C "$rootfs" -c . |
  docker import \
    --change 'CMD ["sleep","infinity"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /root' \
    --change "LABEL compute.recipe=$RECIPE_HASH" \
    --change "LABEL compute.image=session" \
    --message "debootstrap $SUITE minbase + $PACKAGES" \
    - "$IMAGE" >/dev/null

size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
echo "build-base-image.sh: built $IMAGE (recipe $RECIPE_HASH) in $(($(date +%s) - start)) s, $((size / 1000000)) MB"
