"""docker-compose.yml agrees with services/Dockerfile and with each service's Settings.

All static: no Docker engine (tests/e2e/test_docker_*.py run the files on a real one). A
misspelt variable is otherwise silently ignored by pydantic-settings, and a port that drifts
only shows as a container that never turns healthy.
Every service is built from the one services/Dockerfile, with its package name and port as the
build arguments SERVICE and PORT; the tests expand those as BuildKit would for each service.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers.compose import (
    CLUSTER_FILE,
    COMPOSE_FILE,
    ROOT,
    SCALE_FILE,
    compose_binary,
    fresh_environment,
    merged,
)
from tests.helpers.settings import CONSUMERS, SETTINGS, default_port

DOCKERFILE = ROOT / "services" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS_CONFIG = ROOT / "observability" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "observability" / "grafana"
# What each service needs healthy before it starts: the services whose APIs it calls.
NEEDS = {
    "payments": {"redis"},
    "orders": {"redis"},
    "notifications": {"redis", "payments"},
    "console": {"redis", "payments", "orders", "notifications"},
}
SERVICES = pytest.mark.parametrize("name", list(SETTINGS))


class Reset:
    """Compose's ``!reset`` tag: the key's value from the files before is dropped."""


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader (which knows ``<<`` merge keys) plus Compose's own tags."""


ComposeLoader.add_constructor("!reset", lambda loader, node: Reset())


@cache
def load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=ComposeLoader)
    assert isinstance(data, dict)
    return data


def services() -> dict[str, Any]:
    return load(COMPOSE_FILE)["services"]


def container_port(name: str) -> int:
    """The one container port the service publishes ("HOST[-HOST]:CONTAINER[/tcp]")."""
    (mapping,) = services()[name]["ports"]
    return int(str(mapping).rsplit(":", 1)[1].removesuffix("/tcp"))


def environment(name: str) -> dict[str, str]:
    env = services()[name]["environment"]
    assert isinstance(env, dict), "environment as a mapping, so merged anchors stay readable"
    return {key: str(value) for key, value in env.items()}


Stage = list[tuple[str, str]]


