"""Headless Chromium for the console's browser tests: Debian's own (/usr/bin/chromium), driven
by Playwright. Playwright's browser download is never used (`playwright install` is not
needed, and cannot reach its servers from CI); .ci/run installs the Debian package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
    "--disable-gpu",
    "--disable-background-networking",  # no calls home: the page must work offline
    "--disable-component-update",
    "--no-first-run",
]

# Skipped only where the browser is missing, and saying so; CI installs it (.ci/run).
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
