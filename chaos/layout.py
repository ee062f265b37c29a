"""Which node of the cluster holds a service's keys now: the nemesis names its cluster targets
by what they serve (``primary:payments``, ``replica:orders``), so that a fault hits the data of
a service whatever failovers happened before, and this finds the node when the fault starts.

It reads ``CLUSTER NODES`` from a running node (directly, not through a proxy): the slot of the
service's hash tag, the primary serving it, a replica of that primary. Addresses there are the
announced ones (the nodes' proxies).
"""

from __future__ import annotations

from typing import Any

from harness import RedisCluster, RedisServer

ROLES = ("primary", "replica")


def is_role_target(target: str) -> bool:
    return target.partition(":")[0] in ROLES


def node_for(deployment: Any, target: str) -> RedisServer:
    """The node that is ``target`` (``<role>:<service>``) now."""
    role, _, tag = target.partition(":")
    node = next(n for n in deployment.nodes if n.process is not None and n.process.poll() is None)
    client = node.client(decode_responses=True)
    try:
        slot = int(client.execute_command("CLUSTER", "KEYSLOT", f"{{{tag}}}"))
        text = str(client.execute_command("CLUSTER", "NODES"))
    finally:
        client.close()
    lines = [line.split() for line in text.splitlines() if line.strip()]
    primary = next(f for f in lines if "master" in f[2] and serves(f[8:], slot))
    chosen = primary
    if role == "replica":
        chosen = next((f for f in lines if f[3] == primary[0] and "fail" not in f[2]), primary)
    port = int(chosen[1].split("@")[0].rsplit(":", 1)[1])
    for candidate in deployment.nodes:
        if port in (candidate.port, deployment.proxy_of(candidate).port):
            return candidate
    raise LookupError(f"no node of this run at port {port} ({target})")


def serves(ranges: list[str], slot: int) -> bool:
    for part in ranges:
        if part.startswith("["):  # a slot being migrated or imported: not served here yet
            continue
        low, _, high = part.partition("-")
        if int(low) <= slot <= int(high or low):
            return True
    return False


def replica_of(cluster: RedisCluster, primary: RedisServer) -> RedisServer:
    """A running replica of ``primary`` (by its node id)."""
    node_id = _myself(primary)[0]
    return next(
        n for n in cluster.running() if cluster.role(n) == "slave" and _myself(n)[3] == node_id
    )


def _myself(node: RedisServer) -> list[str]:
    """The node's own line of ``CLUSTER NODES``: id, address, flags, its primary's id, …"""
    client = node.client(decode_responses=True)
    try:
        text = str(client.execute_command("CLUSTER", "NODES"))
    finally:
        client.close()
    return next(line for line in text.splitlines() if "myself" in line).split()
