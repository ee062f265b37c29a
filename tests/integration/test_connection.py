"""eventkit's connection to Redis, on the event loop the services run (uvloop, as uvicorn
does): a command written while another task closes its connection is an outage like any
other (a ConnectionError, which every loop of ours waits out), not the event loop's own error.

This is what a cluster client does in a failover: when one node fails it closes every
connection, also those other tasks are using. The whole system riding through that is
tests/faults/test_cluster_failover.py; here is the race itself, made deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop
from eventkit import connect, unavailable
from eventkit.connection import ProjectConnection
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers import RedisServer


async def write_while_closing(client: Redis) -> BaseException:
    """Send PING on a connection while another task is closing it, and return what that raised."""
    await client.ping()
    connection = await client.connection_pool.get_connection()
    try:
        closing = asyncio.create_task(connection.disconnect())
        # The closer runs up to its first wait: the transport is closed, and it waits for the
        # close to finish, so the connection still looks connected to the command.
        await asyncio.sleep(0)
        try:
            await connection.send_command("PING")
        except Exception as exc:  # what it is, is what the tests below look at
            error: BaseException = exc
        else:
            pytest.fail("a PING on a closed connection succeeded")
        await closing
        return error
    finally:
        await client.connection_pool.release(connection)
        await client.aclose()


def run(scenario: Callable[[], Coroutine[Any, Any, BaseException]]) -> BaseException:
    """``scenario`` on uvloop, the loop the services run on (a test's own loop is asyncio's)."""
    return uvloop.run(scenario())


def test_the_project_connection_turns_a_write_on_a_closed_connection_into_an_outage(
    redis_server: RedisServer,
) -> None:
    error = run(lambda: write_while_closing(connect(redis_server.url)))
    assert isinstance(error, RedisConnectionError), repr(error)
    assert unavailable(error)  # so the consumer waits and retries, and HTTP answers 503


def test_redis_py_alone_lets_the_event_loops_error_out(redis_server: RedisServer) -> None:
    """Why ProjectConnection guards its writes: redis-py 8.1.0's own connection raises uvloop's
    RuntimeError, which is no RedisError (redis/redis-py#4287). When a release fixes it, this
    test fails: then the guard can go."""
    stock = Redis.from_url(redis_server.url, socket_timeout=10.0, connection_class=Connection)
    error = run(lambda: write_while_closing(stock))
    assert isinstance(error, RuntimeError), repr(error)
    assert "closed" in str(error)


def test_connect_gives_a_client_the_project_connection(redis_server: RedisServer) -> None:
    client = connect(redis_server.url)
    assert client.connection_pool.connection_class is ProjectConnection
