#!/usr/bin/env bash
# The container tier (`make test-container`, the last part of `make test`): a Docker
# engine, a base image made from Debian's packages (no image registry is reachable from CI
# machines), deploy/Dockerfile built on it, then tests/container against that image.
# .ci/run installs Debian's docker.io and debootstrap; a developer runs this as root (to
# start dockerd) or with an engine that already answers.
#
# A machine where no engine can run fails here, loudly: the container tier never skips.
# Everything slow is cached under $THUNDERLINE_CI_CACHE: the engine's data (so the image's
# dependency layer is reused) and the base image's root filesystem, keyed by a hash of what
# goes into it.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${THUNDERLINE_CI_CACHE:-/var/cache/thunderline-ci}
IMAGE=${THUNDERLINE_IMAGE:-thunderline-reconciler:ci}
SUITE=bookworm
# Everything both stages of deploy/Dockerfile need, so that its apt-get step finds them
# installed and skips the network (python3-venv only matters to the build stage).
BASE_PACKAGES=python3,python3-venv,ca-certificates,git,openssh-client,tini,libnss-wrapper

log() { printf '\n=== %s\n' "$*"; }
fail() {
  printf 'container stage: %s\n' "$*" >&2
  exit 1
}

PY=${PY:-.venv/bin/python}

STARTED_ENGINE=""
ensure_engine() {
  # An engine that already answers (the developer's own, another stage's) is used as is.
  if docker info >/dev/null 2>&1; then return; fi
  command -v dockerd >/dev/null || fail "no Docker engine: apt-get install docker.io (.ci/run does)"
  log "starting dockerd (data in $CACHE/docker)"
  mkdir -p "$CACHE/docker"
  dockerd --data-root "$CACHE/docker" --pidfile "$CACHE/dockerd.pid" \
    >"$CACHE/dockerd.log" 2>&1 &
  STARTED_ENGINE=$!
  trap stop_engine EXIT
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    kill -0 "$STARTED_ENGINE" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$CACHE/dockerd.log" >&2 || true
  fail "no usable Docker engine (dockerd did not come up; log above)"
}

stop_engine() {
  [ -n "$STARTED_ENGINE" ] || return 0
  kill "$STARTED_ENGINE" 2>/dev/null || true
  wait "$STARTED_ENGINE" 2>/dev/null || true
}

base_key() {
  # The host's extra CA certificates go into the base (HTTPS from a build may pass an
  # intercepting proxy that only they make trusted), so they are part of the key too.
  { echo "$SUITE $BASE_PACKAGES"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } \
    | sha256sum | cut -c1-12
}

ensure_base() {
  BASE_IMAGE="thunderline-base:$SUITE-$(base_key)"
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  local tarball="$CACHE/base/${BASE_IMAGE#thunderline-base:}.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || fail "apt-get install debootstrap (.ci/run does)"
    log "debootstrap $SUITE ($BASE_PACKAGES)"
    local rootfs="$CACHE/base/rootfs.tmp"
    rm -rf "$rootfs" && mkdir -p "$rootfs"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" >/dev/null
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" \
      2>/dev/null || true
    chroot "$rootfs" update-ca-certificates >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  log "docker import $BASE_IMAGE"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

build_image() {
  log "docker build $IMAGE (FROM $BASE_IMAGE)"
  # PIP_CERT: pip's own CA bundle lacks the host's extra CAs that the base image trusts.
  docker build -q -f deploy/Dockerfile -t "$IMAGE" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" \
    --build-arg PIP_CERT=/etc/ssl/certs/ca-certificates.crt . >/dev/null
  docker image inspect "$IMAGE" --format 'image {{.Id}}: {{.Size}} bytes'
}

mkdir -p "$CACHE/base"
began=$SECONDS
ensure_engine
ensure_base
build_image
log "image ready in $((SECONDS - began))s; tests/container"
THUNDERLINE_IMAGE="$IMAGE" "$PY" -m pytest -m container tests/container
log "container tier took $((SECONDS - began))s"