@cache
def stages() -> tuple[Stage, ...]:
    """services/Dockerfile's stages, each its instructions from its FROM as (KEYWORD, arguments)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found: list[Stage] = []
    for keyword, args in re.findall(r"^\s*([A-Za-z]+)\s+(.*)$", text, re.MULTILINE):
        if keyword.upper() == "FROM":
            found.append([])
        if found:  # the global ARG before the first FROM belongs to no stage
            found[-1].append((keyword.upper(), args.strip()))
    assert len(found) == 2, "two stages: builder and runtime"
    return tuple(found)


def builder_stage() -> Stage:
    return stages()[0]


def runtime_stage() -> Stage:
    return stages()[-1]


def instruction(stage: Stage, keyword: str) -> str:
    (args,) = [args for key, args in stage if key == keyword]
    return args


def build_args(name: str) -> dict[str, str]:
    args = services()[name]["build"]["args"]
    assert isinstance(args, dict), "build args as a mapping"
    return args


def expand(text: str, args: dict[str, str]) -> str:
    """``$VAR`` and ``${VAR}`` replaced by the build arguments, as BuildKit does in EXPOSE, ENV,
    COPY (other variables, such as $PATH, are left as they are)."""
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: args.get(m.group(1) or m.group(2), m.group(0)),
        text,
    )


def dockerfile(name: str) -> Path:
    build = services()[name]["build"]
    return ROOT / build["context"] / build["dockerfile"]


# ---- the compose file against the Dockerfiles and the Settings classes ----


@SERVICES
def test_built_from_the_one_dockerfile_with_its_name_and_port(name: str) -> None:
    build = services()[name]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT, "the workspace (uv.lock) is the context"
    assert build["dockerfile"] == "services/Dockerfile"
    assert dockerfile(name).resolve() == DOCKERFILE
    # Quoted in the file: a build argument is a string.
    assert build_args(name) == {"SERVICE": name, "PORT": str(default_port(name))}


@SERVICES
def test_service_build_arg_names_the_service_package(name: str) -> None:
    service = build_args(name)["SERVICE"]
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    assert project["project"]["name"] == service, "uv sync --package takes the project's name"
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["packages"] == [service], "python -m takes the import package's name"
    assert (ROOT / "services" / service / service / "__main__.py").is_file()
    assert SETTINGS[name].__module__ == f"{service}.config"


def test_no_service_has_a_dockerfile_of_its_own() -> None:
    # One file for all: a copy per service drifts.
    assert sorted(ROOT.glob("services/**/*Dockerfile*")) == [DOCKERFILE]
    built = {name: dockerfile(name) for name, service in services().items() if "build" in service}
    assert set(built) == set(SETTINGS)
    assert set(built.values()) == {DOCKERFILE}


def test_the_build_argument_service_reaches_the_running_container() -> None:
    # A build argument exists only while building: CMD (run by the next test) reads the ENV.
    assert "SERVICE=${SERVICE}" in instruction(runtime_stage(), "ENV").split()


def test_cmd_execs_python_which_gets_sigterm_itself(tmp_path: Path) -> None:
    """PID 1 of the container is python itself, not a shell that would swallow `docker stop`."""
    probe = tmp_path / "probe_service"
    probe.mkdir()
    (probe / "__main__.py").write_text(
        "import os, signal, sys, time\n"
        # os.write, not print: SIGTERM may land while print(pid) below is still running, and
        # a handler that prints too would re-enter stdout's buffer (RuntimeError).
        "signal.signal(signal.SIGTERM, lambda *_: (os.write(1, b'SIGTERM\\n'), sys.exit(0)))\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(30)\n"
    )
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.defpath}",  # `python`: the venv's
        "PYTHONPATH": str(tmp_path),
        "SERVICE": "probe_service",
    }
    argv = json.loads(instruction(runtime_stage(), "CMD"))
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        try:
            assert int(process.stdout.readline()) == process.pid, "the shell did not exec"
            process.send_signal(signal.SIGTERM)
            assert process.stdout.readline().strip() == "SIGTERM"
            assert process.wait(timeout=10) == 0
        finally:
            process.kill()


@SERVICES
def test_one_port_everywhere(name: str) -> None:
    port = default_port(name)
    assert container_port(name) == port
    assert environment(name)["PORT"] == str(port)
    assert build_args(name)["PORT"] == str(port)
    # The image built with these arguments exposes that port and keeps it in PORT.
    runtime = runtime_stage()
    assert expand(instruction(runtime, "EXPOSE"), build_args(name)).split() == [str(port)]
    assert f"PORT={port}" in expand(instruction(runtime, "ENV"), build_args(name)).split()


@SERVICES
def test_image_built_with_its_args_copies_its_own_package(name: str) -> None:
    copies = [expand(args, build_args(name)) for key, args in builder_stage() if key == "COPY"]
    assert f"services/{name}/{name} services/{name}/{name}" in copies
    assert (ROOT / "services" / name / name).is_dir()


@pytest.mark.parametrize("variable", ["SERVICE", "PORT"])
def test_build_args_are_declared_in_each_stage_that_uses_them(variable: str) -> None:
    # A build argument exists only in the stages that declare it (ARG): elsewhere it expands to
    # nothing, silently. CMD and HEALTHCHECK run later, in the container: they need an ENV.
    reference = re.compile(rf"\$\{{?{variable}\b")
    for stage in stages():
        declared = set_in_env = False
        uses = 0
        for keyword, args in stage:
            if reference.search(args):
                uses += 1
                if keyword in ("CMD", "HEALTHCHECK"):
                    assert set_in_env, f"{keyword} reads ${variable}: ENV {variable}=... first"
                else:
                    assert declared, f"{keyword} {args}: ARG {variable} first, in this stage"
            if keyword == "ARG" and args.split("=")[0] == variable:
                declared = True
            if keyword == "ENV" and f"{variable}=${{{variable}}}" in args.split():
                set_in_env = True
        assert uses, f"every stage uses {variable}"


def test_build_without_service_or_port_fails_at_once_saying_why() -> None:
    builder = builder_stage()
    first_run = next(i for i, (keyword, _) in enumerate(builder) if keyword == "RUN")
    assert first_run < next(i for i, (keyword, _) in enumerate(builder) if keyword == "COPY")
    check = builder[first_run][1]
    shell = shutil.which("sh")
    assert shell is not None

    def build(**args: str) -> subprocess.CompletedProcess[str]:
        # As BuildKit runs it: /bin/sh -c, the stage's ARGs in the environment.
        return subprocess.run(
            [shell, "-c", check], env=args, capture_output=True, text=True, timeout=10
        )

    for args in [{}, {"SERVICE": "orders"}, {"PORT": "8002"}, {"SERVICE": "", "PORT": "8002"}]:
        result = build(**args)
        assert result.returncode != 0, args
        assert "--build-arg SERVICE=<name> --build-arg PORT=<port>" in result.stderr
    assert build(SERVICE="orders", PORT="eight").returncode != 0
    for name in SETTINGS:
        result = build(**build_args(name))
        assert (result.returncode, result.stderr) == (0, "")


def healthcheck_argv() -> list[str]:
    _options, _, command = instruction(runtime_stage(), "HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    assert isinstance(argv, list)
    return argv


def test_image_healthcheck_calls_health_on_its_port_without_curl() -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"], "exec form with python: slim images have no curl"
    assert "/health" in argv[2]
    assert "os.environ['PORT']" in argv[2], "the port the image was built for (ENV PORT)"
    assert not re.search(r"\b\d{4,5}\b", argv[2]), "no port of one service written in"


@SERVICES
def test_compose_keeps_the_image_healthcheck(name: str) -> None:
    # Compose tunes only the timing: the test stays the image's own.
    healthcheck = services()[name].get("healthcheck", {})
    assert "test" not in healthcheck
    assert not healthcheck.get("disable")


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A stand-in for a service: answers /health with the status put in the list."""
    status = [200]

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Health) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        yield server.server_address[1], status
        server.shutdown()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_image_healthcheck_fails_while_the_service_answers_503(
    status: int, healthy: bool, health_server: tuple[int, list[int]]
) -> None:
    port, answer = health_server
    answer[0] = status
    _python, *args = healthcheck_argv()
    result = subprocess.run(
        [sys.executable, *args], env={"PORT": str(port)}, capture_output=True, timeout=10
    )
    assert (result.returncode == 0) is healthy, result.stderr


# What every service's container gets to send its traces to Jaeger. These are OpenTelemetry's
# standard variables (the OpenTelemetry specification's "SDK environment variables"): the
# OTel SDK reads them from the environment itself, so they are not fields of Settings.
OTEL_ENVIRONMENT = {
    # Off unless asked for (OTEL_TRACES_EXPORTER=otlp): Jaeger is in a profile.
    "OTEL_TRACES_EXPORTER": "${OTEL_TRACES_EXPORTER:-none}",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
}
# The variables a service's container may get that are not Settings fields: an explicit list,
# not the OTEL_ prefix, so that a misspelt OTEL_ variable (which the SDK would silently ignore)
# still fails the test below. LOG_FORMAT is not here: it is a field of ServiceSettings.
STANDARD_VARIABLES = frozenset(OTEL_ENVIRONMENT)


