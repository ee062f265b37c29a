"""One chaos run: start the deployment, let the clients and the nemesis loose for
``duration`` seconds, heal every fault, wait for the system to quiesce, read the final state,
check it, report. Whatever happens (an error, Ctrl-C, SIGTERM), every fault is healed and every
process the run started is stopped (the ``finally`` below; SIGTERM is turned into the same
cancellation as Ctrl-C).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import RedisClusterException

from chaos import report
from chaos.checker import check
from chaos.compose import ComposeDeployment
from chaos.deployment import AnyDeployment, Deployment
from chaos.faults import Announcer, Faults
from chaos.history import Clock, Recorder
from chaos.nemesis import Fault, schedule
from chaos.state import in_motion, read_state
from chaos.supervisor import wait
from chaos.workload import Client, Urls


@dataclass
class Options:
    seed: int = 1
    duration: float = 60.0
    rate: float = 0.25  # faults per second, on average
    clients: int = 6
    cluster: bool = False
    out: Path = Path(".chaos")
    console: int | None = None  # a port: run the console there, to watch
    kinds: set[str] | None = None  # only these kinds of fault (default: every kind)
    settle: float = 90.0  # after the faults healed: how long the system gets to settle
    aof: bool = True  # False: Redis without its append-only file (loses writes when killed)
    compose: bool = False  # on the Docker stack (chaos.compose) instead of processes


def run_id(options: Options) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-seed{options.seed}-{report.deployment_name(options)}"


async def run(options: Options) -> dict[str, Any]:
    """The run's summary (chaos.report); the files are in ``options.out/<run>/``."""
    name = run_id(options)
    directory = options.out.resolve() / name
    directory.mkdir(parents=True, exist_ok=True)
    plan = schedule(
        options.seed,
        options.duration,
        options.rate,
        cluster=options.cluster,
        only=options.kinds,
        compose=options.compose,
    )
    (directory / "schedule.json").write_text(json.dumps([f.to_dict() for f in plan], indent=1))
    deployment: AnyDeployment = (
        ComposeDeployment(directory / "system", seed=options.seed)
        if options.compose
        else Deployment(
            directory / "system",
            cluster=options.cluster,
            seed=options.seed,
            console=options.console,
            aof=options.aof,
        )
    )
    history = Recorder(directory / "history.jsonl")
    fault_log = Recorder(directory / "faults.jsonl")
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, _cancel, task)
    announcer: Announcer | None = None
    faults: Faults | None = None
    try:
        print(f"chaos: {name}: starting the deployment", flush=True)
        await asyncio.to_thread(deployment.start)
        clock = Clock()
        if options.console is not None:
            print(f"chaos: the console: http://127.0.0.1:{options.console}/", flush=True)
        announcer = Announcer(deployment, name, options.seed)
        faults = Faults(deployment, fault_log, clock, announcer)
        print(f"chaos: {len(plan)} faults planned over {options.duration:.0f} s", flush=True)
        await _load(options, name, deployment, history, clock, faults, plan)
        await asyncio.to_thread(faults.heal_all)
        print("chaos: workload done, faults healed; waiting for the system to settle", flush=True)
        state, anomalies = await _quiesce(deployment, history.records, options.settle)
        (directory / "state.json").write_text(json.dumps(state, default=str))
        announcer.close(timeout=15)  # every fault event written before the count
        summary = report.summarise(
            name,
            options,
            history.records,
            fault_log.records,
            state,
            anomalies,
            directory,
            announcer.published,
        )
        return summary
    finally:
        if faults is not None:
            faults.heal_all()
        if announcer is not None:
            announcer.close(timeout=5)
        try:
            deployment.stop()  # on the Docker stack it fails if the project left anything
        finally:
            (directory / "pids.json").write_text(json.dumps(sorted(deployment.started)))
            history.close()
            fault_log.close()


def _cancel(task: asyncio.Task[Any]) -> None:
    print("chaos: SIGTERM: healing and stopping", flush=True)
    task.cancel()


async def _load(
    options: Options,
    name: str,
    deployment: AnyDeployment,
    history: Recorder,
    clock: Clock,
    faults: Faults,
    plan: list[Fault],
) -> None:
    urls = Urls(*(deployment.url(s) for s in ("payments", "orders", "notifications")))
    stop = asyncio.Event()
    clients = [Client(n, name, options.seed, urls, history, clock) for n in range(options.clients)]
    workers = [asyncio.create_task(c.run_until(stop)) for c in clients]
    nemesis = [asyncio.create_task(_fault(f, faults, clock)) for f in plan]
    supervisor = asyncio.create_task(_supervise(deployment, clock, history))
    try:
        await asyncio.sleep(options.duration)
        stop.set()
        if nemesis:  # a short run may draw no fault at all
            await asyncio.wait(nemesis)
        await asyncio.to_thread(faults.heal_all)
        # The clients finish the intent in hand (a keyed write retries up to 30 s).
        _, late = await asyncio.wait(workers, timeout=45)
        for worker in late:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    finally:
        for task in (*nemesis, supervisor, *workers):
            task.cancel()
        await asyncio.gather(*nemesis, supervisor, *workers, return_exceptions=True)


async def _fault(fault: Fault, faults: Faults, clock: Clock) -> None:
    await asyncio.sleep(max(0.0, fault.at - clock.now()))
    try:
        await asyncio.to_thread(faults.apply, fault)
        await asyncio.sleep(max(0.0, fault.end - clock.now()))
    except Exception as exc:  # the run goes on; the fault is healed below
        print(f"chaos: {fault.kind} on {fault.target} failed: {type(exc).__name__}: {exc}")
    finally:
        await asyncio.to_thread(faults.heal, fault)


async def _supervise(deployment: AnyDeployment, clock: Clock, history: Recorder) -> None:
    while True:
        for name in await asyncio.to_thread(deployment.supervise, clock.now()):
            print(f"chaos: {name} exited by itself; restarted (see its log)", flush=True)
        await asyncio.sleep(0.5)


def _at_rest(deployment: AnyDeployment) -> bool:
    """Nothing left in motion. A Redis that cannot be read is not at rest yet: the full read
    after the wait reports what is wrong."""
    try:
        admin = deployment.admin()
        try:
            return in_motion(admin) == 0
        finally:
            admin.close()
    except (redis.RedisError, RedisClusterException):
        return False


async def _quiesce(
    deployment: AnyDeployment, history: list[dict[str, Any]], settle: float
) -> tuple[Any, Any]:
    """Read and check the state until it is clean or ``settle`` s passed: consumers, mail and
    projections catch up after the last fault; what is still wrong then is an anomaly."""
    deadline = time.monotonic() + settle
    await asyncio.to_thread(wait, deployment.healthy, settle / 2)
    while True:
        # The full read costs seconds (an HTTP read per payment): first let what is still in
        # motion (unread or pending entries, unsent mail) come to rest, which is cheap to see.
        await asyncio.to_thread(wait, lambda: _at_rest(deployment), deadline - time.monotonic())
        await asyncio.to_thread(deployment.supervise, -1.0)
        state = await read_state(deployment, history)
        anomalies = check(history, state)
        kinds = Counter(a.kind for a in anomalies)
        print(f"chaos: settling: {dict(kinds) or 'clean'}", flush=True)
        if not anomalies or time.monotonic() > deadline:
            return state, anomalies
        await asyncio.sleep(1.0)
