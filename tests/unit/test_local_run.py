"""`make run`'s helpers (scripts/local.py): what a service process gets, what is printed."""

from __future__ import annotations

from scripts.local import masked, service_env


def test_a_service_gets_no_redis_password_but_its_own_url() -> None:
    environment = {
        "ADMIN_REDIS_PASSWORD": "a" * 16,
        "PAYMENTS_REDIS_PASSWORD": "p" * 16,
        "ORDERS_REDIS_PASSWORD": "o" * 16,
        "OPERATOR_TOKEN": "t" * 16,
        "LOG_LEVEL": "info",
    }
    env = service_env("orders", environment)
    assert not any(key.endswith("_REDIS_PASSWORD") for key in env)
    assert env == {"OPERATOR_TOKEN": "t" * 16, "LOG_LEVEL": "info"}


def test_a_url_is_printed_without_its_password() -> None:
    assert masked("redis://orders:s3cr3tpassword12@127.0.0.1:6380/0") == (
        "redis://orders:***@127.0.0.1:6380/0"
    )
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
