"""What each fault does to the process deployments (chaos.deployment), and how it heals: a
service process or a Redis node signalled, killed and started again, a cluster primary failed
over, the run's SMTP server stopped, or one of the run's proxies (harness.network) told to hold,
refuse, delay, drop or cut. The Docker stack's faults are the engine's (chaos.compose).
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from chaos.layout import is_role_target, node_for, replica_of
from chaos.nemesis import Fault
from harness import RedisCluster

if TYPE_CHECKING:
    from chaos.deployment import Deployment


def resolve(d: Deployment, target: str) -> str:
    """The node a role target names now (``primary:payments``: whichever node that is)."""
    return d.node_name(node_for(d, target)) if is_role_target(target) else target


def inflict(d: Deployment, fault: Fault, target: str) -> dict[str, Any]:
    kind = fault.kind
    if kind == "kill":
        d.kill(target)
    elif kind == "pause":
        d.processes[target].signal(signal.SIGSTOP)
    elif kind == "redis-kill":
        d.nodes[0].kill(signal.SIGKILL)
    elif kind in ("redis-pause", "node-pause"):
        d.node(_node_name(target)).pause()
    elif kind == "primary-kill":
        d.node(target).kill(signal.SIGKILL)
    elif kind == "failover":  # promote the primary's replica; the old primary follows
        assert isinstance(d.backend, RedisCluster)  # the nemesis draws failovers there only
        replica = replica_of(d.backend, d.node(target))
        d.backend.failover(replica)
        return {"promoted": d.node_name(replica)}
    elif kind == "smtp-down":
        d.mailbox.down()
    else:
        proxy = d.net.proxies[target]
        if kind == "partition":
            proxy.blackhole()
        elif kind == "partition-refuse":
            proxy.refuse()
        elif kind in ("latency", "slow-callback"):
            proxy.set_delay(fault.params["delay_s"])
        elif kind == "drop":
            proxy.set_drop(fault.params["probability"])
        elif kind == "cut":
            proxy.cut()
        else:
            raise ValueError(f"{kind}: not a fault of the process deployments")
    return {}


def heal(d: Deployment, fault: Fault, target: str) -> None:
    kind = fault.kind
    if kind == "kill":
        d.restart(target)
    elif kind == "pause":
        d.processes[target].signal(signal.SIGCONT)
    elif kind == "redis-kill":
        d.restart_node(d.nodes[0])
    elif kind in ("redis-pause", "node-pause"):
        d.node(_node_name(target)).resume()
    elif kind == "primary-kill":
        d.restart_node(d.node(target))
    elif kind == "smtp-down":
        d.mailbox.up()
    elif target in d.net.proxies:  # partition, latency, drop, slow call back
        d.net.proxies[target].heal()


def _node_name(target: str) -> str:
    return target if target.startswith("redis") else f"redis-{target}"