@SERVICES
def test_every_variable_set_is_a_setting(name: str) -> None:
    settings = SETTINGS[name]
    prefix = settings.model_config.get("env_prefix", "")
    names = {f"{prefix}{field}".upper() for field in settings.model_fields}
    unknown = set(environment(name)) - names - STANDARD_VARIABLES
    assert not unknown, f"neither a setting nor a standard variable: {unknown}"


@SERVICES
def test_listens_on_all_interfaces_and_reaches_the_compose_redis(name: str) -> None:
    raw = environment(name)
    assert raw["HOST"] == "0.0.0.0"
    # Its own Redis user; the password in a file of its own credentials volume, never in
    # the URL or the environment.
    redis_url = urlsplit(raw["REDIS_URL"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port) == ("redis", "redis", 6379)
    assert (redis_url.username, redis_url.password) == (name, None)
    assert raw["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert mounts(name) == {"/run/secrets": f"{name}-credentials:ro"}
    assert "redis" in services()


@pytest.mark.parametrize("name", CONSUMERS)
def test_consumer_name_is_left_to_the_hostname(name: str) -> None:
    # A fixed name would make every replica the same consumer in the group.
    assert "CONSUMER_NAME" not in environment(name)


def test_notifications_calls_the_payments_service_on_its_port() -> None:
    url = urlsplit(environment("notifications")["PAYMENTS_URL"])
    assert (url.hostname, url.port) == ("payments", container_port("payments"))
    assert url.port == default_port("payments")


@SERVICES
def test_starts_after_what_it_needs_is_healthy(name: str) -> None:
    needs = NEEDS[name]
    depends_on = services()[name]["depends_on"]
    assert set(depends_on) == needs
    assert all(depends_on[need]["condition"] == "service_healthy" for need in needs)
    assert services()[name]["restart"] == "unless-stopped"


def test_every_published_port_is_on_loopback_only() -> None:
    # The APIs (dead letters included) are for this host: publishing one needs a proxy with TLS.
    for name, service in services().items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name}: {mapping}"


@pytest.mark.parametrize("service", ["payments", "orders", "notifications"])
def test_console_calls_each_service_on_its_port(service: str) -> None:
    url = urlsplit(environment("console")[f"{service.upper()}_URL"])
    assert (url.hostname, url.port) == (service, container_port(service))
    assert url.port == default_port(service)


@SERVICES
def test_one_fixed_host_port_per_service_its_own(name: str) -> None:
    # Not a range: Docker hands a range's ports out in turn, so a restarted container moved to
    # the next one (onto another service's port, in the end). Replicas publish none
    # (docker-compose.scale.yml).
    assert published(name) == {default_port(name): ("127.0.0.1", default_port(name))}


def test_scale_override_only_resets_the_host_ports_of_the_consumers() -> None:
    override = load(SCALE_FILE)
    assert override.keys() == {"services"}
    assert override["services"].keys() == set(CONSUMERS)
    for name in CONSUMERS:
        assert override["services"][name].keys() == {"ports"}
        assert isinstance(override["services"][name]["ports"], Reset)


def test_project_is_named() -> None:
    # Otherwise the name is the checkout's directory, and two checkouts share containers.
    assert load(COMPOSE_FILE)["name"] == "event-driven-reference"


@pytest.mark.parametrize("path", [COMPOSE_FILE, SCALE_FILE, CLUSTER_FILE], ids=lambda p: p.name)
def test_no_container_name_anywhere(path: Path) -> None:
    # A fixed name allows one container per service: `--scale` would fail.
    assert "container_name" not in path.read_text()


def test_redis_is_pinned_durable_private_and_checked() -> None:
    redis = services()["redis"]
    # Pinned to a patch release, of the minor release the tests run against (the ACL file
    # is written for it).
    pinned = re.fullmatch(r"redis:(\d+)\.(\d+)\.(\d+)", redis["image"])
    assert pinned, f"{redis['image']} is not pinned to a release"
    tested = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=True
    )
    version = re.search(r"v=(\d+)\.(\d+)\.", tested.stdout)
    assert version is not None
    assert pinned.groups()[:2] == version.groups()
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync always" in command  # fsynced before the answer: the system of record
    source = mounts("redis")["/data"]
    assert source in load(COMPOSE_FILE)["volumes"], "a named volume, kept across `down`"
    assert "redis-cli --user admin" in " ".join(redis["healthcheck"]["test"])
    assert "ports" not in redis, "only the services reach Redis: never on the host's interfaces"
    assert "network_mode" not in redis
    assert redis["user"] == "redis"


REDIS_USERS = ("admin", "payments", "orders", "notifications", "console")


def test_redis_loads_the_repository_acl_with_every_users_credentials() -> None:
    redis = services()["redis"]
    assert mounts("redis")["/etc/redis-acl"] == "./redis-acl:ro"
    assert redis["command"][:3] == ["sh", "/etc/redis-acl/start-redis.sh", "/run/secrets"]
    for user in REDIS_USERS:
        assert mounts("redis")[f"/run/secrets/{user}"] == f"{user}-credentials:ro"
    assert "environment" not in redis, "no password in its environment"
    assert redis["depends_on"] == {"credentials": {"condition": "service_completed_successfully"}}


