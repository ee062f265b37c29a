"""deploy/k8s agrees with the code, the image and the security model, checked offline.

Each overlay is rendered with ``kubectl kustomize`` (what ``kubectl apply -k`` would send) and
checked as data: the probes ask /live and /ready on the service's port, every pod meets the
"restricted" Pod Security profile, the consumers have a disruption budget, no Secret value is
in git, every variable a service gets is a field of its Settings (pydantic-settings ignores a
misspelt one silently), and the cluster overlay configures cluster mode. Skipped only where
kubectl is missing. The Redis commands themselves run in tests/integration/test_k8s_redis.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers.k8s import (
    K8S,
    OVERLAYS,
    ROOT,
    SECRET,
    Object,
    config_map,
    container,
    containers,
    environment,
    objects,
    one,
    pod_spec,
    render,
    resolve,
    secret_refs,
    workloads,
)
from tests.helpers.settings import CONSUMERS, SETTINGS, default_port, setting_names

OVERLAY = pytest.mark.parametrize("overlay", OVERLAYS)
SERVICES = pytest.mark.parametrize("name", list(SETTINGS))
NAMESPACE = "event-driven-reference"
# The release whose schemas kubernetes-validate checks against (as scripts/check_k8s.sh).
K8S_VERSION = "1.32.0"
# OpenTelemetry's SDK reads these itself (the specification's environment variables); any
# other OTEL_* name would be a typo nobody notices.
OTEL_STANDARD = {
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
}
# What the cluster overlay must configure, as the services' Settings read it.
MODE: dict[str, dict[str, object]] = {
    "standalone": {"redis_mode": "standalone", "stream_partitions": 1},
    "cluster": {
        "redis_mode": "cluster",
        "stream_partitions": 3,
        "redis_min_replicas_ack": 1,
        "redis_wait_ms": 200,
    },
}


def service_container(overlay: str, name: str) -> Object:
    return container(one(overlay, "Deployment", name), "service")


def http_port(overlay: str, name: str) -> int:
    (port,) = [p for p in service_container(overlay, name)["ports"] if p["name"] == "http"]
    return int(port["containerPort"])


def stand_in(key: str) -> str:
    """A value for a Secret's key, of the shape render-acl.sh accepts (letters and digits)."""
    return "checkonly" + re.sub(r"[^a-z0-9]", "", key.lower())


def resolved_environment(overlay: str, name: str) -> dict[str, str]:
    """The service's environment as its process sees it, with stand-ins for the Secret."""
    spec = service_container(overlay, name)
    secret = {key: stand_in(key) for _, key in secret_refs(spec).values()}
    return resolve(overlay, spec, secret)


def image_user() -> tuple[int, int]:
    """services/Dockerfile's ``USER uid:gid``."""
    (user,) = re.findall(
        r"^USER (\d+):(\d+)$", (ROOT / "services" / "Dockerfile").read_text(), re.M
    )
    return int(user[0]), int(user[1])


def kustomization(path: Path) -> Object:
    data: Object = yaml.safe_load((path / "kustomization.yaml").read_text())
    return data


def compose_redis() -> Object:
    redis: Object = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]
    return redis


# ---- valid Kubernetes ----


