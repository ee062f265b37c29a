"""``python -m chaos``: randomized faults under load, a history, a checker (docs/chaos.md).

python -m chaos run --seed 1 --duration 60            # standalone Redis (exit 1 on any anomaly)
python -m chaos run --seed 3 --cluster                # the six-node Redis Cluster
python -m chaos run --seed 2 --compose                # the Docker stack (docker-compose.yml)
python -m chaos check --self-test                     # the checker must catch planted anomalies
python -m chaos check .chaos/<run>                    # judge a run's saved history and state again
python -m chaos matrix --seeds 1-20 --duration 30     # seeds x {standalone, cluster}: a table
python -m chaos matrix --merge A/matrix.json B/matrix.json   # one table of two matrices
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from chaos import matrix, selftest
from chaos.checker import check
from chaos.history import load
from chaos.run import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="one run: start, attack, heal, check, report")
    go.add_argument("--seed", type=int, default=1)
    go.add_argument("--duration", type=float, default=60.0, help="seconds of load and faults")
    go.add_argument("--rate", type=float, default=0.25, help="faults per second, on average")
    go.add_argument("--clients", type=int, default=6)
    go.add_argument("--cluster", action="store_true", help="on the local six-node Redis Cluster")
    go.add_argument(
        "--compose",
        action="store_true",
        help="on the Docker stack (docker-compose.yml; needs a Docker engine): the engine's "
        "faults on its containers",
    )
    go.add_argument("--out", type=Path, default=Path(".chaos"))
    go.add_argument("--kinds", help="only these fault kinds, e.g. drop,cut (docs/chaos.md)")
    go.add_argument("--settle", type=float, default=90.0, help="seconds to settle at the end")
    go.add_argument(
        "--no-aof",
        action="store_true",
        help="Redis without its append-only file: a system that loses acknowledged "
        "writes when Redis is killed, to see a run find it (a demonstration)",
    )
    go.add_argument(
        "--console",
        type=int,
        nargs="?",
        const=8004,
        metavar="PORT",
        help="also run the console (default port 8004) to watch the run",
    )
    judge = commands.add_parser("check", help="the checker alone")
    judge.add_argument("run_dir", nargs="?", type=Path)
    judge.add_argument("--self-test", action="store_true")
    table = commands.add_parser("matrix", help="seeds x deployments; a results table")
    table.add_argument("--seeds", default="1-20", help="e.g. 1-20 or 1,4,9")
    table.add_argument("--duration", type=float, default=30.0)
    table.add_argument("--rate", type=float, default=0.25, help="faults per second, on average")
    table.add_argument("--clients", type=int, default=6)
    table.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="MATRIX_JSON",
        help="print one table of these matrices' runs (one per deployment, "
        "run side by side), and run nothing",
    )
    table.add_argument("--deployments", default="standalone,cluster")
    table.add_argument("--out", type=Path, default=Path(".chaos"))
    args = parser.parse_args(argv)
    if args.command == "run":
        if args.compose and (args.cluster or args.console or args.no_aof):
            parser.error(
                "--compose: the stack as docker-compose.yml says (no --cluster, "
                "--console or --no-aof)"
            )
        options = Options(
            args.seed, args.duration, args.rate, args.clients, args.cluster, args.out, args.console
        )
        options.compose = args.compose
        if args.kinds:
            options.kinds = set(args.kinds.split(","))
        options.settle, options.aof = args.settle, not args.no_aof
        try:
            summary = asyncio.run(run(options))
        except (KeyboardInterrupt, asyncio.CancelledError):
            print("chaos: interrupted; every fault healed, every process stopped", flush=True)
            return 130
        return 1 if summary["anomalies"] else 0
    if args.command == "check":
        if args.self_test:
            return selftest.main()
        if args.run_dir is None:
            parser.error("check: a run's directory, or --self-test")
        history = load(args.run_dir / "history.jsonl")
        state = json.loads((args.run_dir / "state.json").read_text())
        anomalies = check(history, state)
        for anomaly in anomalies:
            print(f"{anomaly.kind}: {anomaly.detail}")
        print(f"{len(anomalies)} anomalies")
        return 1 if anomalies else 0
    if args.merge:
        rows = [row for path in args.merge for row in json.loads(path.read_text())]
        print(
            matrix.table(sorted(rows, key=lambda r: (r["seed"], r["deployment"] != "standalone")))
        )
        return 0
    plan = matrix.Plan(args.duration, args.rate, args.clients)
    return matrix.main(args.seeds, plan, args.deployments.split(","), args.out)


if __name__ == "__main__":
    sys.exit(main())