def test_credentials_are_made_once_into_a_volume_each_and_the_environment_may_set_them() -> None:
    maker = services()["credentials"]
    assert maker["image"] == services()["redis"]["image"], "no image of its own to pull"
    assert maker["command"] == ["sh", "/etc/redis-acl/credentials.sh", "/credentials"]
    assert maker["restart"] == "no"
    assert maker["network_mode"] == "none"
    volumes = mounts("credentials")
    for user in REDIS_USERS:
        assert volumes[f"/credentials/{user}"] == f"{user}-credentials"
        # The environment (or .env) may give a value; nothing is required.
        variable = f"{user.upper()}_REDIS_PASSWORD"
        assert maker["environment"][variable] == f"${{{variable}:-}}"
    assert volumes["/credentials/grafana"] == "grafana-credentials"
    assert maker["environment"]["GRAFANA_ADMIN_PASSWORD"] == "${GRAFANA_ADMIN_PASSWORD:-}"


# ---- the Dockerfile's pins and shape ----

SYNC = 'uv sync --locked --no-dev --package "$SERVICE" --no-editable'
# The workspace's own packages are rebuilt from the copied sources at every build: uv keys a
# local package's cached wheel on its pyproject.toml only.
REBUILD = ' --reinstall-package shared --reinstall-package "$SERVICE"'


def test_dockerfile_pins_its_bases_and_installs_from_the_lock() -> None:
    text = DOCKERFILE.read_text()
    # No `# syntax=` line: BuildKit would fetch that frontend image first, which fails on an
    # engine without a registry; the built-in frontend has everything the file uses.
    assert "syntax=" not in text
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.MULTILINE)
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2
    assert "COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/" in text
    flat = re.sub(r"\s*\\\n\s*", " ", text)
    assert flat.count(f"{SYNC} --no-install-workspace\n") == 1
    assert flat.count(f"{SYNC}{REBUILD}\n") == 1
    assert (
        flat.index("--no-install-workspace")
        < flat.index("COPY services/${SERVICE}/${SERVICE} ")
        < flat.index(f"{SYNC}{REBUILD}\n")
    )


