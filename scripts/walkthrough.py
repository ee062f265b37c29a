"""How `make demo` talks: numbered steps, labelled values, each HTTP call shown with its answer."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def step(number: int, title: str, pattern: str = "") -> None:
    print(f"\n{BOLD}{number}. {title}{RESET}" + (f"  {DIM}[{pattern}]{RESET}" if pattern else ""))


def show(label: str, value: Any) -> None:
    text = json.dumps(value, indent=2) if not isinstance(value, str) else value
    print(f"   {label}:\n" + "\n".join(f"     {line}" for line in text.splitlines()))


def call(method: str, url: str, *, expect: int | None = None, **kwargs: Any) -> Any:
    """The answer's JSON; exits unless the status is 2xx (or ``expect``, when given)."""
    response = httpx.request(method, url, timeout=10, **kwargs)
    print(f"   {DIM}{method} {response.request.url} -> {response.status_code}{RESET}")
    if expect is None:
        response.raise_for_status()
    elif response.status_code != expect:
        sys.exit(f"   expected {expect}, got {response.status_code}: {response.text}")
    return response.json()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    sys.exit(f"   gave up waiting for {what} after {timeout}s: is every service running?")
