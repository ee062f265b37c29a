"""Settings, read from the environment (variable names are the field names, upper-cased)."""

from __future__ import annotations

from servicekit import ConsumerSettings


class Settings(ConsumerSettings):
    port: int = 8002
