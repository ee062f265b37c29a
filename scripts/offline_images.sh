#!/usr/bin/env bash
# Stand-ins for the base images that services/Dockerfile and the compose files name, for a Docker
# engine that can reach no image registry (the machines this project is built on: see
# docs/containers.md). For each image: present → nothing; pullable → pulled; else a stand-in is
# built from Debian packages under the same tag, with the label `reference.stand-in` saying so.
# On a machine with a registry this script changes nothing but what `docker pull` would.
#
#   bash scripts/offline_images.sh            # run as root (debootstrap), from the repository root
#
# What each stand-in is (tests/unit/test_compose.py checks that every image the files name is
# here, and that nothing else is):
#   python:3.11.17-slim-bookworm   Debian bookworm's python3.11 (3.11.2), linked into
#                                  /usr/local/bin as the official image has it
#   ghcr.io/astral-sh/uv:0.13.9    /uv and /uvx from the PyPI wheel (SHA-256 checked by
#                                  scripts/install_uv.py), in an image of nothing else
#   redis:7.0.15                   Debian bookworm's redis-server 7.0.15, user redis (999:999),
#                                  /data, as the official image has them
# Mailpit, Jaeger and Grafana have no Debian package: the extras' profiles need a registry.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_IMAGE=python:3.11.17-slim-bookworm
UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9
REDIS_IMAGE=redis:7.0.15
# The Debian root every stand-in but uv's starts from (never pulled: made here).
BASE_IMAGE=reference-standin/debian:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LABEL='reference.stand-in="built by scripts/offline_images.sh from Debian packages, not the official image"'

log() { printf 'offline-images | %s\n' "$*"; }

have() { docker image inspect "$1" >/dev/null 2>&1; }

# True when the image is here afterwards without a stand-in: present, or pulled now.
present_or_pulled() {
    if have "$1"; then
        log "$1: present"
        return 0
    fi
    if docker pull -q "$1" >/dev/null 2>&1; then
        log "$1: pulled"
        return 0
    fi
    return 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

debian_base() {
    have "$BASE_IMAGE" && return 0
    command -v debootstrap >/dev/null || {
        log "debootstrap is missing (apt-get install -y debootstrap)"
        exit 1
    }
    log "$BASE_IMAGE: debootstrap bookworm (about a minute)"
    debootstrap --variant=minbase --include=ca-certificates,passwd bookworm "$work/root" \
        "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
        tail -n 20 "$work/debootstrap.log"
        exit 1
    }
    # The host's extra CAs (an intercepting proxy's, where there is one): a build on a stand-in
    # downloads its Python packages through the same network as this host. Stand-ins only.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$work/root/usr/local/share/ca-certificates/"
        chroot "$work/root" update-ca-certificates >/dev/null
    fi
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
    tar -C "$work/root" -c . | docker import \
        --change "LABEL $LABEL" --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
    rm -rf "$work/root"
}

# build <tag> <dockerfile text> [context dir]
build() {
    local context=${3:-$work/empty}
    mkdir -p "$context"
    log "$1: building a stand-in"
    printf '%s\n' "$2" | docker build -q -t "$1" -f - "$context" >/dev/null
}

# apt inside a stand-in's build: no service started, no recommends, lists dropped afterwards.
APT='printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
APT="$APT && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends"
APT_DONE='&& rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d'

if ! present_or_pulled "$PYTHON_IMAGE"; then
    debian_base
    build "$PYTHON_IMAGE" "FROM $BASE_IMAGE
LABEL $LABEL
RUN $APT python3.11 $APT_DONE \\
    && ln -s /usr/bin/python3.11 /usr/local/bin/python3.11 \\
    && ln -s python3.11 /usr/local/bin/python3 && ln -s python3.11 /usr/local/bin/python
ENV LANG=C.UTF-8 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD [\"python3\"]"
fi

if ! present_or_pulled "$UV_IMAGE"; then
    python3 scripts/install_uv.py "$work/uv" >/dev/null
    build "$UV_IMAGE" "FROM scratch
LABEL $LABEL
COPY uv uvx /" "$work/uv"
fi

if ! present_or_pulled "$REDIS_IMAGE"; then
    debian_base
    build "$REDIS_IMAGE" "FROM $BASE_IMAGE
LABEL $LABEL
RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid redis --home-dir /data redis \\
    && $APT redis-server $APT_DONE \\
    && mkdir -p /data && chown redis:redis /data
VOLUME /data
WORKDIR /data
EXPOSE 6379
CMD [\"redis-server\"]"
fi
log "done"
