"""How every part of the project connects to Redis, and how it reads Redis's errors.

Convention: ``decode_responses=False``. Replies are bytes and eventkit decodes stream entries
itself, strictly, so that an entry that is not UTF-8 is dead-lettered with its bytes intact
instead of crashing the read that fetched it.

Errors come in three kinds, and every caller treats each kind the same way:

- **unavailable** (:func:`unavailable`): Redis cannot serve us *now* and will later — refused,
  reset, timed out, loading, out of memory, a read-only replica after a failover, too few
  replicas for ``min-replicas-to-write`` (NOREPLICAS), a failed append-only-file write
  (MISCONF), a long script running (BUSY), a cluster failing over (CLUSTERDOWN, TRYAGAIN,
  MASTERDOWN), a cluster client that reaches no node or finds a slot nobody serves. Wait with
  backoff and retry; never a reason to fail an event; HTTP answers 503.
- **misconfigured** (:func:`misconfigured`): it will not pass by itself — wrong credentials, a
  command or key the ACL refuses (NOPERM), a command this Redis does not know. A consumer stops
  and the process exits non-zero with the reason, so a supervisor restarts it or an operator
  sees it, rather than looking healthy while it consumes nothing.
- anything else: the command's own fault (e.g. WRONGTYPE on a key an event named): the caller
  decides (a handler's failure is retried, then dead-lettered).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, TypeAlias, overload

from redis import exceptions
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.connection import HiredisRespSerializer
from redis.maint_notifications import MaintNotificationsConfig

# Either client: every part of the project takes one and runs the same commands and scripts on
# it. A cluster client sends each command to the node that serves its key's hash slot, follows
# MOVED and ASK redirections, and relearns the cluster's layout after a failover.
Client: TypeAlias = Redis | RedisCluster

# Error replies that pass by themselves (the first word of the reply).
TRANSIENT_REPLIES = frozenset(
    {
        "NOREPLICAS",  # fewer replicas than min-replicas-to-write
        "MISCONF",  # the last RDB save or AOF write failed; writes resume once it works again
        "BUSY",  # a script or function runs past lua-time-limit
        "LOADING",  # still loading the dataset after a restart
        "MASTERDOWN",  # a replica lost its primary
        "TRYAGAIN",  # a cluster slot is being migrated
        "CLUSTERDOWN",  # a cluster is failing over or lost a slot
        "READONLY",  # a replica, promoted or demoted under us
        "OOM",  # maxmemory reached: a trim or an eviction frees it
        "UNBLOCKED",  # a blocking read on a primary that just became a replica (failover)
        "MOVED",  # a slot's new primary, to a client of one node (a cluster client follows it)
        "ASK",  # a slot being migrated, likewise
        # A new primary (a failover) has none of our scripts. redis-py's Script loads it on
        # NOSCRIPT for EVALSHA; in a pipeline it loads them before the pipeline, which may then
        # run on another node: the retry loads them there (found by make chaos: a mail worker
        # stopped on it).
        "NOSCRIPT",
    }
)
# Error replies that will not pass without an operator.
MISCONFIGURED_REPLIES = frozenset({"NOPERM", "WRONGPASS", "NOAUTH"})

# What a cluster client says when it cannot learn the layout although nodes answer: the slots
# are not all served (mid-failover) or the nodes disagree on them (a layout changing).
LAYOUT_UNKNOWN = ("All slots are not covered", "startup_nodes could not agree")
# What a single Redis answers to CLUSTER SLOTS.
NOT_A_CLUSTER = "This instance has cluster support disabled"

# Longer than any blocking read (see ConsumerOptions.block_ms): a BLOCK longer than the socket
# timeout would surface as a TimeoutError although nothing is wrong.
SOCKET_TIMEOUT_S = 10.0


def _code(exc: BaseException) -> str:
    """The error reply's code: redis-py keeps it apart for the codes it maps to a class of its
    own (OOM → OutOfMemoryError, with the code cut from the message), in the message for the
    others (NOREPLICAS, MISCONF, BUSY …)."""
    return getattr(exc, "status_code", None) or _message(exc).split(" ", 1)[0].upper()


# redis-py's pipeline rewrites a command's error reply as "Command # 2 (WAIT 1 100) of pipeline
# caused error: ('UNBLOCKED force unblock …',)": the reply is in the repr of its old args.
_IN_PIPELINE = re.compile(r"^Command # \d+ \(.*\) of pipeline caused error: \(['\"](.*)", re.DOTALL)


def _message(exc: BaseException) -> str:
    """The error reply as Redis sent it, also when a pipeline carried the command."""
    text = str(exc)
    found = _IN_PIPELINE.match(text)
    return found.group(1) if found else text


def _reply_under(exc: exceptions.RedisClusterException) -> BaseException | None:
    """What a node answered under a cluster client's own error: when it cannot learn the
    layout (CLUSTER SLOTS), it raises an error of its own that wraps the last node's reply."""
    inner = exc.__cause__ or exc.__context__
    while isinstance(inner, exceptions.RedisClusterException):
        inner = inner.__cause__ or inner.__context__
    return inner


