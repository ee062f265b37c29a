"""Contract tests: each test runs once per implementation of a port, the in-memory fake and the
Redis original, so the fakes that unit tests rely on cannot drift from what the services get.

The Redis runs are marked ``redis`` (``make test-quick`` leaves them out)."""

from __future__ import annotations

import pytest

IMPLEMENTATIONS = [pytest.param("memory"), pytest.param("redis", marks=pytest.mark.redis)]
