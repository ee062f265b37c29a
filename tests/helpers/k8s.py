"""deploy/k8s rendered as Kubernetes would receive it: ``kubectl kustomize <overlay>``, as data.

Only ``kubectl`` is needed (it renders offline); without it every caller is skipped, saying so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("standalone", "cluster")
# The Secret the user creates (docs/kubernetes.md); the manifests only name it.
SECRET = "event-driven-secrets"

Object = dict[str, Any]


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl is not installed: deploy/k8s cannot be rendered here")
    return path


@cache
def render(overlay: str) -> tuple[Object, ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def objects(overlay: str, kind: str) -> list[Object]:
    return [obj for obj in render(overlay) if obj["kind"] == kind]


def one(overlay: str, kind: str, name: str) -> Object:
    (found,) = [obj for obj in objects(overlay, kind) if obj["metadata"]["name"] == name]
    return found


def workloads(overlay: str) -> Iterator[Object]:
    """Everything that makes pods."""
    for obj in render(overlay):
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield obj


def pod_spec(workload: Object) -> Object:
    spec: Object = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Object) -> list[Object]:
    """Init containers too: they run with the same rights."""
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def container(workload: Object, name: str) -> Object:
    (found,) = [c for c in containers(workload) if c["name"] == name]
    return found


def config_map(overlay: str, generated: str) -> dict[str, str]:
    """A generated ConfigMap's data, found by its name before kustomize's hash suffix."""
    (found,) = [
        obj
        for obj in objects(overlay, "ConfigMap")
        if re.fullmatch(rf"{generated}-[a-z0-9]{{10}}", obj["metadata"]["name"])
    ]
    data: dict[str, str] = found["data"]
    return data


def environment(overlay: str, container_spec: Object) -> dict[str, Any]:
    """What a container is given: its ConfigMaps' keys (envFrom), then its own ``env``, each as
    its value (a string) or its ``valueFrom``."""
    env: dict[str, Any] = {}
    for source in container_spec.get("envFrom", []):
        (ref,) = [
            obj
            for obj in objects(overlay, "ConfigMap")
            if obj["metadata"]["name"] == source["configMapRef"]["name"]
        ]
        env.update(ref["data"])
    for var in container_spec.get("env", []):
        env[var["name"]] = var["value"] if "value" in var else var["valueFrom"]
    return env


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' expansion of ``env`` values, ``command`` and ``args``: ``$(VAR)`` becomes the
    value of a variable defined before (left as it is otherwise), ``$$`` a plain ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text)


def resolve(
    overlay: str, container_spec: Object, secret: Mapping[str, str], pod: str = "pod-0"
) -> dict[str, str]:
    """The container's environment as its process sees it, given the Secret's values and the
    pod's name: in order, each ``$(VAR)`` expanded; an optional key the Secret lacks is unset."""
    env: dict[str, str] = {}
    for key, value in environment(overlay, container_spec).items():
        if isinstance(value, str):
            env[key] = expand(value, env)
        elif "secretKeyRef" in value:
            ref = value["secretKeyRef"]
            assert ref["name"] == SECRET, key
            if ref["key"] in secret or not ref.get("optional"):
                env[key] = secret[ref["key"]]
        else:
            assert value == {"fieldRef": {"fieldPath": "metadata.name"}}, key
            env[key] = pod
    return env


def secret_refs(container_spec: Object) -> dict[str, tuple[str, str]]:
    """The container's variables that come from a Secret, as {variable: (secret, key)}."""
    refs = {}
    for var in container_spec.get("env", []):
        ref = var.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            refs[var["name"]] = (ref["name"], ref["key"])
    return refs
