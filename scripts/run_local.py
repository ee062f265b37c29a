"""`make run`: the whole system as local processes, no Docker, logs prefixed, Ctrl-C stops all.

Mail: a local SMTP sink (scripts/mail_sink.py) that writes every mail to .run/mail/ and prints
one line per mail, unless SMTP_HOST names another server.

Redis: with REDIS_URL set (environment or .env), the services share that Redis as it is (say a
password-less one for development). Otherwise a redis-server started here on RUN_REDIS_PORT
(6380), data in .run/redis, with the project's ACL file: one Redis user per service, passwords
from the environment or generated once into .run/secrets.env (see scripts/local.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys

import local
import redis

ROOT = local.ROOT
SERVICES = {"payments": 8001, "orders": 8002, "notifications": 8003, "console": 8004}
PUMPS: set[asyncio.Task[None]] = set()  # keeps the log pumps referenced while they run
COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[34m", "\033[31m", "\033[32m"]  # mail, redis


def log(name: str, line: str, color: str = "") -> None:
    reset = "\033[0m" if color else ""
    print(f"{color}{name:<13}|{reset} {line}", flush=True)


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
        client.close()
        return True
    except redis.RedisError:
        return False


async def pump(name: str, stream: asyncio.StreamReader, color: str) -> None:
    while line := await stream.readline():
        log(name, line.decode(errors="replace").rstrip(), color)


async def start(
    name: str, args: list[str], env: dict[str, str], color: str
) -> asyncio.subprocess.Process:
    # A session of its own: Ctrl-C reaches only this script, which then stops the children
    # in order (services first, Redis last) instead of all at once.
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    PUMPS.add(asyncio.create_task(pump(name, process.stdout, color)))
    return process


async def start_redis(color: str) -> asyncio.subprocess.Process | None:
    """A redis-server with the project's ACL, on the local port; None if it cannot start."""
    binary = shutil.which("redis-server")
    if binary is None:
        log("run", "redis-server is not installed; on Debian/Ubuntu:")
        log("run", "  sudo apt-get install -y redis-server")
        log("run", "or use a Redis you have (REDIS_URL=redis://host:6379/0 make run),")
        log("run", "or run everything in Docker (make up)")
        return None
    data = local.RUN / "redis"
    data.mkdir(parents=True, exist_ok=True)
    aclfile = data / "users.acl"
    await asyncio.to_thread(local.render_acl, aclfile)
    args = [
        binary,
        "--port",
        str(local.port()),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--aclfile",
        str(aclfile),
    ]
    process = await start("redis", args, local.service_env("redis", os.environ), color)
    for _ in range(50):
        if redis_answers(local.redis_url("admin")):
            break
        await asyncio.sleep(0.1)
    log("run", f"started redis-server on port {local.port()} with one user per service")
    log("run", f"  admin: redis-cli -p {local.port()} --user admin --askpass (in .run/secrets.env)")
    return process


async def main() -> int:
    color = sys.stdout.isatty()
    local.load_settings()
    processes: dict[str, asyncio.subprocess.Process] = {}
    if "REDIS_URL" in os.environ:
        if not redis_answers(os.environ["REDIS_URL"]):
            log("run", f"nothing answers at REDIS_URL={local.masked(os.environ['REDIS_URL'])}")
            return 1
        log("run", f"using the Redis at {local.masked(os.environ['REDIS_URL'])} for every service")
    else:
        redis_process = await start_redis(COLORS[-1] if color else "")
        if redis_process is None:
            return 1
        processes["redis"] = redis_process

    # Mail: a local sink on SMTP_PORT unless SMTP_HOST names another server.
    smtp_host = os.environ.get("SMTP_HOST", "127.0.0.1")
    smtp_port = os.environ.get("SMTP_PORT", "1025")
    if smtp_host in ("127.0.0.1", "localhost"):
        sink = [sys.executable, str(ROOT / "scripts" / "mail_sink.py"), "--port", smtp_port]
        sink += ["--dir", str(local.RUN / "mail")]
        processes["mail"] = await start(
            "mail", sink, local.service_env("mail", os.environ), COLORS[-2] if color else ""
        )
        log("run", f"mail sink on 127.0.0.1:{smtp_port}: every mail into .run/mail/, a line here")
    else:
        log("run", f"mail goes to the SMTP server at {smtp_host}:{smtp_port} (SMTP_HOST)")

    ports = {name: os.environ.get(f"{name.upper()}_PORT", str(p)) for name, p in SERVICES.items()}
    for i, name in enumerate(SERVICES):
        env = {
            **local.service_env(name, os.environ),
            "REDIS_URL": local.redis_url(name),
            "PORT": ports[name],
        }
        if name == "notifications":
            env |= {"SMTP_HOST": smtp_host, "SMTP_PORT": smtp_port}
        if name == "console":  # the page calls the others' APIs through the console
            for other in ("payments", "orders", "notifications"):
                env.setdefault(f"{other.upper()}_URL", f"http://127.0.0.1:{ports[other]}")
        processes[name] = await start(
            name, [sys.executable, "-m", name], env, COLORS[i] if color else ""
        )
        what = "the live page, open it in a browser" if name == "console" else "docs: /docs"
        log("run", f"{name} on http://127.0.0.1:{ports[name]}  ({what})")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exited = [asyncio.create_task(p.wait()) for p in processes.values()]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *exited], return_when=asyncio.FIRST_COMPLETED)
    crashed = [n for n, p in processes.items() if p.returncode is not None]
    if crashed:
        log("run", f"{', '.join(crashed)} exited; stopping everything")
    else:
        log("run", "stopping")
    for name, process in reversed(processes.items()):  # services first, Redis last
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                log("run", f"{name} did not stop in 10 s: killed")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
