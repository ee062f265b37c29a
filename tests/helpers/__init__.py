"""Test helpers in one place: real Redis servers, real service processes, polling."""

from tests.helpers.consumers import Recorder, running
from tests.helpers.faults import Traffic, check_exactly_once
from tests.helpers.polling import eventually, eventually_async
from tests.helpers.processes import ServiceProcess, free_port
from tests.helpers.redis_server import RedisServer
from tests.helpers.stack import Stack

__all__ = [
    "Recorder",
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
