"""``python -m bench``: measure the system beside its baselines; print a table; write JSON.

python -m bench                  # every figure, 3 repetitions (about 8 minutes on 2 cores)
python -m bench --quick          # smaller N, 1 repetition: a smoke run
python -m bench --figures post,e2e --reps 5
python -m bench --figures growth   # how cost grows with the data: curves and bench/plots/*.png
python -m bench --profile orders # one figure with pyinstrument → bench/profile-orders.*
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from bench import figures, report
from bench.figures import FIGURES, OPTIONAL
from bench.procs import stop_all
from bench.session import Bench, Params
from bench.table import table
from bench.wrk import WrkMissing, wrk_binary, wrk_version

HERE = Path(__file__).parent
RESULTS = HERE / "results.json"
# What each --profile runs, and which process of it runs under pyinstrument (None: in-process).
PROFILES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "post": (("post",), "payments"),
    "orders": (("orders",), "orders"),
    "peer": (("peer",), "peer"),
    "notifications": (("notifications",), "notifications"),
    "e2e": (("e2e",), "orders"),
    "rebuild": (("orders", "rebuild"), None),
    "snapshots": (("snapshots",), None),
}
# Settings the bench sets itself; any other service setting found in the environment is
# passed through to the services, and reported (the figures are then not of the defaults).
BENCH_SETS = {"REDIS_URL", "HOST", "PORT", "CONSUMER_NAME", "PAYMENTS_URL"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, 1 repetition")
    parser.add_argument("--reps", type=int, help="repetitions per figure (default 3; quick 1)")
    parser.add_argument("--n-state", type=int, help="state events in the backlog (20000)")
    parser.add_argument("--n-notify", type=int, help="thin events in the backlog (2000)")
    parser.add_argument("--wrk-secs", type=float, help="seconds per wrk run (8; quick 3)")
    parser.add_argument("--e2e-secs", type=float, help="seconds of end-to-end load (10; quick 3)")
    parser.add_argument("--e2e-rate", type=float, default=200.0, help="payments/s (200)")
    parser.add_argument(
        "--figures",
        default=",".join(f for f in FIGURES if f not in OPTIONAL),
        help=f"comma-separated subset of {','.join(FIGURES)} (default: all but "
        f"{','.join(OPTIONAL)})",
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the services' logs (and a profile's .pyisession) in the temporary directory",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help="run one figure once with pyinstrument on the process under test; writes "
        "bench/profile-<figure>.html and .txt (not results.json)",
    )
    args = parser.parse_args(argv)
    figures = tuple(f.strip() for f in args.figures.split(",") if f.strip())
    unknown = set(figures) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures {sorted(unknown)}; choose from {', '.join(FIGURES)}")
    args.figures = figures
    return args


def params_from(args: argparse.Namespace) -> Params:
    quick = args.quick
    figures = args.figures
    reps = args.reps or (1 if quick else 3)
    if args.profile:
        figures, reps = PROFILES[args.profile][0], 1
    return Params(
        reps=reps,
        n_state=args.n_state or (2000 if quick else 20000),
        n_notify=args.n_notify or (300 if quick else 2000),
        wrk_secs=args.wrk_secs or (3.0 if quick else 8.0),
        wrk_warmup_secs=1.0 if quick else 2.0,
        e2e_rate=args.e2e_rate,
        e2e_secs=args.e2e_secs or (3.0 if quick else 10.0),
        e2e_warmup_secs=0.5 if quick else 1.0,
        figures=figures,
        quick=quick,
    )


def env_overrides() -> dict[str, str]:
    from notifications.config import Settings as NotificationsSettings
    from orders.config import Settings as OrdersSettings
    from payments.config import Settings as PaymentsSettings

    names = {
        name.upper()
        for settings in (PaymentsSettings, OrdersSettings, NotificationsSettings)
        for name in settings.model_fields
    }
    return {k: os.environ[k] for k in sorted(names - BENCH_SETS) if k in os.environ}


class InProcessProfile:
    """pyinstrument around a block of this process (the rebuild)."""

    def __init__(self) -> None:
        from pyinstrument import Profiler

        self.profiler = Profiler(async_mode="enabled")

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.profiler.start()
        try:
            yield
        finally:
            self.profiler.stop()

    def write(self, html: Path, text: Path) -> None:
        html.write_text(self.profiler.output_html())
        text.write_text(self.profiler.output_text(unicode=True, color=False))


async def render_session(session: Path, html: Path, text: Path) -> None:
    """Render a pyinstrument session file as HTML and as text."""
    for renderer, out, extra in (("html", html, ()), ("text", text, ("--unicode", "--no-color"))):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyinstrument", "--load", str(session), "-r", renderer,
            *extra, "-o", str(out),
        )  # fmt: skip
        if await process.wait() != 0:
            raise RuntimeError(f"pyinstrument could not render {session} as {renderer}")


async def amain(args: argparse.Namespace, log_dir: Path) -> int:
    # Ctrl-C and SIGTERM cancel this task, so every finally block below stops what it started.
    # (Through the loop: with uvloop, a plain signal.signal handler waits for the next event.)
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main_task.cancel)
    params = params_from(args)
    started = time.monotonic()
    profile_process, session, in_process = None, None, None
    if args.profile:
        profile_process = PROFILES[args.profile][1]
        if profile_process is None:
            in_process = InProcessProfile()
        else:
            session = log_dir / f"profile-{args.profile}.pyisession"
    bench = Bench(
        params,
        log_dir,
        profile_process=profile_process,
        profile_session=session,
        profile_in_process=in_process,
    )
    overrides = env_overrides()
    # The tree as the run found it: read before the run draws its plots (bench/plots/*.png,
    # committed), which would otherwise count as uncommitted changes of the tree measured.
    git = report.git_facts()
    load_start = os.getloadavg()
    cores = os.cpu_count() or 1
    if load_start[0] > 0.5 * cores:
        print(
            f"bench | NOTE: the machine is busy before the start (load average "
            f"{load_start[0]:.2f} on {cores} cores): the figures will be noisy",
            flush=True,
        )
    print(
        f"bench | figures: {', '.join(params.figures)}; {params.reps} repetition(s); "
        f"N state events {params.n_state:,}, N thin events {params.n_notify:,}; "
        f"wrk -t1 -c32 {params.wrk_secs:g} s; e2e {params.e2e_rate:g}/s for "
        f"{params.e2e_secs:g} s" + (f"; PROFILING {args.profile}" if args.profile else ""),
        flush=True,
    )
    if overrides:
        print(f"bench | service settings from the environment (not defaults): {overrides}")
    print(f"bench | logs in {log_dir}", flush=True)
    try:
        await bench.start()
        redis_info = await bench.redis.info("server")
        wrk = await wrk_version() if "post" in params.figures else "not used"
        await figures.run(bench)
    finally:
        await bench.close()
    elapsed = time.monotonic() - started

    if args.profile:
        html, text = HERE / f"profile-{args.profile}.html", HERE / f"profile-{args.profile}.txt"
        if in_process is not None:
            in_process.write(html, text)
        else:
            assert session is not None
            await render_session(session, html, text)
        print(
            f"\nbench | figures measured UNDER THE PROFILER (slower than without): "
            f"{ {k: [round(v, 2) for v in vs] for k, vs in bench.samples.items()} }"
        )
        print(f"bench | profile written: {html} and {text}")
        return 0

    meta: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git,
        "machine": report.machine_facts(redis_info, wrk),
        "params": {
            "reps": params.reps,
            "n_state_events": params.n_state,
            "n_thin_events": params.n_notify,
            "wrk": f"wrk -t1 -c32 -d{round(params.wrk_secs)}s --latency -s bench/post.lua",
            "wrk_warmup_s": params.wrk_warmup_secs,
            "e2e_rate_per_s": params.e2e_rate,
            "e2e_secs": params.e2e_secs,
            "e2e_warmup_secs": params.e2e_warmup_secs,
            "figures": list(params.figures),
            "quick": params.quick,
        },
        "env_overrides": overrides,
        # Other processes on the machine share its cores with the bench's.
        "load_average_1m": {"start": load_start[0], "end": os.getloadavg()[0]},
        "elapsed_s": round(elapsed, 1),
    }
    results = report.build_results(bench.samples, dict(bench.details), bench.checks, meta)
    results.update(bench.curves)
    report.write_json(RESULTS, results)
    print()
    print(
        f"measured {meta['measured_at']} at {git['short']}"
        f"{' (+ uncommitted changes)' if git['dirty'] else ''}"
        f" on {meta['machine']['cores']} cores, Python {meta['machine']['python']}, "
        f"redis {meta['machine']['redis']}; {params.reps} repetition(s), "
        f"N={params.n_state:,} state / {params.n_notify:,} thin events; load average "
        f"{load_start[0]:.2f} at the start, {meta['load_average_1m']['end']:.2f} at the end"
    )
    print()
    print(table(results))
    failed = [c for c in bench.checks if not c["ok"]]
    print()
    print(
        f"checks: {len(bench.checks) - len(failed)} of {len(bench.checks)} passed"
        + "".join(f"\n  FAILED {c['check']}: {c['detail']}" for c in failed)
    )
    print(f"wrote {RESULTS.relative_to(HERE.parent)} in {elapsed:.0f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("redis-server") is None:
        print("bench: redis-server not found: apt-get install redis-server", file=sys.stderr)
        return 2
    if "cluster" in params_from(args).figures and shutil.which("redis-cli") is None:
        print(
            "bench: redis-cli (forms the cluster) not found: apt-get install redis-tools",
            file=sys.stderr,
        )
        return 2
    if "post" in params_from(args).figures:
        try:
            wrk_binary()
        except WrkMissing as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    ok = False
    try:
        code = uvloop.run(amain(args, log_dir))
        ok = code == 0
        return code
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nbench: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        stop_all()  # whatever is still running (an error or Ctrl-C mid-stage)
        if ok and not args.keep_logs:
            shutil.rmtree(log_dir, ignore_errors=True)
        else:
            print(f"bench: logs kept in {log_dir}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
