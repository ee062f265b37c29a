"""A private redis-server per test session (or per fault test), on a free loopback port.

With ``acl=True`` it loads the project's ACL file (redis-acl/users.acl, rendered with fresh random
passwords by redis-acl/render-acl.sh, as compose and ``make run`` do): the default user is off,
``url`` is the admin's, and ``url_for(service)`` is that service's own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import redis

from harness.polling import eventually
from harness.processes import ROOT, free_port, terminate

USERS = ("admin", "payments", "orders", "notifications", "console")


class RedisServer:
    def __init__(
        self,
        directory: Path,
        *,
        appendonly: bool = False,
        acl: bool = False,
        extra: tuple[str, ...] = (),
        passwords: dict[str, str] | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        """``passwords``: the users' (nodes of one cluster share them; default: new ones).
        ``config``: settings written to the node's own config file, not its command line
        (``masterauth`` is a secret)."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.binary, self.directory, self.appendonly, self.extra = (
            binary,
            directory,
            appendonly,
            extra,
        )
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)
        if acl:
            self.passwords = passwords or {user: secrets.token_hex(16) for user in USERS}
        else:
            self.passwords = {}
        self.config = directory / "redis.conf"
        self.config.write_text("".join(f"{k} {v}\n" for k, v in (config or {}).items()))
        self.config.chmod(0o600)
        self.aclfile = directory / "users.acl"
        if acl:
            env = {f"{u.upper()}_REDIS_PASSWORD": p for u, p in self.passwords.items()}
            source = ROOT / "redis-acl"
            render = [
                "sh",
                str(source / "render-acl.sh"),
                str(source / "users.acl"),
                str(self.aclfile),
            ]
            subprocess.run(render, env={**os.environ, **env}, check=True)

    @property
    def url(self) -> str:
        """Full access: the admin user when ACLs are on."""
        return self.url_for("admin")

    def url_for(self, user: str) -> str:
        if not self.passwords:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"redis://{user}:{self.passwords[user]}@127.0.0.1:{self.port}/0"

    def client(self, **options: object) -> redis.Redis:
        """A synchronous admin client, for tests to look inside."""
        return redis.Redis.from_url(self.url, **options)

    def start(self) -> RedisServer:
        args = [
            self.binary,
            str(self.config),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--appendonly",
            "yes" if self.appendonly else "no",
            # Durability under test: fsync every write before replying (see the fault suite).
            "--appendfsync",
            "always",
            *self.extra,
        ]
        if self.passwords:
            args += ["--aclfile", str(self.aclfile)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        eventually(client.ping, timeout=10, what=f"redis-server on {self.port}")
        client.close()
        return self

    def pause(self) -> None:
        """SIGSTOP: the server holds its connections and answers nothing (a slow node, or a
        replica that takes no more of its primary's writes) until :meth:`resume`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        terminate(self.process)
