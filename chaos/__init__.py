"""Chaos runs (issue 26): a real deployment under concurrent clients while a seeded nemesis
injects faults; a history of every operation; a checker that decides afterwards whether an
invariant broke. ``python -m chaos --help``; docs/chaos.md.

Nothing in services/ or shared/ imports this package; it reads the system black-box (the
services' HTTP APIs and the documented Redis keys), never the services' modules.
"""
