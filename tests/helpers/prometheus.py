"""A real Prometheus server for tests, and the dashboard's queries as Grafana would send them.

Debian's `prometheus` package brings the server and promtool. Where it is missing the tests
that need it skip, except in CI, whose .ci/run installs it: there a missing tool fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import ROOT, eventually, free_port
from harness.processes import terminate

DASHBOARD = ROOT / "observability" / "grafana" / "dashboards" / "event-driven.json"
# Grafana's variables, as Grafana would expand them for a 15 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "1m"}


def tool(name: str) -> str:
    """A binary of Debian's `prometheus` package (skipped where missing, failed in CI)."""
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not installed (Debian/Ubuntu: sudo apt-get install -y prometheus)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found


class PrometheusServer:
    """``prometheus`` on a free loopback port, with the given configuration (and storage)."""

    def __init__(self, directory: Path, config: str, storage: Path | None = None) -> None:
        self.directory = directory
        self.storage = storage or directory / "data"
        self.config = directory / "prometheus.yml"
        self.config.write_text(config)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PrometheusServer:
        log = (self.directory / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.storage}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def ready_or_exited() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                return True  # no use waiting: the assertion below shows why
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(ready_or_exited, timeout=30, what="prometheus to be ready")
        assert self.process.poll() is None, (self.directory / "prometheus.log").read_text()
        return self

    def query(self, expr: str, **params: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/v1/query", params={"query": expr, **params})

    def stop(self) -> None:
        terminate(self.process)


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def panels() -> list[dict[str, Any]]:
    """Every panel, those inside a collapsed row included."""
    found = []
    for panel in dashboard()["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def targets() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{panel['title']} {target['refId']}", target)
        for panel in panels()
        for target in panel.get("targets", [])
    ]


def expression(target: dict[str, Any]) -> str:
    """The target's PromQL, with Grafana's variables expanded as Grafana would."""
    expr = str(target["expr"])
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a variable the test does not know: {expr}"
    return expr
