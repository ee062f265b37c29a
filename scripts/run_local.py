"""`make run`: the whole system as local processes, no Docker, logs prefixed, Ctrl-C stops all.

Settings: the environment, then a .env file in the repository root (see .env.example).
Redis: the one at REDIS_URL if it answers (default redis://127.0.0.1:6379/0), otherwise a
redis-server started here on that port, with its files in .run/redis.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

import redis
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"payments": 8001, "orders": 8002, "notifications": 8003}
PUMPS: set[asyncio.Task[None]] = set()  # keeps the log pumps referenced while they run
COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m"]


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


async def main() -> int:
    color = sys.stdout.isatty()
    # The environment wins over .env, as in Docker Compose.
    for key, value in dotenv_values(ROOT / ".env").items():
        if value is not None:
            os.environ.setdefault(key, value)
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    processes: dict[str, asyncio.subprocess.Process] = {}
    if redis_answers(url):
        log("run", f"using the Redis at {url}")
    else:
        binary = shutil.which("redis-server")
        if binary is None:
            log(
                "run",
                f"no Redis at {url} and no redis-server to start (apt-get install redis-server)",
            )
            return 1
        port = str(urlsplit(url).port or 6379)
        data = ROOT / ".run" / "redis"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--save",
            "",
        ]
        processes["redis"] = await start(
            "redis", args, dict(os.environ), COLORS[-1] if color else ""
        )
        for _ in range(50):
            if redis_answers(url):
                break
            await asyncio.sleep(0.1)
        log("run", f"started redis-server on port {port} (data in {data})")

    for i, (name, port) in enumerate(SERVICES.items()):
        env = {
            **os.environ,
            "REDIS_URL": url,
            "PORT": os.environ.get(f"{name.upper()}_PORT", str(port)),
        }
        processes[name] = await start(
            name, [sys.executable, "-m", name], env, COLORS[i] if color else ""
        )
        log("run", f"{name} on http://127.0.0.1:{env['PORT']}  (docs: /docs)")

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
