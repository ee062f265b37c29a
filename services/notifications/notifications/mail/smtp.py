"""The outgoing mail server (ports.MailSender) over SMTP."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage

import aiosmtplib
from eventkit import ConfigurationFault, Rejected, RetryLater

log = logging.getLogger(__name__)


class SmtpMailSender:
    """ports.MailSender over SMTP (aiosmtplib), one connection per mail.

    | the server…                               | the message…                        |
    |-------------------------------------------|-------------------------------------|
    | accepts it (250 after DATA)               | is done                             |
    | answers 4xx, is unreachable, too slow     | is retried (RetryLater), then failed|
    | refuses our login                         | is retried (ConfigurationFault)     |
    | answers 5xx (no such mailbox, refused)    | fails at once (Rejected)            |
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password, self.timeout_s = username, password, timeout_s

    async def send(self, mail: EmailMessage) -> None:
        try:
            # A deadline for the whole exchange: aiosmtplib's timeout bounds each read, so a
            # server that answers one line at a time would otherwise hold the worker for ever.
            async with asyncio.timeout(self.timeout_s):
                await aiosmtplib.send(
                    mail,
                    hostname=self.host,
                    port=self.port,
                    start_tls=self.starttls,
                    username=self.username,
                    password=self.password,
                    timeout=self.timeout_s,
                )
        except TimeoutError as exc:  # aiosmtplib's own timeouts are TimeoutErrors too
            raise RetryLater(f"SMTP server did not answer within {self.timeout_s}s") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise ConfigurationFault(f"SMTP server refused our login: {exc}") from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise refused(min(r.code for r in exc.recipients), str(exc.recipients[0])) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise refused(exc.code, exc.message) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:  # refused, reset, closed
            # What, not where (it reaches /ready and the failed mail's receipt): the log says.
            log.warning("SMTP server unreachable: %s: %s", type(exc).__name__, exc)
            raise RetryLater(f"SMTP server unreachable ({type(exc).__name__})") from exc


def refused(code: int, message: str) -> Exception:
    """An SMTP reply that is not a success: 5xx is final, anything else worth another try."""
    if 500 <= code < 600:
        return Rejected(f"SMTP server refused the mail: {code} {message}")
    return RetryLater(f"SMTP server answered {code} {message}")