def kind_of(exc: BaseException) -> str:
    """What went wrong, in a word that says nothing of where: an error reply's code (BUSY,
    NOREPLICAS, LOADING …), else the exception's type. For what anyone may read (/ready); the
    exception's text, which can name the host and port, is for the log."""
    if isinstance(exc, exceptions.ResponseError):
        return _code(exc)
    return type(exc).__name__


def misconfigured(exc: BaseException) -> bool:
    """True for an error that no retry will fix: credentials, ACL, an unknown command, a
    cluster client pointed at a server that is not in a cluster."""
    if isinstance(exc, exceptions.RedisClusterException):
        reply = _reply_under(exc)
        return reply is not None and misconfigured(reply)
    if isinstance(exc, exceptions.AuthenticationError | exceptions.AuthorizationError):
        return True
    if isinstance(exc, exceptions.NoPermissionError):
        return True
    if isinstance(exc, exceptions.ResponseError):
        message = _message(exc)
        return (
            _code(exc) in MISCONFIGURED_REPLIES
            or message.startswith("unknown command")
            # The ACL refusing a command inside a script: Redis 7.0 says so without NOPERM.
            or "The user executing the script can't" in message
            # REDIS_MODE=cluster, but the server is a single Redis.
            or message.startswith(NOT_A_CLUSTER)
        )
    return False


def unavailable(exc: BaseException) -> bool:
    """True when Redis cannot serve this now but will later: wait, then retry."""
    if misconfigured(exc):
        return False
    if isinstance(exc, exceptions.ConnectionError | exceptions.TimeoutError):
        return True
    # A cluster client's own errors: redirections that never settle, a slot nobody serves
    # (mid-failover), a layout it cannot learn because no node answers or they disagree.
    # Not its refusals of a call the code got wrong (keys of two slots in one command).
    if isinstance(exc, exceptions.ClusterError | exceptions.SlotNotCoveredError):
        return True
    if type(exc) is exceptions.RedisClusterException:
        reply = _reply_under(exc)
        return unavailable(reply) if reply is not None else str(exc).startswith(LAYOUT_UNKNOWN)
    if isinstance(exc, exceptions.ResponseError):
        return _code(exc) in TRANSIENT_REPLIES
    return False