@OVERLAY
def test_overlay_is_valid_kubernetes(overlay: str) -> None:
    # Strict: an unknown or misspelt field fails; a kind without a schema is only a warning
    # there, and a failure here.
    manifest = yaml.safe_dump_all(render(overlay))
    validate = Path(sys.executable).parent / "kubernetes-validate"
    argv = [str(validate), "-k", K8S_VERSION, "--strict", "--quiet", "-"]
    result = subprocess.run(argv, input=manifest, capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@OVERLAY
def test_everything_is_in_the_namespace_that_enforces_the_restricted_profile(overlay: str) -> None:
    namespace = one(overlay, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in render(overlay):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


# ---- the services ----


@OVERLAY
@SERVICES
def test_service_port_is_its_settings_default_everywhere(overlay: str, name: str) -> None:
    port = default_port(name)
    assert http_port(overlay, name) == port
    assert resolved_environment(overlay, name)["PORT"] == str(port)
    service = one(overlay, "Service", name)
    (published,) = service["spec"]["ports"]
    assert (published["port"], published["targetPort"]) == (port, "http")
    pod_labels = one(overlay, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@OVERLAY
@SERVICES
def test_liveness_asks_live_and_readiness_asks_ready_on_the_service_port(
    overlay: str, name: str
) -> None:
    spec = service_container(overlay, name)
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    expected = {"livenessProbe": "/live", "startupProbe": "/live", "readinessProbe": "/ready"}
    for probe, path in expected.items():
        get = spec[probe]["httpGet"]
        assert get["path"] == path, probe
        assert ports.get(get["port"], get["port"]) == default_port(name), probe


@OVERLAY
@SERVICES
def test_service_image_is_named_in_kustomize_images(overlay: str, name: str) -> None:
    # Retagging happens in one place: the base's `images:`. The Deployment names the image
    # without a tag; the rendered one has the tag from there.
    images = {image["name"]: image for image in kustomization(K8S / "base")["images"]}
    image = images[f"event-driven-reference/{name}"]
    assert service_container(overlay, name)["image"] == f"{image['name']}:{image['newTag']}"
    raw = yaml.safe_load_all((K8S / "base" / f"{name}.yaml").read_text())
    (deployment,) = [doc for doc in raw if doc["kind"] == "Deployment"]
    (own,) = deployment["spec"]["template"]["spec"]["containers"]
    assert own["image"] == image["name"]


@OVERLAY
@SERVICES
def test_every_variable_is_a_settings_field_or_a_standard_otel_one(overlay: str, name: str) -> None:
    env = environment(overlay, service_container(overlay, name))
    # A variable that exists only to be put into another one ($(REDIS_PASSWORD) in REDIS_URL).
    expanded_only = {
        ref
        for value in env.values()
        if isinstance(value, str)
        for ref in re.findall(r"\$\((\w+)\)", value)
    }
    unknown = set(env) - setting_names(name) - OTEL_STANDARD - expanded_only
    assert not unknown, f"{name} gets variables its Settings do not read: {unknown}"
    assert not expanded_only & setting_names(name)


@OVERLAY
@SERVICES
def test_settings_accept_what_the_pod_gets(
    overlay: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in resolved_environment(overlay, name).items():
        monkeypatch.setenv(key, value)
    settings: Any = SETTINGS[name]()
    assert (settings.host, settings.port) == ("0.0.0.0", default_port(name))
    assert settings.log_format == "json"
    for field, expected in MODE[overlay].items():
        assert getattr(settings, field) == expected, field


@OVERLAY
@SERVICES
def test_redis_url_carries_the_service_own_password_from_the_secret(
    overlay: str, name: str
) -> None:
    spec = service_container(overlay, name)
    names = [var["name"] for var in spec["env"]]
    # $(VAR) expands only variables defined before it.
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    assert secret_refs(spec)["REDIS_PASSWORD"] == (SECRET, f"{name.upper()}_REDIS_PASSWORD")
    url = urlsplit(resolved_environment(overlay, name)["REDIS_URL"])
    assert (url.username, url.password) == (name, stand_in(f"{name.upper()}_REDIS_PASSWORD"))
    assert (url.hostname, url.port, url.path) == ("redis", 6379, "/0")
    (redis_port,) = one(overlay, "Service", "redis")["spec"]["ports"][:1]
    assert redis_port["port"] == 6379


@OVERLAY
@SERVICES
def test_services_call_each_other_through_their_services(overlay: str, name: str) -> None:
    env = resolved_environment(overlay, name)
    for target in SETTINGS:
        if f"{target.upper()}_URL" in env:
            url = urlsplit(env[f"{target.upper()}_URL"])
            assert (url.hostname, url.port) == (target, default_port(target))
            one(overlay, "Service", target)


@OVERLAY
@pytest.mark.parametrize("name", CONSUMERS)
def test_consumer_has_a_disruption_budget_that_keeps_one_running(overlay: str, name: str) -> None:
    deployment = one(overlay, "Deployment", name)
    replicas = deployment["spec"]["replicas"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    (budget,) = [
        pdb
        for pdb in objects(overlay, "PodDisruptionBudget")
        if pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ]
    assert replicas >= 2
    spec = budget["spec"]
    if "maxUnavailable" in spec:
        assert 1 <= spec["maxUnavailable"] < replicas
    else:
        assert 1 <= spec["minAvailable"] < replicas


# ---- every pod: the restricted profile, resources, no Secret values ----


@OVERLAY
def test_every_pod_runs_as_non_root_read_only_without_privileges(overlay: str) -> None:
    uid, gid = image_user()
    for workload in workloads(overlay):
        spec, where = pod_spec(workload), workload["metadata"]["name"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] != 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["automountServiceAccountToken"] is False, where
        if workload["kind"] == "Deployment":  # the services: the image's own user
            assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (uid, gid, gid)
        for each in containers(workload):
            context, where = each["securityContext"], f"{where}/{each['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert "runAsUser" not in context or context["runAsUser"] != 0, where


@OVERLAY
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for workload in workloads(overlay):
        for each in containers(workload):
            resources = each["resources"]
            for kind in ("requests", "limits"):
                assert set(resources[kind]) == {"cpu", "memory"}, (each["name"], kind)


@OVERLAY
def test_no_secret_value_is_in_git(overlay: str) -> None:
    # The manifests name a Secret the user creates; a rendered Secret would carry values.
    for secret in objects(overlay, "Secret"):
        assert not secret.get("data"), secret["metadata"]
        assert not secret.get("stringData"), secret["metadata"]
    for workload in workloads(overlay):
        for each in containers(workload):
            for var, (secret_name, _) in secret_refs(each).items():
                assert secret_name == SECRET, var
            assert "envFrom" not in each or all(
                "secretRef" not in source for source in each["envFrom"]
            )


def test_docs_create_the_secret_with_every_key_the_manifests_use() -> None:
    used = {
        key
        for overlay in OVERLAYS
        for workload in workloads(overlay)
        for each in containers(workload)
        for _, key in secret_refs(each).values()
    }
    docs = (ROOT / "docs" / "kubernetes.md").read_text()
    command = re.search(rf"kubectl .*create secret generic {SECRET}(?:.*\\\n)*.*", docs)
    assert command, "docs/kubernetes.md shows the kubectl create secret command"
    assert set(re.findall(r"--from-literal=(\w+)=", command.group(0))) == used


# ---- Redis ----


@OVERLAY
def test_redis_is_the_release_compose_runs(overlay: str) -> None:
    for each in containers(one(overlay, "StatefulSet", "redis")):
        assert each["image"] == compose_redis()["image"]


@OVERLAY
def test_redis_renders_the_repository_acl_with_every_password(overlay: str) -> None:
    redis = one(overlay, "StatefulSet", "redis")
    (init,) = pod_spec(redis)["initContainers"]
    # The same files as compose mounts, byte for byte, and every user's password, as compose
    # mounts one credentials volume per user at /run/secrets/<user> (redis-acl/start-redis.sh).
    acl = config_map(overlay, "redis-acl")
    for file in ("users.acl", "render-acl.sh"):
        assert acl[file] == (ROOT / "redis-acl" / file).read_text()
    users = [
        str(volume).split(":")[1].removeprefix("/run/secrets/")
        for volume in compose_redis()["volumes"]
        if ":/run/secrets/" in str(volume)
    ]
    passwords = {f"{user.upper()}_REDIS_PASSWORD" for user in users}
    assert len(passwords) == 5
    assert secret_refs(init) == {var: (SECRET, var) for var in passwords}
    assert "sh /etc/redis-acl/render-acl.sh /etc/redis-acl/users.acl /run/redis/users.acl" in (
        " ".join(init["command"])
    )
    server = container(redis, "redis")
    assert server["command"][server["command"].index("--aclfile") + 1] == "/run/redis/users.acl"


@OVERLAY
def test_redis_keeps_an_append_only_file_on_its_own_volume(overlay: str) -> None:
    redis = one(overlay, "StatefulSet", "redis")
    command = container(redis, "redis")["command"]
    option = {command[i]: command[i + 1] for i in range(len(command) - 1) if command[i][:2] == "--"}
    assert (option["--appendonly"], option["--dir"]) == ("yes", "/data")
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {m["mountPath"]: m["name"] for m in container(redis, "redis")["volumeMounts"]}
    assert mounts["/data"] == claim["metadata"]["name"]


def test_cluster_overlay_runs_six_cluster_nodes_behind_a_headless_service() -> None:
    redis = one("cluster", "StatefulSet", "redis")
    assert redis["spec"]["replicas"] == 6
    command = container(redis, "redis")["command"]
    assert command[command.index("--cluster-enabled") + 1] == "yes"
    # nodes.conf on the node's own volume: a restarted node keeps its identity.
    assert command[command.index("--cluster-config-file") + 1].startswith("/data/")
    service = one("cluster", "Service", redis["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_cluster_job_forms_the_cluster_from_every_node() -> None:
    redis = one("cluster", "StatefulSet", "redis")
    (job,) = objects("cluster", "Job")
    (create,) = containers(job)
    script = " ".join(create["command"])
    assert "cli --cluster create $addresses --cluster-replicas 1 --cluster-yes" in script
    # One address per pod, by its stable name (<pod>.<service>).
    pods = [f"redis-{i}.{redis['spec']['serviceName']}:6379" for i in range(6)]
    assert environment("cluster", create)["REDIS_NODES"].split() == pods


def test_standalone_overlay_leaves_cluster_mode_off() -> None:
    assert not objects("standalone", "Job")
    assert one("standalone", "StatefulSet", "redis")["spec"]["replicas"] == 1
    assert "REDIS_MODE" not in config_map("standalone", "service-config")
