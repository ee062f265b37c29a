"""A real local Redis Cluster: six ``redis-server`` processes on loopback ports, three primaries
and three replicas, formed with ``redis-cli --cluster create``, loading the project's ACL file.

Short ``cluster-node-timeout`` (2 s) so that a killed primary is replaced within seconds; AOF with
``appendfsync always`` as the single server under test has (unless ``appendonly=False``); replicas
log in to their primary as the admin user (``masteruser``/``masterauth`` in each node's own
config file, never a command line).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import TypeAlias

import redis

from harness.polling import eventually
from harness.processes import free_port
from harness.redis_server import USERS, RedisServer

NODE_TIMEOUT_MS = 2000
# A synchronous admin client of a single server or of a cluster: tests look inside with either.
Admin: TypeAlias = redis.Redis | redis.RedisCluster


class RedisCluster:
    def __init__(
        self, directory: Path, *, nodes: int = 6, replicas: int = 1, appendonly: bool = True
    ) -> None:
        """``appendonly=False``: no AOF (the benchmark compares it with a Redis that has none)."""
        self.directory, self.replicas = directory, replicas
        self.passwords = {user: secrets.token_hex(16) for user in USERS}
        self.nodes = [
            RedisServer(
                directory / f"node-{n}",
                appendonly=appendonly,
                acl=True,
                passwords=self.passwords,
                config={
                    "cluster-enabled": "yes",
                    "cluster-config-file": "nodes.conf",
                    "cluster-node-timeout": str(NODE_TIMEOUT_MS),
                    # Its bus port, chosen free: port + 10000 may not be.
                    "cluster-port": str(free_port()),
                    "masteruser": "admin",
                    "masterauth": self.passwords["admin"],
                    # DEBUG SEGFAULT and friends, for failover tests, from loopback only.
                    "enable-debug-command": "local",
                },
            )
            for n in range(nodes)
        ]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def url_for(self, user: str) -> str:
        """A URL naming one node; a cluster client finds the others from it."""
        return self.nodes[0].url_for(user)

    @property
    def url(self) -> str:
        return self.url_for("admin")

    def client(self) -> redis.RedisCluster:
        """A synchronous admin client of the whole cluster, for tests to look inside."""
        return redis.RedisCluster.from_url(self.url)

    def start(self) -> RedisCluster:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [
                "redis-cli",
                "--user",
                "admin",
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            env={**os.environ, "REDISCLI_AUTH": self.passwords["admin"]},
            check=True,
            capture_output=True,
            timeout=60,
        )
        eventually(self.formed, timeout=60, what="the cluster to be formed, replicas attached")
        return self

    def healthy(self) -> bool:
        """Every running node says the cluster is ok and knows every other node, and every
        running replica is linked to its primary (and has synced)."""
        for node in self.running():
            client = node.client(decode_responses=True)
            try:
                info = str(client.execute_command("CLUSTER", "INFO"))
                known = str(client.execute_command("CLUSTER", "NODES"))
                role = client.execute_command("ROLE")
            finally:
                client.close()
            if "cluster_state:ok" not in info or len(known.splitlines()) != len(self.nodes):
                return False
            if role[0] == "slave" and role[3] != "connected":
                return False
        return True

    def formed(self) -> bool:
        """Healthy, with every replica ``create`` assigned in place: they attach to their
        primaries a moment after the cluster says ok."""
        replicas = [n for n in self.running() if self.role(n) == "slave"]
        expected = len(self.nodes) // (self.replicas + 1) * self.replicas
        return len(replicas) == expected and self.healthy()

    def running(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def node_at(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def primary_of(self, key: str) -> RedisServer:
        """The node that serves ``key``'s slot now."""
        client = self.client()
        try:
            node = client.get_node_from_key(key)
            return self.node_at(int(node.port))
        finally:
            client.close()

    def replica_of(self, primary: RedisServer) -> RedisServer:
        """A replica of ``primary`` (with ``replicas=1``, its only one). Right after a
        failover the new primary may not list its replica yet (gossip): asked until it does."""

        def replicas() -> list[str]:
            admin = primary.client(decode_responses=True)
            try:
                own_id = admin.execute_command("CLUSTER", "MYID")
                return list(admin.execute_command("CLUSTER", "REPLICAS", own_id))
            finally:
                admin.close()

        lines = eventually(replicas, timeout=10, what=f"a replica of {primary.port} listed")
        address = str(lines[0]).split()[1]  # "<id> 127.0.0.1:<port>@<bus port> slave …"
        return self.node_at(int(address.split("@")[0].rsplit(":", 1)[1]))

    def role(self, node: RedisServer) -> str:
        """ "master" or "slave", as the node itself says."""
        admin = node.client(decode_responses=True)
        try:
            return str(admin.execute_command("ROLE")[0])
        finally:
            admin.close()

    def failover(self, replica: RedisServer) -> None:
        """A manual failover: the replica takes its primary's slots, without losing a write
        (CLUSTER FAILOVER waits for it to catch up first), and the primary becomes its replica.
        A replica that only just attached may let the request time out (5 s): ask again —
        unless an earlier request took effect after its wait (a loaded machine): a primary
        refuses CLUSTER FAILOVER with an error."""

        def promoted() -> bool:
            if self.role(replica) == "master":
                return True
            admin = replica.client()
            try:
                admin.execute_command("CLUSTER", "FAILOVER")
            finally:
                admin.close()
            try:
                eventually(lambda: self.role(replica) == "master", timeout=7, what="promotion")
            except AssertionError:
                return False
            return True

        eventually(promoted, timeout=30, interval=0.5, what=f"{replica.port} to take over")
        eventually(self.healthy, timeout=30, what="the cluster to be ok after the failover")
        # The nodes learn of the promotion by gossip: until each says so, a client that reads
        # the layout from a node that has not heard yet gets MOVED on its first command.
        eventually(self.agreed, timeout=30, what="every node to name the new primary")

    def agreed(self) -> bool:
        """Every running node gives the same layout (CLUSTER SLOTS: each range's primary)."""
        layouts = set()
        for node in self.running():
            client = node.client()
            try:
                slots = client.execute_command("CLUSTER", "SLOTS")
            finally:
                client.close()
            layouts.add(frozenset((int(r[0]), int(r[1]), int(r[2][1])) for r in slots))
        return len(layouts) == 1

    def kill(self, node: RedisServer) -> None:
        node.kill(signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
