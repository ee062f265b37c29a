"""Writes that replicas confirm: ``WAIT``, on the connection that made the write.

Redis replicates asynchronously: a primary answers a write before any replica has it, and a
primary that dies right then takes the write along; the replica promoted in its place never
saw it. ``WAIT n timeout`` blocks until ``n`` replicas acknowledged every write made *on its
own connection*, or the timeout passed, and says how many did. So a write and its WAIT go down
one connection, as one pipeline:

- a single Redis: any pipeline (a pipeline holds one connection);
- a Redis Cluster: a cluster client picks a node per command, and WAIT names no key to pick it
  by, so a plain client of the node that serves the key's slot carries both.

A write confirmed by ``n`` replicas survives the loss of its primary, as long as a confirming
replica is the one promoted (with one replica per primary, it is the only candidate). It is
still only in the replicas' memory: a whole shard lost at once loses it unless they also write
it to disk (appendfsync), which WAIT does not wait for.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis import exceptions
from redis.asyncio import Redis, RedisCluster
from redis.commands.core import AsyncScript

from eventkit.connection import Client, connect, unavailable

# A counter beside each partition's keys, for mark(): about the cheapest write there is.
MARK = "replicated"


@dataclass(frozen=True)
class Replication:
    replicas: int | None = None  # confirmations a write needs; None: 1 if there are replicas
    timeout_ms: int = 100


class NotReplicated(Exception):
    """The write is on the primary, but fewer replicas than required confirmed it in time: if
    the primary died now, it would be lost. Whoever retries the same write (an idempotent
    one) finds it and waits for the replicas again. ``location``: where what was written can
    be read back (an API path), for a caller whose retry would not find it but make another;
    the layer that knows it sets it."""

    def __init__(self, key: str, confirmed: int, required: int, timeout_ms: int) -> None:
        super().__init__(
            f"{key}: {confirmed} of the {required} replicas required confirmed the write "
            f"within {timeout_ms} ms"
        )
        self.confirmed, self.required = confirmed, required
        self.location: str | None = None


class ReplicatedWrites:
    """Runs a write script, then WAITs on its connection, when replication is required."""

    # A cluster lists its replicas a moment after it says ok: how long to trust a layout that
    # shows none before reading it again.
    look_again_s = 5.0

    def __init__(self, redis: Client, replication: Replication) -> None:
        self.redis, self.replication = redis, replication
        self._required: int | None = replication.replicas
        self._looked_at = 0.0  # when the layout was last read for replicas (monotonic)
        self._nodes: dict[str, Redis] = {}  # node "host:port" → a plain client of it

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """``script``'s reply; :class:`NotReplicated` if too few replicas confirmed it."""
        required = await self.required()
        if not required:
            return await script(keys=keys, args=args)
        reply, confirmed = await self._with_wait(required, keys[0], script, keys, args)
        if confirmed < required:
            raise NotReplicated(keys[0], confirmed, required, self.replication.timeout_ms)
        return reply

    async def mark(self, tag: str) -> None:
        """Wait until the replicas hold everything the primary of ``tag``'s slot holds now: a
        write of our own there (INCRBY of ``<tag>:replicated``), confirmed, comes after all of
        it in the replication stream. For an answer read back rather than written (a retried
        request finding its earlier write)."""
        required = await self.required()
        if not required:
            return
        key = f"{tag}:{MARK}"
        _, confirmed = await self._with_wait(required, key, None, [key], [])
        if confirmed < required:
            raise NotReplicated(key, confirmed, required, self.replication.timeout_ms)

    async def required(self) -> int:
        """The confirmations a write needs: as configured; unset, 1 once the cluster has shown
        a replica (then for good: a replica lost must show as writes not confirmed, not as
        writes nobody waits for), none on a single Redis (replicas, if any, are set
        explicitly). A cluster client that learnt the layout right after the cluster formed
        may see no replica yet: with none seen, the layout is read again at most every
        ``look_again_s`` (failed before: a service started with the cluster never waited)."""
        if self._required is not None:
            return self._required
        if not isinstance(self.redis, RedisCluster):
            self._required = 0
            return 0
        await self.redis.initialize()  # learns the nodes; does nothing if it knows them
        if not self._replica_seen() and time.monotonic() - self._looked_at >= self.look_again_s:
            self._looked_at = time.monotonic()
            await self._relearn()
        if self._replica_seen():
            self._required = 1
            return 1
        return 0

    def _replica_seen(self) -> bool:
        assert isinstance(self.redis, RedisCluster)
        return any(n.server_type == "replica" for n in self.redis.get_nodes())

    async def _with_wait(
        self,
        required: int,
        key: str,
        script: AsyncScript | None,
        keys: Sequence[str],
        args: Sequence[Any],
    ) -> tuple[Any, int]:
        """[the write, WAIT for ``required`` replicas] in one pipeline on the connection of
        ``key``'s primary."""
        client = await self._client_for(key)
        try:
            async with client.pipeline(transaction=False) as pipe:
                if script is None:
                    pipe.incrby(key, 1)
                else:
                    await script(keys=keys, args=args, client=pipe)  # buffered, NOSCRIPT-safe
                pipe.execute_command("WAIT", required, self.replication.timeout_ms)
                reply, confirmed = await pipe.execute()
        except (exceptions.AskError, exceptions.ConnectionError, exceptions.TimeoutError):
            # The node no longer serves the slot (MOVED after a failover) or is gone.
            await self._relearn()
            raise
        return reply, int(confirmed)

    async def _client_for(self, key: str) -> Redis:
        if isinstance(self.redis, Redis):
            return self.redis
        await self.redis.initialize()
        node = self.redis.get_node_from_key(key)
        client = self._nodes.get(node.name)
        if client is None:
            client = self._nodes[node.name] = _node_client(self.redis, node.host, node.port)
        return client

    async def _relearn(self) -> None:
        """Let the cluster client re-read the layout (CLUSTER SLOTS), so that a retry goes to
        the slot's new primary. No command on a key: the service's user may not be allowed
        any but its write there (the mark key: INCRBY only)."""
        if isinstance(self.redis, Redis):
            return
        try:
            await self.redis.nodes_manager.initialize()
        except (exceptions.RedisError, exceptions.RedisClusterException) as exc:
            if not unavailable(exc):
                raise
            # Still failing over: the caller raises its own error, and the next call relearns.

    async def aclose(self) -> None:
        for client in self._nodes.values():
            await client.aclose()
        self._nodes.clear()


def _node_client(cluster: RedisCluster, host: str, port: int) -> Redis:
    """A plain client of one node, logged in as the cluster client is."""
    options = cluster.get_connection_kwargs()
    user = urllib.parse.quote(str(options.get("username") or ""), safe="")
    password = urllib.parse.quote(str(options.get("password") or ""), safe="")
    credentials = f"{user}:{password}@" if user or password else ""
    # Demo shortcut: plain TCP, as the cluster client here; with TLS, pass its ssl options on.
    name = options.get("client_name")
    return connect(f"redis://{credentials}{host}:{port}/0", name=str(name) if name else None)
