"""What payments needs of the outside world: an event store, and a store for its snapshots.

Both are eventkit's ports (small Protocols), since every event-sourced service needs the same
two; they are named here so that the service layer (commands.py, history/) says what it
depends on without naming an implementation. adapters.py builds the Redis ones;
eventkit.testing has the in-memory ones; tests/contracts runs both kinds through the same
tests.
"""

from eventkit import EventStore, SnapshotStore

__all__ = ["EventStore", "SnapshotStore"]
