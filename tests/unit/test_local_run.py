"""`make run`'s helpers (scripts/local.py): what a service process gets, what is printed; and
its mail sink (scripts/mail_sink.py), a real SMTP server that keeps each mail in a file."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from aiosmtpd.smtp import SMTP

from harness import free_port
from scripts.local import masked, service_env
from scripts.mail_sink import Sink

ENVIRONMENT = {
    "ADMIN_REDIS_PASSWORD": "a" * 16,
    "PAYMENTS_REDIS_PASSWORD": "p" * 16,
    "ORDERS_REDIS_PASSWORD": "o" * 16,
    "OPERATOR_TOKEN": "t" * 16,
    "SMTP_USERNAME": "mailer",
    "SMTP_PASSWORD": "s" * 16,
    "GRAFANA_ADMIN_PASSWORD": "g" * 16,
    "LOG_LEVEL": "info",
}


def test_a_service_gets_no_redis_password_and_only_the_secrets_it_uses() -> None:
    """Failed before for payments and console: they got the operator token, the SMTP login
    and Grafana's password, which they never use."""
    assert service_env("orders", ENVIRONMENT) == {"OPERATOR_TOKEN": "t" * 16, "LOG_LEVEL": "info"}
    assert service_env("notifications", ENVIRONMENT) == {
        "OPERATOR_TOKEN": "t" * 16,
        "SMTP_USERNAME": "mailer",
        "SMTP_PASSWORD": "s" * 16,
        "LOG_LEVEL": "info",
    }
    for name in ("payments", "console", "redis", "mail"):
        assert service_env(name, ENVIRONMENT) == {"LOG_LEVEL": "info"}, name


def test_a_url_is_printed_without_its_password() -> None:
    assert masked("redis://orders:s3cr3tpassword12@127.0.0.1:6380/0") == (
        "redis://orders:***@127.0.0.1:6380/0"
    )
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


async def test_the_mail_sink_keeps_each_mail_and_tells_of_it_in_one_line(tmp_path: Path) -> None:
    lines: list[str] = []
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Sink(tmp_path, lines.append)), "127.0.0.1", port)
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "n@example.com", "c@example.com", "Paid"
    mail["Message-ID"] = "<e-1@example.com>"
    mail.set_content("Payment of 25.00 EUR received.")
    async with server:
        for _ in range(2):  # the second time: a duplicate, recognisable by its Message-ID
            await aiosmtplib.send(mail, hostname="127.0.0.1", port=port, start_tls=False)
    first, second = tmp_path / "e-1@example.com.eml", tmp_path / "e-1@example.com-2.eml"
    assert first.read_bytes() == second.read_bytes()
    assert b"Payment of 25.00 EUR received." in first.read_bytes()
    told = "to c@example.com  'Paid'  <e-1@example.com> -> "  # (tmp_path is not below the cwd)
    assert lines == [f"{told}{first}", f"{told}{second}  (again: the same Message-ID as before)"]