def workspace_members() -> list[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return sorted(
        path.parent.relative_to(ROOT).as_posix()
        for pattern in root["tool"]["uv"]["workspace"]["members"]
        for path in ROOT.glob(f"{pattern}/pyproject.toml")
    )


def copies_between(stage: Stage, start: int, end: int) -> list[str]:
    return [args for keyword, args in stage[start:end] if keyword == "COPY"]


def sync_runs() -> tuple[int, int]:
    """Where the builder's two `uv sync` runs are: dependencies only, then everything."""
    runs = [i for i, (keyword, args) in enumerate(builder_stage()) if SYNC in args]
    assert [keyword for keyword, _ in (builder_stage()[i] for i in runs)] == ["RUN", "RUN"]
    first, second = runs
    assert builder_stage()[first][1].endswith("--no-install-workspace")
    assert builder_stage()[second][1].endswith(REBUILD)
    return first, second


def test_dependency_layer_gets_only_the_lock_and_every_members_pyproject() -> None:
    # --locked checks uv.lock against the whole workspace, so every member's pyproject is needed;
    # nothing else, so that only a dependency change rebuilds the layer.
    first, _ = sync_runs()
    copies = [args for args in copies_between(builder_stage(), 0, first) if "--from=" not in args]
    members = workspace_members()
    assert set(members) == {"shared", *(f"services/{name}" for name in SETTINGS)}
    expected = [
        "pyproject.toml uv.lock ./",
        *(f"{member}/pyproject.toml {member}/" for member in members),
    ]
    assert sorted(copies) == sorted(expected)


def test_code_layer_gets_the_shared_library_and_the_one_service() -> None:
    first, second = sync_runs()
    shared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())
    packages = shared["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert packages, "the shared library builds at least one package"
    assert copies_between(builder_stage(), first, second) == [
        *(f"shared/{package} shared/{package}" for package in packages),
        "services/${SERVICE}/${SERVICE} services/${SERVICE}/${SERVICE}",
    ]


def test_runtime_stage_is_non_root_and_only_gets_the_venv() -> None:
    stage = runtime_stage()
    copies = [args for keyword, args in stage if keyword == "COPY"]
    assert copies == ["--from=builder /app/.venv /app/.venv"]
    assert instruction(stage, "USER") == "10001:10001"
    assert "--uid 10001" in instruction(stage, "RUN")
    assert "--gid 10001" in instruction(stage, "RUN")
    assert not any(
        "apt-get" in args or "uv " in args or "pip " in args or "--mount" in args
        for keyword, args in stage
    )
    env = instruction(stage, "ENV").split()
    for setting in ("PATH=/app/.venv/bin:$PATH", "PYTHONUNBUFFERED=1", "HOST=0.0.0.0"):
        assert setting in env


# ---- the same tools as scripts/check_containers.sh, so `make test` catches a broken file ----


def venv_tool(name: str) -> str:
    tool = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if tool is None:
        pytest.skip(f"{name} is not installed (uv sync --locked --all-packages)")
    return tool


def run(
    *argv: str | Path, stdin: str | None = None, env: dict[str, str] | None = None, expect: int = 0
) -> str:
    result = subprocess.run(
        [str(arg) for arg in argv],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=fresh_environment() if env is None else env,
    )
    assert result.returncode == expect, (
        f"{argv[0]} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    return result.stdout + result.stderr


FILES = pytest.mark.parametrize(
    "files",
    [[COMPOSE_FILE], [COMPOSE_FILE, SCALE_FILE], [COMPOSE_FILE, CLUSTER_FILE]],
    ids=["compose", "with-scale", "with-cluster"],
)


def compose_config(files: list[Path], *args: str) -> str:
    # --env-file /dev/null: a developer's own .env must not change what is checked.
    flags = [flag for path in files for flag in ("-f", str(path))]
    return run(compose_binary(), *flags, "--env-file", os.devnull, "config", *args)


@pytest.mark.parametrize("files", [[COMPOSE_FILE], [COMPOSE_FILE, CLUSTER_FILE]])
def test_compose_needs_nothing_set_and_holds_no_password(files: list[Path]) -> None:
    # A fresh clone: no .env, nothing in the environment. No password has a default either:
    # the credentials service makes each one at the first start.
    flags = [flag for path in files for flag in ("-f", str(path))]
    config = run(compose_binary(), *flags, "--env-file", os.devnull, "config")
    assert not re.search(r"(?i)password(?!_*file)\w*:\s*(?!\"\")[^\s$]", config), "a value"
    assert "REDISCLI_AUTH:" not in config


@FILES
def test_compose_accepts_the_files(files: list[Path]) -> None:
    compose_config(files, "-q")


@FILES
def test_merged_files_match_the_compose_spec_schema(files: list[Path]) -> None:
    check_jsonschema = venv_tool("check-jsonschema")
    merged = compose_config(files)
    schema = ("--builtin-schema", "vendor.compose-spec", "--default-filetype", "yaml", "-")
    run(check_jsonschema, *schema, stdin=merged)


def test_compose_file_itself_matches_the_compose_spec_schema() -> None:
    run(venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE)


def test_scale_override_leaves_the_consumers_without_a_host_port() -> None:
    config = merged([COMPOSE_FILE, SCALE_FILE])
    for name in CONSUMERS:
        assert "ports" not in config["services"][name]
    assert config["services"]["payments"]["ports"]
    assert config["services"]["console"]["ports"]


@SERVICES
def test_settings_accept_what_compose_gives_the_container(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # After interpolation (${LOG_LEVEL:-info}) and merge keys, as the container sees it; the
    # password file, which its credentials volume holds there, here.
    config = merged([COMPOSE_FILE])
    for key, value in config["services"][name]["environment"].items():
        monkeypatch.setenv(key, value)
    password = tmp_path / "redis_password"
    password.write_text("a-password-from-its-volume")
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(password))
    settings: Any = SETTINGS[name]()
    assert settings.port == default_port(name)
    assert settings.host == "0.0.0.0"


def test_hadolint_passes_at_warning_threshold() -> None:
    run(venv_tool("hadolint"), "--no-color", "--failure-threshold", "warning", DOCKERFILE)


# ---- the observability stack (docs/observability.md) ----

OBSERVABILITY = ("jaeger", "prometheus", "grafana")
OBSERVABILITY_SERVICES = pytest.mark.parametrize("name", OBSERVABILITY)
# Each one's UI or receiver ports, the same inside and on the host's loopback interface.
PUBLISHED = {"jaeger": {16686, 4317, 4318}, "prometheus": {9090}, "grafana": {3000}}
# What each one's healthcheck asks, from inside its container: Jaeger's health check extension
# (its own port, not published), Prometheus' readiness (rules and storage loaded), Grafana's
# health (its database answers).
HEALTH_URLS = {
    "jaeger": "http://127.0.0.1:13133/status",
    "prometheus": "http://127.0.0.1:9090/-/ready",
    "grafana": "http://127.0.0.1:3000/api/health",
}


def published(name: str) -> dict[int, tuple[str, int]]:
    """The service's port mappings "IP:HOST:CONTAINER", as {container port: (ip, host port)}."""
    mappings = {}
    for mapping in services()[name].get("ports", []):
        ip, host, container = str(mapping).split(":")
        mappings[int(container)] = (ip, int(host))
    return mappings


def prometheus_config() -> dict[str, Any]:
    data = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert isinstance(data, dict)
    return data


def mounts(name: str) -> dict[str, str]:
    """The service's volumes as {target in the container: "source[:ro]"}."""
    found = {}
    for volume in services()[name].get("volumes", []):
        source, target, *mode = str(volume).split(":")
        found[target] = ":".join([source, *mode])
    return found


@OBSERVABILITY_SERVICES
def test_observability_image_is_pinned_to_a_release(name: str) -> None:
    # An exact release: `latest` or a bare major changes under you at the next pull.
    image = services()[name]["image"]
    assert re.fullmatch(r"[a-z0-9./-]+:v?\d+\.\d+\.\d+", image), f"{image} is not pinned"


@OBSERVABILITY_SERVICES
def test_observability_service_has_a_healthcheck_without_a_shell(name: str) -> None:
    service = services()[name]
    healthcheck = service["healthcheck"]
    test = healthcheck["test"]
    # Exec form: the images' busybox wget, no shell needed; the probe asks the service itself.
    assert test == ["CMD", "wget", "-q", "-O", "/dev/null", HEALTH_URLS[name]]
    assert {"interval", "timeout", "retries"} <= healthcheck.keys()
    assert not healthcheck.get("disable")
    assert service["restart"] == "unless-stopped"


@OBSERVABILITY_SERVICES
def test_observability_service_runs_as_a_user_of_its_image_not_root(name: str) -> None:
    user = str(services()[name]["user"])
    assert user.split(":")[0] not in ("root", "0"), user


@OBSERVABILITY_SERVICES
def test_observability_ports_are_on_loopback_only(name: str) -> None:
    # No password guards Prometheus or Jaeger, and Grafana lets anonymous viewers in.
    mappings = published(name)
    assert set(mappings) == PUBLISHED[name]
    for container, (ip, host) in mappings.items():
        assert (ip, host) == ("127.0.0.1", container)


@SERVICES
def test_service_sends_traces_to_jaeger_when_asked_and_logs_json(name: str) -> None:
    env = environment(name)
    assert {key: env.get(key) for key in OTEL_ENVIRONMENT} == OTEL_ENVIRONMENT
    # The code names each service itself; a fixed name here would be one more thing to keep
    # in step (and the same for every replica is what the code does anyway).
    assert "OTEL_SERVICE_NAME" not in env
    assert env["LOG_FORMAT"] == "json"
    endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert endpoint.hostname == "jaeger"
    assert endpoint.port in published("jaeger"), "the OTLP/HTTP port Jaeger listens on"
    assert SETTINGS[name].model_fields["log_format"].default == "text", "readable without compose"


def test_no_service_waits_for_the_observability_stack() -> None:
    # Tracing and metrics must never keep the system from starting.
    for name in SETTINGS:
        assert not set(services()[name]["depends_on"]) & set(OBSERVABILITY)


def test_the_extras_are_left_out_of_the_core() -> None:
    # `docker compose up` starts the core and Mailpit; the observability stack on request
    # (--profile observability). The core needs neither (the test above, and the one below).
    for name in OBSERVABILITY:
        assert services()[name]["profiles"] == ["observability"]
    for name in ("redis", "credentials", "mailpit", *SETTINGS):
        assert "profiles" not in services()[name], name


def test_prometheus_mounts_its_config_and_rules_read_only() -> None:
    prometheus = services()["prometheus"]
    volumes = mounts("prometheus")
    config = "/etc/prometheus/prometheus.yml"
    assert volumes[config] == "./observability/prometheus/prometheus.yml:ro"
    assert f"--config.file={config}" in prometheus["command"]
    # rule_files are relative to the config file: each must be mounted beside it.
    for rule_file in prometheus_config()["rule_files"]:
        source = (PROMETHEUS_CONFIG.parent / rule_file).relative_to(ROOT)
        assert volumes[f"/etc/prometheus/{rule_file}"] == f"./{source}:ro"
    assert volumes["/prometheus"] == "prometheus-data", "a named volume for the time series"
    assert "--storage.tsdb.path=/prometheus" in prometheus["command"]
    assert "--enable-feature=exemplar-storage" in prometheus["command"]


@SERVICES
def test_prometheus_scrapes_every_service_on_its_port(name: str) -> None:
    (job,) = [job for job in prometheus_config()["scrape_configs"] if job["job_name"] == name]
    port = default_port(name)
    assert job.get("metrics_path", "/metrics") == "/metrics"
    if name in CONSUMERS:
        # Scaled with --scale: every replica's address from Docker's DNS, each one a target.
        assert "static_configs" not in job
        (discovery,) = job["dns_sd_configs"]
        assert discovery["names"] == [name]
        assert (discovery["type"], discovery["port"]) == ("A", port)
    else:
        (static,) = job["static_configs"]
        assert static["targets"] == [f"{name}:{port}"]


def test_prometheus_scrapes_only_the_services() -> None:
    jobs = {job["job_name"] for job in prometheus_config()["scrape_configs"]}
    built = {name for name, service in services().items() if "build" in service}
    assert jobs == built


def test_grafana_gets_its_provisioning_and_dashboards_read_only() -> None:
    volumes = mounts("grafana")
    assert volumes["/etc/grafana/provisioning"] == "./observability/grafana/provisioning:ro"
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/dashboards.yml").read_text())
    (provider,) = providers["providers"]
    path = provider["options"]["path"]
    assert volumes[path] == "./observability/grafana/dashboards:ro"


def test_grafana_admin_password_is_its_credential_and_viewers_are_anonymous() -> None:
    env = services()["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/admin_password"
    assert mounts("grafana")["/run/secrets"] == "grafana-credentials:ro"
    assert services()["grafana"]["depends_on"]["credentials"] == {
        "condition": "service_completed_successfully"
    }
    assert (env["GF_AUTH_ANONYMOUS_ENABLED"], env["GF_AUTH_ANONYMOUS_ORG_ROLE"]) == (
        "true",
        "Viewer",
    )
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"


def test_grafana_data_sources_reach_the_compose_services() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/datasources.yml").read_text())
    urls = {source["type"]: urlsplit(source["url"]) for source in provisioned["datasources"]}
    assert set(urls) == {"prometheus", "jaeger"}
    for kind, port in (("prometheus", 9090), ("jaeger", 16686)):
        assert (urls[kind].hostname, urls[kind].port) == (kind, port)
        assert port in published(kind)


def test_env_example_names_every_variable_compose_reads() -> None:
    # A user learns what to set from .env.example: every ${VAR} of the compose files is
    # there, set or commented out, and none with a value in git for a password.
    used = {
        name
        for path in (COMPOSE_FILE, SCALE_FILE, CLUSTER_FILE)
        for text in strings(load(path))
        for name in re.findall(r"\$\{(\w+)", text)
    }
    example = ENV_EXAMPLE.read_text()
    listed = dict(re.findall(r"^#? ?(\w+)=(.*)$", example, re.MULTILINE))
    assert used <= set(listed), f"not in .env.example: {used - set(listed)}"
    for name, value in listed.items():
        if name.endswith("PASSWORD"):
            assert value == "", f"{name} has a value in .env.example"


def strings(node: object) -> Iterator[str]:
    """Every string in a loaded YAML document (mapping values and list items)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


# ---- mail: Mailpit, the SMTP server notifications sends to under compose ----


def test_mailpit_is_pinned_healthchecked_non_root_and_on_loopback_only() -> None:
    mailpit = services()["mailpit"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", mailpit["image"]), mailpit["image"]
    healthcheck = mailpit["healthcheck"]
    assert healthcheck["test"] == ["CMD", "/mailpit", "readyz"]  # the image's own probe
    assert {"interval", "timeout", "retries"} <= healthcheck.keys()
    assert not healthcheck.get("disable")
    assert mailpit["restart"] == "unless-stopped"
    user, _, group = str(mailpit["user"]).partition(":")
    assert user not in ("", "root", "0")
    assert group == "0", "the image's files belong to group 0, for any user of it"
    # SMTP and the web UI, each on the same port inside and on the host's loopback interface.
    assert published("mailpit") == {1025: ("127.0.0.1", 1025), 8025: ("127.0.0.1", 8025)}


def test_notifications_sends_its_mail_to_mailpit_without_waiting_for_it() -> None:
    env = environment("notifications")
    # Mailpit unless the environment names another server.
    assert (env["SMTP_HOST"], env["SMTP_PORT"]) == ("${SMTP_HOST:-mailpit}", "${SMTP_PORT:-1025}")
    assert 1025 in published("mailpit")
    # The mail queue holds the mail while the SMTP server is away: nothing to wait for.
    assert "mailpit" not in services()["notifications"]["depends_on"]
    assert env["SMTP_PASSWORD"] == "${SMTP_PASSWORD:-}", "a secret: from the environment only"


# ---- Redis Cluster: docker-compose.cluster.yml (docs/containers.md, "Redis Cluster") ----
# As Compose merges it with the base file (`config --format json`): extends, merge keys and
# `!reset` applied. tests/e2e/test_docker_cluster.py runs it on a real engine.

NODES = [f"redis-{n}" for n in range(1, 7)]
NODE_PORT = 6379  # redis-server's default; the file names no other


@cache
def cluster() -> dict[str, Any]:
    services: dict[str, Any] = merged([COMPOSE_FILE, CLUSTER_FILE])["services"]
    return services


def node_command(name: str) -> str:
    """The node's shell command, as Compose writes it (a literal `$` as `$$`)."""
    shell, flag, script = cluster()[name]["command"]
    assert (shell, flag) == ("sh", "-c")
    return str(script)


START_REDIS = "exec sh /etc/redis-acl/start-redis.sh /run/secrets "


def redis_server_args(name: str) -> dict[str, str]:
    """The node's redis-server options (after redis-acl/start-redis.sh), as {--option: value}."""
    before, _, server = node_command(name).partition(START_REDIS)
    assert before == "", "the base Redis' start script, and only that"
    words = server.split()
    options = dict(zip(words[::2], words[1::2], strict=True))
    assert all(option.startswith("--") for option in options)
    return options


def test_cluster_override_starts_six_nodes_and_not_the_base_redis() -> None:
    assert sorted(name for name in cluster() if name.startswith("redis-")) == sorted(
        [*NODES, "redis-cluster-create"]
    )
    # The single Redis is not started: in a profile of its own, which `up` leaves out.
    assert "redis" not in cluster()
    assert load(CLUSTER_FILE)["services"]["redis"] == {"profiles": ["standalone"]}


@pytest.mark.parametrize("name", NODES)
def test_cluster_node_is_the_base_redis_in_cluster_mode(name: str) -> None:
    node, base = cluster()[name], merged([COMPOSE_FILE])["services"]["redis"]
    for key in ("image", "user", "healthcheck", "restart", "depends_on"):
        assert node[key] == base[key], key
    assert node["environment"] == {"NODE_NAME": name}
    assert "ports" not in node, "only the services reach Redis: never on the host's interfaces"
    args = redis_server_args(name)
    assert args["--cluster-enabled"] == "yes"
    assert args["--cluster-config-file"] == "/data/nodes.conf", "on the node's own volume"
    assert 1000 <= int(args["--cluster-node-timeout"]) <= 15000
    assert (args["--appendonly"], args["--appendfsync"]) == ("yes", "always"), "as the base"
    assert args["--dir"] == "/data"
    # Clients are told the node's name, which Docker's DNS resolves: its service name.
    assert args["--cluster-announce-hostname"] == '"$$NODE_NAME"'
    assert args["--cluster-preferred-endpoint-type"] == "hostname"
    # The ACL file rendered (and the replica's login written) as the base Redis does.
    assert base["command"][:3] == START_REDIS.split()[1:]


def test_a_replica_logs_in_as_admin_with_the_password_on_no_command_line() -> None:
    # start-redis.sh writes masteruser/masterauth with printf (a shell builtin) into a file
    # only Redis' user can read, and gives it to redis-server as its configuration file.
    script = (ROOT / "redis-acl" / "start-redis.sh").read_text()
    assert (
        "(umask 077 && printf 'masteruser admin\\nmasterauth %s\\n' \"$ADMIN_REDIS_PASSWORD\" "
        ">/tmp/redis.conf)" in script
    )
    assert 'exec redis-server /tmp/redis.conf --aclfile /tmp/users.acl "$@"' in script


def test_cluster_nodes_each_have_their_own_volume_and_a_fixed_address() -> None:
    declared = merged([COMPOSE_FILE, CLUSTER_FILE])["volumes"]
    data = {}
    for name in NODES:
        volumes = {volume["target"]: volume for volume in cluster()[name]["volumes"]}
        credentials = {f"/run/secrets/{user}" for user in REDIS_USERS}
        assert volumes.keys() == {"/data", "/etc/redis-acl", *credentials}
        assert volumes["/data"]["type"] == "volume"
        data[name] = volumes["/data"]["source"]
        assert data[name] in declared, "a named volume, kept across `down`"
        acl = volumes["/etc/redis-acl"]
        assert (acl["type"], acl["source"], acl.get("read_only")) == (
            "bind",
            str(ROOT / "redis-acl"),
            True,
        )
    assert len(set(data.values())) == len(NODES), "a volume each"
    assert "redis-data" not in data.values(), "not the single Redis' volume"

    # Nodes find one another by the addresses in nodes.conf: each keeps its own across a
    # recreated container, outside the range Docker hands out to the other containers.
    (ipam,) = merged([COMPOSE_FILE, CLUSTER_FILE])["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.IPv4Network(ipam["subnet"])
    dynamic = ipaddress.IPv4Network(ipam["ip_range"])
    assert subnet.is_private
    assert dynamic.subnet_of(subnet)
    addresses = []
    for name in NODES:
        network = cluster()[name]["networks"]["default"]
        address = ipaddress.IPv4Address(network["ipv4_address"])
        assert address in subnet
        assert address not in dynamic
        addresses.append(address)
        # `redis` names every node: the services' REDIS_URL starts from whichever answers.
        assert network["aliases"] == ["redis"]
    assert len(set(addresses)) == len(NODES)


def test_cluster_is_formed_by_a_one_shot_after_every_node_is_up() -> None:
    creator = cluster()["redis-cluster-create"]
    assert creator["image"] == cluster()[NODES[0]]["image"], "the nodes' redis-cli"
    assert creator["user"] == "redis"
    assert creator["restart"] == "no"
    assert creator["depends_on"] == {
        name: {"condition": "service_healthy", "required": True} for name in NODES
    }
    # The script from the repository, read-only, as it is in git; admin's password.
    mount, admin = creator["volumes"]
    assert (mount["type"], mount.get("read_only")) == ("bind", True)
    assert (admin["source"], admin["target"]) == ("admin-credentials", "/run/secrets/admin")
    shell, script = creator["command"]
    assert shell == "sh"
    assert (Path(mount["source"]) / Path(script).relative_to(mount["target"])) == (
        ROOT / "redis-cluster" / "create-cluster.sh"
    )
    env = creator["environment"]
    assert env["REDIS_NODES"].split() == [f"{name}:{NODE_PORT}" for name in NODES]
    assert env["ADMIN_PASSWORD_FILE"] == "/run/secrets/admin/redis_password", "as admin"
    assert "REDISCLI_AUTH" not in env
    assert "ports" not in creator


@SERVICES
def test_cluster_services_run_in_cluster_mode_as_their_own_user(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, base = cluster()[name], merged([COMPOSE_FILE])["services"][name]
    env = service["environment"]
    assert env["REDIS_MODE"] == "cluster"
    partitions = {int(cluster()[other]["environment"]["STREAM_PARTITIONS"]) for other in SETTINGS}
    assert len(partitions) == 1, "every service of one system: the same number of partitions"
    assert min(partitions) >= 3, "at least one partition per primary"
    # Its own user and password file, as in the base file; `redis` names every node.
    url = urlsplit(env["REDIS_URL"])
    assert (url.username, url.password) == (name, None)
    assert env["REDIS_PASSWORD_FILE"] == base["environment"]["REDIS_PASSWORD_FILE"]
    assert (url.hostname, url.port, url.path) == ("redis", NODE_PORT, "/0")
    assert all("redis" in cluster()[node]["networks"]["default"]["aliases"] for node in NODES)
    # Everything else as the base file: ports, the other variables.
    assert service["ports"] == base["ports"]
    cluster_only = {"REDIS_MODE", "STREAM_PARTITIONS", "REDIS_MIN_REPLICAS_ACK", "REDIS_WAIT_MS"}
    assert {k: v for k, v in env.items() if k not in cluster_only} == base["environment"]
    # The Settings the container builds from it (its password file here, not in a volume).
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(ENV_EXAMPLE))
    settings: Any = SETTINGS[name]()
    assert (settings.redis_mode, settings.stream_partitions) == ("cluster", min(partitions))


@SERVICES
def test_cluster_services_start_once_the_cluster_is_formed(name: str) -> None:
    depends_on = cluster()[name]["depends_on"]
    assert depends_on["redis-cluster-create"]["condition"] == "service_completed_successfully"
    for node in NODES:
        assert depends_on[node]["condition"] == "service_healthy"
    # What it needed besides Redis, it still needs.
    others = {key: value for key, value in depends_on.items() if not key.startswith("redis")}
    assert set(others) == NEEDS[name] - {"redis"}
    assert all(value["condition"] == "service_healthy" for value in others.values())


def test_payments_waits_for_a_replica_on_the_cluster() -> None:
    env = cluster()["payments"]["environment"]
    assert int(env["REDIS_MIN_REPLICAS_ACK"]) == 1
    assert int(env["REDIS_WAIT_MS"]) > 0


def test_cluster_override_holds_no_secret() -> None:
    # Secrets come from the credentials volumes only: a variable may name a file, no more.
    override = load(CLUSTER_FILE)
    secret = re.compile(r"PASSWORD|AUTH|TOKEN|SECRET")
    for name, service in override["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secret.search(key):
                assert str(value).startswith("/run/secrets/"), f"{name}: {key}"
    for text in strings(override):
        assert not re.search(r"(masterauth|requirepass|>)\s*[A-Za-z0-9]{16,}", text), text


# ---- stand-ins for an engine without a registry: scripts/offline_images.sh ----

EXTRAS = {"mailpit", *OBSERVABILITY}  # no Debian package: they need a registry


def test_offline_images_stand_in_for_every_base_image_the_core_needs() -> None:
    text = DOCKERFILE.read_text()
    named = set(re.findall(r"^ARG PYTHON_IMAGE=(\S+)", text, re.MULTILINE))
    named |= set(re.findall(r"COPY --from=(\S+)", text)) - {"builder"}
    for files in ([COMPOSE_FILE], [COMPOSE_FILE, CLUSTER_FILE]):
        for name, service in merged(files)["services"].items():
            if "image" in service and "build" not in service and name not in EXTRAS:
                named.add(service["image"])
    script = (ROOT / "scripts" / "offline_images.sh").read_text()
    recipes = set(re.findall(r"^\w+_IMAGE=(\S+)$", script, re.MULTILINE))
    assert named == recipes - {"reference-standin/debian:bookworm"}
