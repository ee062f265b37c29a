"""How eventkit reads Redis's errors (eventkit.connection): what passes by itself (wait, then
retry; HTTP 503) and what needs an operator (stop; exit with the reason). The replies are built
by redis-py's own parser, as they reach the code; the cluster client's own errors as it raises
them."""

from __future__ import annotations

import pytest
from eventkit import misconfigured, unavailable
from redis import exceptions
from redis._parsers.base import BaseParser
from redis.asyncio.client import Pipeline


def reply(text: str) -> exceptions.RedisError:
    error = BaseParser.parse_error(text)
    assert isinstance(error, exceptions.RedisError)
    return error


@pytest.mark.parametrize(
    "text",
    [
        "CLUSTERDOWN The cluster is down",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        "MOVED 3999 127.0.0.1:6381",
        "ASK 3999 127.0.0.1:6381",
        "UNBLOCKED force unblock from blocking operation, instance state changed",
        "READONLY You can't write against a read only replica.",
        "LOADING Redis is loading the dataset in memory",
        "NOREPLICAS Not enough good replicas to write.",
        "NOSCRIPT No matching script. Please use EVAL.",
    ],
)
def test_what_a_failover_answers_passes_by_itself(text: str) -> None:
    error = reply(text)
    assert unavailable(error), text
    assert not misconfigured(error), text
    # The same reply to a command of a pipeline (a write and its WAIT: eventkit.replication),
    # as redis-py's pipeline rewrites it. Failed before for the replies redis-py maps to no
    # class of its own (found by make chaos: UNBLOCKED to a WAIT after a failover was a 500).
    in_pipeline = in_a_pipeline(text)
    assert unavailable(in_pipeline), str(in_pipeline)
    assert not misconfigured(in_pipeline), str(in_pipeline)


def in_a_pipeline(text: str) -> exceptions.RedisError:
    """``text`` as an error reply to the second command of a pipeline, as redis-py raises it."""
    error = reply(text)
    Pipeline.annotate_exception(None, error, 2, ["WAIT", 1, 100])
    assert str(error).startswith("Command # 2 (WAIT 1 100) of pipeline caused error: (")
    return error


@pytest.mark.parametrize(
    "text",
    [
        "NOPERM this user has no permissions to run the 'xadd' command",
        "WRONGPASS invalid username-password pair or user is disabled.",
        "ERR This instance has cluster support disabled",
        "ERR unknown command 'XAUTOCLAIM', with args beginning with: ",
    ],
)
def test_what_no_retry_fixes_is_misconfigured(text: str) -> None:
    for error in (reply(text), in_a_pipeline(text)):
        assert misconfigured(error), str(error)
        assert not unavailable(error), str(error)


def wrapped(message: str, node_reply: BaseException) -> exceptions.RedisClusterException:
    """A cluster client's error, raised ``from`` what the last node answered (as it does)."""
    error = exceptions.RedisClusterException(message)
    error.__cause__ = node_reply
    return error


def test_a_cluster_that_no_node_of_answers_is_unavailable() -> None:
    lost = wrapped("Redis Cluster cannot be connected. …", exceptions.ConnectionError("refused"))
    assert unavailable(lost)
    assert not misconfigured(lost)


def test_a_cluster_that_refuses_the_login_is_misconfigured() -> None:
    refused = wrapped("Redis Cluster cannot be connected. …", reply("WRONGPASS invalid"))
    assert misconfigured(refused)
    assert not unavailable(refused)
    not_a_cluster = exceptions.RedisClusterException("Cluster mode is not enabled on this node")
    not_a_cluster.__context__ = reply("ERR This instance has cluster support disabled")
    outer = exceptions.RedisClusterException("Redis Cluster cannot be connected. …")
    outer.__cause__ = not_a_cluster
    assert misconfigured(outer)
    assert not unavailable(outer)


def test_a_cluster_client_s_own_transient_errors_are_unavailable() -> None:
    assert unavailable(exceptions.SlotNotCoveredError("slot 42 is not covered"))
    assert unavailable(exceptions.ClusterError("TTL exhausted."))
    assert unavailable(exceptions.RedisClusterException("All slots are not covered after …"))


def test_a_call_the_code_got_wrong_is_neither() -> None:
    """Keys of two slots in one call: a bug to fix, not an outage to wait out."""
    crossed = exceptions.RedisClusterException("Keys in request don't hash to the same slot")
    assert not unavailable(crossed)
    assert not misconfigured(crossed)
    assert not unavailable(reply("WRONGTYPE Operation against a key holding the wrong kind"))
