"""Applying the nemesis's faults to a deployment, healing them, and telling about them: each
fault and its healing go to ``faults.jsonl`` and, as events in the project's envelope, to the
Redis stream ``{chaos}:faults`` (types ``FaultInjected`` and ``FaultHealed``, data ``{run,
seed, kind, target, detail}``), which the console can show as they happen.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from eventkit import Event

from chaos.deployment import AnyDeployment
from chaos.history import Clock, Recorder
from chaos.nemesis import Fault

FAULTS_STREAM = "{chaos}:faults"
INJECTED, HEALED = "FaultInjected", "FaultHealed"


def fault_event(
    kind: str, run: str, seed: int, fault: str, target: str, detail: dict[str, Any]
) -> Event:
    """The event for ``{chaos}:faults``: ``kind`` FaultInjected or FaultHealed (docs/chaos.md)."""
    data = {"run": run, "seed": seed, "kind": fault, "target": target, "detail": detail}
    return Event(source="chaos", type=kind, subject=target, data=data)


class Announcer:
    """Publishes fault events from a thread of its own: the fault may be that Redis is down or
    unreachable, so an event waits (in order) until it can be written."""

    def __init__(self, deployment: AnyDeployment, run: str, seed: int) -> None:
        self.deployment, self.run, self.seed = deployment, run, seed
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.published = 0
        self._thread = threading.Thread(target=self._drain, daemon=True, name="announcer")
        self._thread.start()

    def tell(self, kind: str, fault: Fault, target: str, detail: dict[str, Any]) -> None:
        self.events.put(fault_event(kind, self.run, self.seed, fault.kind, target, detail))

    def close(self, timeout: float = 15) -> None:
        self.events.put(None)
        self._thread.join(timeout=timeout)

    def _drain(self) -> None:
        client = None
        while (event := self.events.get()) is not None:
            for _ in range(60):  # ~ a minute of trying, then the event is dropped
                try:
                    client = client or self.deployment.admin()
                    client.xadd(FAULTS_STREAM, event.to_fields(), maxlen=10000)
                    self.published += 1
                    break
                except Exception:
                    client = None
                    threading.Event().wait(1.0)
        if client is not None:
            client.close()


class Faults:
    """Applies and heals faults, and records each: what a kind of fault does is the
    deployment's (``inflict``/``heal``: chaos.process_faults, chaos.compose)."""

    def __init__(
        self,
        deployment: AnyDeployment,
        log: Recorder,
        clock: Clock,
        tell: Announcer,
    ):
        self.deployment, self.log, self.clock, self.tell = deployment, log, clock, tell
        self.active: dict[int, tuple[Fault, str, float]] = {}  # id(fault) -> (it, target, start)
        self._dropped: dict[int, int] = {}  # id(fault) -> its proxy's lost replies before it
        self._lock = threading.Lock()

    def apply(self, fault: Fault) -> None:
        target = self.deployment.resolve(fault.target)  # "primary:payments": that node now
        proxy = self.deployment.net.proxies.get(target)
        self._dropped[id(fault)] = proxy.dropped if proxy is not None else 0
        now = self.clock.now()  # a failover takes seconds: its band starts as it is asked for
        detail = self.deployment.inflict(fault, target)
        with self._lock:
            self.active[id(fault)] = (fault, target, now)
        self.tell.tell(INJECTED, fault, target, detail | fault.params)
        if fault.duration == 0:
            self.heal(fault)

    def heal(self, fault: Fault) -> None:
        with self._lock:
            if id(fault) not in self.active:
                return
            _, target, start = self.active.pop(id(fault))
        self.deployment.heal(fault, target)
        end = self.clock.now()
        detail: dict[str, Any] = {"seconds": round(end - start, 3)}
        if fault.kind == "drop":  # how many replies the servers sent went nowhere
            lost = self.deployment.net.proxies[target].dropped - self._dropped.pop(id(fault), 0)
            detail["replies_lost"] = lost
        record = {"kind": fault.kind, "target": target, "start": start, "end": end}
        self.log.write(record | {"detail": detail, "planned": fault.to_dict()})
        self.tell.tell(HEALED, fault, target, detail)

    def heal_all(self) -> None:
        for fault, _, _ in list(self.active.values()):
            try:
                self.heal(fault)
            except Exception as exc:  # the others must heal all the same
                print(f"chaos: healing {fault.kind} failed: {type(exc).__name__}: {exc}")