class ProjectConnection(Connection):  # type: ignore[misc]  # redis is not type-checked (pyproject.toml)
    """redis-py's asyncio connection with two changes, used by both clients (one Redis, and
    every node of a cluster).

    **A write on a connection closed under it is a ConnectionError.** A cluster client closes
    *all* its connections when one node fails, also those other tasks are using: a consumer
    blocked on another node, a command about to be written. redis-py 8.1.0 then lets the event
    loop's own error out instead of a ConnectionError — uvloop's ``RuntimeError: unable to
    perform operation on <TCPTransport closed=True …>; the handler is closed`` (CPython 3.12+
    has a TypeError or AttributeError there) — which is no RedisError, so no retry and no loop
    of ours took it for an outage: in a failover test, notifications' consumer stopped, and the
    process with it. Checked before the write, with no await between check and write, as
    redis-py's own fix does (redis/redis-py#4287, fixed by #4288 after 8.1.0; drop this then).

    **Commands are packed with hiredis (C)**, as redis-py's synchronous connection already does
    when hiredis is installed; its asyncio one packs in Python, one argument at a time. A script
    call that applies a run of events has hundreds of arguments: measured here, 211 µs to pack
    an apply call of 100 payments in Python, 27 µs with hiredis, the same bytes."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        return self._serializer.pack(*args)

    async def _send_packed_command(self, command: Any) -> None:
        # redis-py's one write path while a socket timeout is set (always, here: connect()).
        writer = self._writer
        if writer is None or writer.transport.is_closing():
            raise exceptions.ConnectionError("the connection was closed under this command")
        writer.writelines(command)
        await writer.drain()


def read_secret(path: str | os.PathLike[str]) -> str:
    """A password kept in a file (a mounted Docker or Kubernetes secret): its text, without the
    line break an editor may have added."""
    return Path(path).read_text(encoding="utf-8").rstrip("\r\n")


def _use_project_connections(cluster: RedisCluster) -> RedisCluster:
    """The cluster client has no ``connection_class`` parameter (redis-py 8.1.0): every node it
    learns is built from its ``connection_kwargs``, and the startup nodes (which only ask for
    the layout) were built before. Both are set here, before any connection is made."""
    cluster.connection_kwargs["connection_class"] = ProjectConnection
    for node in cluster.nodes_manager.startup_nodes.values():
        node.connection_class = ProjectConnection
    return cluster


@overload
def connect(
    url: str,
    *,
    name: str | None = None,
    cluster: Literal[False] = False,
    password: str | None = None,
) -> Redis: ...
@overload
def connect(
    url: str, *, name: str | None = None, cluster: bool, password: str | None = None
) -> Client: ...
def connect(
    url: str, *, name: str | None = None, cluster: bool = False, password: str | None = None
) -> Client:
    """A client for ``url`` (``redis://[user:password@]host:port/db``). Connects lazily.

    ``cluster``: ``url`` names any node of a Redis Cluster (db 0, the only one a cluster has);
    the client learns the others from it (CLUSTER SLOTS). ``password``: for a ``url`` that
    names the user only (the password read from a file, as in compose); one in ``url`` wins."""
    # No retries by the client library: it would re-send any command whose reply was lost,
    # and most of ours are not safe to repeat (a BLMOVE takes a second message, an append
    # without a key decides again, a counter counts twice). The callers retry, each in a way
    # that is safe: the consumer loop re-reads its own pending entries (idempotent handlers), a
    # queue worker gives back what it holds, an HTTP request answers 503 for the client to
    # retry with its Idempotency-Key. (A cluster client still follows MOVED and ASK: the
    # command did not run.)
    retry = Retry(NoBackoff(), retries=0)
    if cluster:
        cluster_client = RedisCluster.from_url(
            url,
            decode_responses=False,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=2.0,
            # Also how often a command is re-sent after a node was lost: never blindly, as
            # above; a failover takes seconds, and the callers wait it out.
            retry=retry,
            client_name=name,
            password=password,
        )
        return _use_project_connections(cluster_client)
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=2.0,
        retry=retry,
        health_check_interval=15,
        client_name=name,
        connection_class=ProjectConnection,
        password=password,
        # Off: they need RESP3 and a Redis that sends them, and while "auto" (redis-py 8's
        # default) the pool skips its check of a connection it hands out, so one the server
        # closed (a Redis restart) fails the next command instead of being replaced first.
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
