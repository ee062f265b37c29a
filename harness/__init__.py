"""The local harness: private redis-servers, services as real processes, polling for a condition.

Used by the tests (tests/helpers re-exports it) and by the benchmarks (bench/), which must not
import the tests.
"""

from harness.polling import eventually, eventually_async
from harness.processes import ROOT, ServiceProcess, free_port
from harness.redis_cluster import Admin, RedisCluster
from harness.redis_server import RedisServer
from harness.settings import FAST_CONSUMERS

__all__ = [
    "FAST_CONSUMERS",
    "ROOT",
    "Admin",
    "RedisCluster",
    "RedisServer",
    "ServiceProcess",
    "eventually",
    "eventually_async",
    "free_port",
]
