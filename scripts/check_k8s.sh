#!/usr/bin/env bash
# Offline checks of deploy/k8s: renders every overlay with `kubectl kustomize` and validates
# the result against the Kubernetes API's schemas with kubernetes-validate (from .venv, pinned
# by uv.lock), strictly: an unknown or misspelt field fails, as a wrong type does. No cluster
# and no real secrets needed (the manifests name a Secret, they hold none). Run from the
# repository root (`make lint` calls it). tests/unit/test_k8s.py checks what the files say.
set -euo pipefail

VENV=${VENV:-.venv}
# The schemas of the Kubernetes release the manifests are written for (kubernetes-validate
# ships one set per minor release).
K8S_VERSION=1.32.0

# kubectl is no Python package, and no Debian 12 package has a usable one (its
# `kubernetes-client` is 1.20, whose kustomize is too old for these files): on a machine
# without kubectl, say so and skip, rather than fail every machine that never deploys to
# Kubernetes. One that has kubectl must have a recent enough one.
if ! command -v kubectl >/dev/null; then
    echo "SKIP deploy/k8s: kubectl is not installed (1.27 or later: https://kubernetes.io/docs/tasks/tools/)"
    exit 0
fi
kustomize=$(kubectl version --client -o json 2>/dev/null |
    "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin).get("kustomizeVersion", ""))')
if [[ ! $kustomize =~ ^v([5-9]|[1-9][0-9])\. ]]; then
    echo "FAIL deploy/k8s: kubectl bundles kustomize '${kustomize:-unknown}'; the overlays need v5 or later (kubectl 1.27 or later)"
    exit 1
fi

failed=0
for overlay in deploy/k8s/overlays/*/; do
    overlay=${overlay%/}
    if ! rendered=$(kubectl kustomize "$overlay" 2>&1); then
        echo "FAIL kubectl kustomize $overlay"
        sed 's/^/     /' <<<"$rendered"
        failed=1
        continue
    fi
    # kubernetes-validate only warns (exit 0) about a kind it has no schema for, such as a
    # misspelt one: any line it prints under --quiet is a failure here.
    if out=$("$VENV/bin/kubernetes-validate" --kubernetes-version "$K8S_VERSION" --strict --quiet - \
        <<<"$rendered" 2>&1) && [[ -z $out ]]; then
        echo "ok   kubernetes-validate $K8S_VERSION --strict: $overlay"
    else
        echo "FAIL kubernetes-validate $K8S_VERSION --strict: $overlay"
        sed 's/^/     /' <<<"$out"
        failed=1
    fi
done
exit "$failed"
