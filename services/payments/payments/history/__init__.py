"""A payment's past: its events, and its state at any point of them.

Event sourcing keeps no state, only events; everything here is a read of them:

- ``reads.py``: :class:`History`, what the commands load and the API reads: the state now
  (folded from the latest snapshot and the events after it), after version N, at a moment;
  the events by version range. Every read goes through the upcasters.
- ``upcasters.py``: each stored event's data brought up to the version the code folds.
- ``api.py``: the HTTP side of it, ``GET /payments/{id}`` (now, ``?version=``, ``?at=``) and
  ``GET /payments/{id}/events``.
"""

from payments.history.reads import (
    History,
    NoSuchVersion,
    NotYetReceived,
    PaymentNotFound,
    decode,
    fold,
    stream_of,
)

__all__ = [
    "History",
    "NoSuchVersion",
    "NotYetReceived",
    "PaymentNotFound",
    "decode",
    "fold",
    "stream_of",
]
