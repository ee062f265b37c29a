"""Where `make run` keeps its local Redis and its passwords; `make demo` finds them here too.

Settings come from the environment, then from a .env file in the repository root. Without
REDIS_URL, `make run` starts its own redis-server on RUN_REDIS_PORT (default 6380) with the
project's ACL file and one user per service; passwords missing from the environment are
generated once and kept in .run/secrets.env (git-ignored, mode 600).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / ".run"
SECRETS = RUN / "secrets.env"
USERS = ("admin", "payments", "orders", "notifications", "console")


def load_settings() -> None:
    """The environment wins over .env, as in Docker Compose."""
    for key, value in dotenv_values(ROOT / ".env").items():
        if value is not None:
            os.environ.setdefault(key, value)


def passwords() -> dict[str, str]:
    """Each user's password: from the environment or .run/secrets.env, else a new one."""
    kept = {k: v for k, v in dotenv_values(SECRETS).items() if v} if SECRETS.exists() else {}
    found = {}
    for user in USERS:
        name = f"{user.upper()}_REDIS_PASSWORD"
        found[name] = os.environ.get(name) or kept.get(name) or secrets.token_hex(16)
    if found != {k: kept.get(k) for k in found}:
        RUN.mkdir(exist_ok=True)
        SECRETS.touch(mode=0o600)
        SECRETS.write_text("".join(f"{k}={v}\n" for k, v in found.items()))
    return found


def port() -> int:
    return int(os.environ.get("RUN_REDIS_PORT", "6380"))


def redis_url(user: str) -> str:
    """The URL ``user`` uses for the local Redis, or REDIS_URL when one is given."""
    if "REDIS_URL" in os.environ:
        return os.environ["REDIS_URL"]
    password = passwords()[f"{user.upper()}_REDIS_PASSWORD"]
    return f"redis://{user}:{password}@127.0.0.1:{port()}/0"


def masked(url: str) -> str:
    """``url`` without its password, for printing: redis://orders:***@127.0.0.1:6380/0."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urlunsplit(parts._replace(netloc=netloc))


# Every secret a process may be given, and who needs it: a process gets only its own. The Redis
# passwords go to nobody as variables: a service's own is in its REDIS_URL (set by the caller).
SECRETS_OF: dict[str, frozenset[str]] = {
    "OPERATOR_TOKEN": frozenset({"orders", "notifications"}),
    "SMTP_USERNAME": frozenset({"notifications"}),
    "SMTP_PASSWORD": frozenset({"notifications"}),
    "GRAFANA_ADMIN_PASSWORD": frozenset(),
}


def service_env(name: str, environment: Mapping[str, str]) -> dict[str, str]:
    """What process ``name`` gets: the environment without anybody's Redis password, and
    without the secrets it does not use (SECRETS_OF), so a service never holds another's."""
    return {
        k: v
        for k, v in environment.items()
        if not k.endswith("_REDIS_PASSWORD") and name in SECRETS_OF.get(k, frozenset({name}))
    }


def render_acl(out: Path) -> None:
    """redis-acl/users.acl with the passwords in, written to ``out`` (mode 600)."""
    acl = ROOT / "redis-acl"
    render = ["sh", str(acl / "render-acl.sh"), str(acl / "users.acl"), str(out)]
    subprocess.run(render, env={**os.environ, **passwords()}, check=True)
