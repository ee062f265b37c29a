"""Operator endpoints: list dead letters and re-drive one, behind a bearer token.

They show event payloads and re-run handlers, so they are not for anyone who can reach the
port: ``OPERATOR_TOKEN`` (a secret, from the environment) must be sent as
``Authorization: Bearer <token>``. Without a configured token the endpoints do not exist (404);
without the header, 401; with another token, 403.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated

from eventkit import DeadLetter, InvalidEvent, RetryLater, list_dead_letters, redrive
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr
from redis import exceptions as redis_errors

from servicekit.health import consumers_of
from servicekit.problems import problem_responses

# Nineteen digits a part: always below 2**64, so every id the pattern admits is one Redis can
# look up (a 20-digit part may overflow, which Redis refuses as an invalid id).
EntryId = Annotated[
    str,
    Path(
        pattern=r"^\d{1,19}-\d{1,19}$",
        max_length=39,
        description="a stream entry id, <milliseconds>-<sequence>",
        examples=["1795689293162-0"],
    ),
]
bearer = HTTPBearer(auto_error=False, description="OPERATOR_TOKEN")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class DeadLetterView(BaseModel):
    id: str
    original_id: str
    source: str
    group: str
    consumer: str
    error: str
    deliveries: int
    dead_lettered_at: str
    fields: dict[str, str]  # the original entry (bytes that are not UTF-8 shown as U+FFFD)

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        fields = {
            k.decode(errors="replace"): v.decode(errors="replace") for k, v in letter.fields.items()
        }
        return cls(**{**letter.__dict__, "fields": fields})


def operator_only(token: SecretStr | None) -> Callable[[Credentials], None]:
    """A dependency that lets only the operator through: ``Depends(operator_only(token))`` on a
    router or a route. A service's own operator endpoints use it too, so that every one of them
    answers as the dead-letter endpoints do (404 when off, 401, 403)."""

    def operator(credentials: Credentials) -> None:
        if token is None:
            raise HTTPException(404, "operator endpoints are off: OPERATOR_TOKEN is not set")
        if credentials is None:
            raise HTTPException(
                401,
                "send the operator token: Authorization: Bearer <OPERATOR_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        expected = token.get_secret_value().encode()
        if not secrets.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(403, "that is not the operator token")

    return operator


def operator_router(token: SecretStr | None) -> APIRouter:
    """The dead-letter endpoints, answering only to ``token``."""
    router = APIRouter(
        prefix="/dead-letters", tags=["operations"], dependencies=[Depends(operator_only(token))]
    )

    @router.get("", responses=problem_responses(401, 403, 404, 422, 503))
    async def list_letters(
        request: Request, count: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[DeadLetterView]:
        """The oldest dead letters first, with the error and the original fields."""
        letters = []
        for consumer in consumers_of(request):
            found = await list_dead_letters(consumer.redis, consumer.dead_letters, count)
            letters += [DeadLetterView.of(letter) for letter in found]
        return letters

    @router.post(
        "/{dead_letter_id}/redrive", responses=problem_responses(401, 403, 404, 409, 422, 503)
    )
    async def redrive_letter(request: Request, dead_letter_id: EntryId) -> DeadLetterView:
        """Handle a dead letter again (after a fix); on success it leaves the dead letters."""
        for consumer in consumers_of(request):
            try:
                letter = await redrive(
                    consumer.redis,
                    consumer.dead_letters,
                    dead_letter_id,
                    consumer.handlers,
                    consumer.confirm_effects,
                )
            except KeyError:
                continue  # not this consumer's
            except InvalidEvent as exc:
                raise HTTPException(422, f"still not a valid event: {exc}") from exc
            except RetryLater as exc:
                raise HTTPException(503, f"a dependency is unavailable: {exc}") from exc
            except redis_errors.RedisError:
                raise  # the app's error handler answers (503 while Redis is unavailable)
            except Exception as exc:  # the handler failed again: say how, keep the letter
                detail = f"handler failed again: {type(exc).__name__}: {exc}"
                raise HTTPException(409, detail) from exc
            return DeadLetterView.of(letter)
        raise HTTPException(404, f"dead letter {dead_letter_id} not found")

    return router
