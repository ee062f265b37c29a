"""Test helpers in one place: the local harness (real Redis servers, real service processes,
polling), fakes of the services' ports, fault traffic and its checks."""

from harness import (
    RedisCluster,
    RedisServer,
    ServiceProcess,
    eventually,
    eventually_async,
    free_port,
)
from tests.helpers.consumers import Recorder, running
from tests.helpers.faults import Traffic, check_exactly_once
from tests.helpers.stack import Stack

__all__ = [
    "Recorder",
    "RedisCluster",
    "RedisServer",
    "ServiceProcess",
    "Stack",
    "Traffic",
    "check_exactly_once",
    "eventually",
    "eventually_async",
    "free_port",
    "running",
]
