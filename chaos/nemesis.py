"""The nemesis's schedule: which faults, on what, when and for how long, drawn from
``random.Random(seed)`` alone, so that a seed names one run's faults (pure: no I/O here;
chaos.faults applies them).

Faults may overlap (combinations are the point), but at most ``MAX_AT_ONCE`` at a time, never
two on one target, and never two on Redis at once: with one replica per primary, killing a
primary and its replica together loses writes any deployment of this shape would lose.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_AT_ONCE = 2
SERVICES = ("payments", "orders", "orders-2", "notifications", "mailer")
REDIS_USERS = ("payments", "orders", "notifications")
# kind -> weight. Instant kinds (cut, failover) have no duration: the fault is one event.
STANDALONE = {
    "kill": 3,
    "pause": 2,
    "redis-kill": 2,
    "redis-pause": 1,
    "partition": 2,
    "partition-refuse": 1,
    "latency": 2,
    "drop": 2,
    "cut": 1,
    "smtp-down": 1,
    "slow-callback": 1,
}
CLUSTER = {
    "kill": 3,
    "pause": 2,
    "primary-kill": 2,
    "failover": 2,
    "node-pause": 1,
    "partition": 2,
    "latency": 2,
    "drop": 2,
    "cut": 1,
    "smtp-down": 1,
    "slow-callback": 1,
}
# The Docker stack (chaos.compose): the engine's faults on its containers; a partition cuts
# one service's container off the project network.
COMPOSE = {
    "kill": 3,
    "pause": 2,
    "redis-kill": 2,
    "redis-pause": 1,
    "partition": 2,
    "smtp-down": 1,
}
COMPOSE_SERVICES = ("payments", "orders", "notifications")
INSTANT = {"cut", "failover"}
ON_REDIS = {"redis-kill", "redis-pause", "primary-kill", "failover", "node-pause"}
TAGS = ("payments", "orders", "notifications")  # the services' hash tags (their keys' slots)


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the workload starts
    kind: str
    target: str
    duration: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.at + self.duration

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def schedule(
    seed: int,
    duration: float,
    rate: float,
    *,
    cluster: bool,
    only: set[str] | None = None,
    compose: bool = False,
) -> list[Fault]:
    """Faults starting from 2 s in, about ``rate`` per second (exponential gaps), each healed
    no later than 3 s before the end of the workload; ``only``: of these kinds alone;
    ``compose``: the Docker stack's kinds and containers."""
    rng = random.Random(seed)
    every = COMPOSE if compose else CLUSTER if cluster else STANDALONE
    kinds = {k: w for k, w in every.items() if only is None or k in only}
    if not kinds:
        raise ValueError(f"no fault kind of {sorted(only or ())} on this deployment")
    names, weights = list(kinds), list(kinds.values())
    faults: list[Fault] = []
    at = 2.0
    while True:
        at += rng.expovariate(rate) if rate > 0 else duration
        if at >= duration - 5:
            return faults
        kind = rng.choices(names, weights)[0]
        length = 0.0 if kind in INSTANT else round(rng.uniform(2.0, 8.0), 2)
        length = round(min(length, max(0.0, duration - 3 - at)), 2)
        target = _compose_target(rng, kind) if compose else _target(rng, kind, cluster)
        fault = Fault(round(at, 2), kind, target, length, _params(rng, kind))
        if _fits(fault, faults):
            faults.append(fault)


def _target(rng: random.Random, kind: str, cluster: bool) -> str:
    if kind in ("kill", "pause"):
        return rng.choice(SERVICES)
    if kind in ("redis-kill", "redis-pause"):
        return "redis"
    if kind in ("primary-kill", "failover"):
        return f"primary:{rng.choice(TAGS)}"  # the primary of that service's keys, then
    if kind == "smtp-down":
        return "smtp"
    if kind == "slow-callback":
        return "callback"
    if cluster:  # a node holding a service's keys, as every client reaches it (its proxy)
        return f"{'primary' if rng.random() < 0.75 else 'replica'}:{rng.choice(TAGS)}"
    return f"redis:{rng.choice(REDIS_USERS)}"  # one service's link to Redis


def _compose_target(rng: random.Random, kind: str) -> str:
    if kind in ("redis-kill", "redis-pause"):
        return "redis"
    if kind == "smtp-down":
        return "smtp"
    return rng.choice(COMPOSE_SERVICES)  # kill, pause, partition: a service's container


def _params(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "latency":
        return {"delay_s": round(rng.uniform(0.05, 0.5), 3)}
    if kind == "drop":
        return {"probability": round(rng.uniform(0.05, 0.3), 3)}
    if kind == "slow-callback":
        return {"delay_s": round(rng.choice([0.3, 1.5, 2.5]), 3)}
    return {}


def _fits(fault: Fault, faults: list[Fault]) -> bool:
    active = [f for f in faults if f.at <= fault.at <= f.end + 1.0]  # 1 s to settle
    if len(active) >= MAX_AT_ONCE:
        return False
    if any(f.target == fault.target for f in active):
        return False
    return not (fault.kind in ON_REDIS and any(f.kind in ON_REDIS for f in active))
